// Runs every (driver, trial) of trials.mjs in its own fresh `node` process, plus the GEMM roof (before, between
// and after them; the best measurement counts), then
// writes bench/results/<date>.json and the "Cross-encoder reranking (issue #2)" section of docs/benchmark.md.
//   node bench/cross-encoder/run.mjs [--only winnow,ort-tokenizers] [--no-docs]
import { spawnSync, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { trials, drivers, common } from './trials.mjs';
import { loadCorpus, makePairs, makeRankSet } from '../pairs.mjs';
import { pct } from '../docs.mjs';
import { encoderFlops, encoderShape } from '../flops.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1].split(',') : drivers;
const writeDocs = !args.includes('--no-docs');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-bench-'));
const loadavg = () => os.loadavg()[0];

const mean = (a) => a.reduce((s, x) => s + x, 0) / a.length;

// ---- data: pairs, token lengths, padding --------------------------------------------------------------
const modelDir = path.join(here, '..', 'models', common.model);
if (!fs.existsSync(path.join(modelDir, 'onnx', 'model.onnx'))) {
  console.error(`model missing: ${modelDir}. Run: node prepare.mjs`);
  process.exit(1);
}
const config = JSON.parse(fs.readFileSync(path.join(modelDir, 'config.json'), 'utf8'));
const corpus = loadCorpus();
const pairs = makePairs(corpus, common.pairs, common.perQuery);
const rankSet = makeRankSet(corpus, common.rankDocs);
const { Tokenizer } = require('tokenizers');
const tok = Tokenizer.fromFile(path.join(modelDir, 'tokenizer.json'));
tok.setTruncation(common.maxLength, { strategy: 'OnlySecond' });
const lengths = async (ps) => Promise.all(ps.map(([a, b]) => tok.encode(a, b).then((e) => e.getIds().length)));
const pairLens = await lengths(pairs);
const rankLens = await lengths(rankSet.docs.map((d) => [rankSet.query, d]));

function padding(lens, batch) {
  const padded = (ls) => {
    const per = [];
    for (let i = 0; i < ls.length; i += batch) per.push(Math.max(...ls.slice(i, i + batch)));
    const tokens = per.reduce((s, L, b) => s + L * Math.min(batch, ls.length - b * batch), 0);
    return { meanPaddedLength: mean(per), paddedTokens: tokens };
  };
  const real = lens.reduce((s, x) => s + x, 0);
  const inOrder = padded(lens);
  const sorted = padded([...lens].sort((x, y) => x - y));
  return { meanTokens: real / lens.length, maxTokens: Math.max(...lens), realTokens: real, inputOrder: inOrder, lengthSorted: sorted };
}
const pad = { pairs: padding(pairLens, common.batch), rank: padding(rankLens, common.batch) };

// ---- FLOPs the pairs need (no padding) -------------------------------------------------------------------
const shape = encoderShape(config);
const { h, ffn } = shape;
const pairFlops = encoderFlops(shape, pairLens);
const need = { pairs: pairFlops.total, rank: encoderFlops(shape, rankLens).total, linearShare: pairFlops.linearShare };

// ---- roof: GEMM microbenchmark in its own process, before, between and after the model runs -----------------
// This machine's speed drifts between processes minutes apart, so one roof measurement can be far off the speed the
// model runs saw; the roof is the best of the measurements (per kind), and all of them are kept in the results. Each
// measurement tries two row counts: batch x mean padded length, and 1,024 (the padded-token budget Winnow's CPU
// batches keep to, where the matrices stay in cache and the GEMMs run faster).
const M = Math.round(common.batch * pad.pairs.inputOrder.meanPaddedLength / 32) * 32; // representative rows
const Ms = [...new Set([1024, M])];
const roofRuns = [];
function measureRoof(when) {
  for (const m of Ms) {
    console.log(`roof (${when}): MatMul microbenchmark, M=${m}, ${common.threads} threads (load ${loadavg().toFixed(2)})`);
    const roofFile = path.join(tmp, `roof-${roofRuns.length}.json`);
    const rr = spawnSync(process.execPath, [path.join(here, '..', 'roof.mjs'), common.threads, m, h, ffn, roofFile], { stdio: 'inherit' });
    if (rr.status !== 0) throw new Error('roof benchmark failed');
    const r = { when, ...JSON.parse(fs.readFileSync(roofFile, 'utf8')) };
    for (const s of r.shapes) console.log(`  ${s.kind} ${s.shape}: ${s.ms.toFixed(2)} ms, ${s.gflops.toFixed(1)} GFLOP/s`);
    console.log(`  layer mix: fp32 ${r.mix.fp32.toFixed(1)} GFLOP/s, int8 ${r.mix.int8.toFixed(1)} GOP/s`);
    roofRuns.push(r);
  }
}
measureRoof('before the runs');

// ---- drivers -----------------------------------------------------------------------------------------
const winnowBuilt = fs.existsSync(path.join(root, 'build', 'Release', 'winnow.node')) && fs.existsSync(path.join(root, 'dist', 'cjs', 'index.js'));
const runs = [];
// --only: keep the other drivers' runs from today's results file (one table, measured in separate invocations)
const previous = path.join(here, '..', 'results', `${new Date().toISOString().slice(0, 10)}.json`);
if (only !== drivers && fs.existsSync(previous)) {
  for (const r of JSON.parse(fs.readFileSync(previous, 'utf8')).runs) if (!only.includes(r.driver) && r.scores) runs.push({ ...r, reused: true });
}
for (const trial of trials) {
  for (const d of drivers.filter((x) => only.includes(x))) {
    if (d === 'winnow' && !winnowBuilt) {
      console.log(`${trial.name} / ${d}: skipped (build/Release/winnow.node or dist/ missing: npm run build at the root)`);
      runs.push({ driver: d, trial: trial.name, skipped: 'not built' });
      continue;
    }
    const out = path.join(tmp, `${d}-${trial.file}.json`);
    const load0 = loadavg();
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [path.join(here, 'worker.mjs'), d, trial.name, out], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 600_000 });
    if (r.status !== 0 || !fs.existsSync(out)) {
      console.log(`${trial.name} / ${d}: FAILED (exit ${r.status ?? r.signal})`);
      runs.push({ driver: d, trial: trial.name, failed: `exit ${r.status ?? r.signal}` });
      continue;
    }
    const res = JSON.parse(fs.readFileSync(out, 'utf8'));
    res.loadavg = [load0, loadavg()];
    res.wallS = (Date.now() - t0) / 1000;
    res.pairsPerS = trial.pairs / (pct(res.pairMs, 50) / 1000);
    res.rankMedianMs = pct(res.rankMs, 50);
    res.rankP90Ms = pct(res.rankMs, 90);
    runs.push(res);
    console.log(`${trial.name} / ${res.name}: ${res.pairsPerS.toFixed(1)} pairs/s, rank median ${res.rankMedianMs.toFixed(0)} ms, p90 ${res.rankP90Ms.toFixed(0)} ms (load ${res.loadavg.map((x) => x.toFixed(1)).join('->')}, ${res.wallS.toFixed(0)} s)`);
  }
  measureRoof(`after ${trial.name}`);
}
const best = (kind) => roofRuns.reduce((b, r) => (r.mix[kind] > b.mix[kind] ? r : b));
const roof = {
  ...roofRuns[0],
  shapes: [...best('fp32').shapes.filter((x) => x.kind === 'fp32'), ...best('int8').shapes.filter((x) => x.kind === 'int8')],
  mix: { fp32: best('fp32').mix.fp32, int8: best('int8').mix.int8 },
  M: best('fp32').M,
  Mint8: best('int8').M,
  Ms,
  measurements: roofRuns.map((r) => ({ when: r.when, M: r.M, fp32: r.mix.fp32, int8: r.mix.int8 })),
};
console.log(`roof: best of ${roofRuns.length}: fp32 ${roof.mix.fp32.toFixed(1)} GFLOP/s (range ${Math.min(...roofRuns.map((r) => r.mix.fp32)).toFixed(1)}-${roof.mix.fp32.toFixed(1)}), int8 ${roof.mix.int8.toFixed(1)} GOP/s`);

runs.sort((a, b) => trials.findIndex((t) => t.name === a.trial) - trials.findIndex((t) => t.name === b.trial) || drivers.indexOf(a.driver) - drivers.indexOf(b.driver));

// ---- parity: same scores from every implementation ----------------------------------------------------------
const maxAbs = (a, b) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
const parity = [];
for (const trial of trials) {
  const ok = runs.filter((r) => r.trial === trial.name && r.scores);
  const ref = ok.find((r) => r.driver === 'ort-tokenizers') ?? ok[0];
  for (const r of ok) {
    if (r === ref) continue;
    const d = maxAbs(r.scores, ref.scores);
    r.maxAbsDiffVsRef = d;
    const sameTop = JSON.stringify(r.rankTop10) === JSON.stringify(ref.rankTop10);
    parity.push({ trial: trial.name, driver: r.driver, ref: ref.driver, maxAbsDiff: d, sameRankTop10: sameTop });
    console.log(`parity ${trial.name}: ${r.driver} vs ${ref.driver}: max |Δscore| over ${r.scores.length} pairs = ${d.toExponential(2)}, rank top-10 ${sameTop ? 'identical' : 'differs'}`);
  }
}
for (const d of drivers) {
  const a = runs.find((r) => r.driver === d && r.trial === trials[0].name && r.scores);
  const b = runs.find((r) => r.driver === d && r.trial === trials[1]?.name && r.scores);
  if (a && b) console.log(`int8 vs fp32 (${d}): max |Δscore| = ${maxAbs(a.scores, b.scores).toFixed(3)}`);
}

// ---- environment, results file, docs --------------------------------------------------------------------
const lscpu = execFileSync('lscpu', { encoding: 'utf8' });
const cpuField = (k) => (lscpu.match(new RegExp(`^${k}:\\s*(.+)$`, 'm')) || [])[1]?.trim();
const flags = cpuField('Flags') || '';
const date = new Date().toISOString().slice(0, 10);
const env = {
  date,
  machine: `${cpuField('Model name')}, ${cpuField('CPU\\(s\\)')} cores (${['avx512f', 'avx512_vnni', 'avx2', 'amx_int8', 'amx_bf16'].filter((f) => flags.split(' ').includes(f)).join(', ')}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}`,
  node: process.version,
  versions: Object.assign({}, ...runs.filter((r) => r.versions).map((r) => r.versions)),
  threads: common.threads,
  batch: common.batch,
};
const roofFor = (kind, f) => ({ pairsPerS: common.pairs / (f.pairs / (roof.mix[kind] * 1e9)), rankMs: (f.rank / (roof.mix[kind] * 1e9)) * 1000 });
const results = { env, trials, pairs: { corpus: corpus.dir, n: pairs.length, rankQuery: rankSet.queryId, padding: pad }, flops: need, roof, roofEstimate: { fp32: roofFor('fp32', need), int8: roofFor('int8', need) }, runs, parity };
fs.mkdirSync(path.join(here, '..', 'results'), { recursive: true });
const resultsFile = path.join(here, '..', 'results', `${date}.json`);
fs.writeFileSync(resultsFile, JSON.stringify(results, null, 1));
console.log(`results: ${path.relative(process.cwd(), resultsFile)}`);

if (writeDocs) {
  const { renderSection, replaceSection } = await import('../docs.mjs');
  const docFile = path.join(root, 'docs', 'benchmark.md');
  fs.writeFileSync(docFile, replaceSection(fs.existsSync(docFile) ? fs.readFileSync(docFile, 'utf8') : '', renderSection(results)));
  console.log(`docs: ${path.relative(process.cwd(), docFile)}`);
}
fs.rmSync(tmp, { recursive: true, force: true });
