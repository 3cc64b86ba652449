// int8 and bf16 at load (issue #31), side by side in one run: pairs/s of a cross-encoder as Winnow runs it in fp32, with
// quantize: 'int8', with dtype: 'bf16' (winnow-bf16), on the folder's model_quantized.onnx, and as transformers.js runs fp32 and q8; then, against
// Winnow fp32 on the same pairs, the fraction of queries whose top 10 is identical (same documents, same order)
// and the distribution of |score - fp32 score|. Each configuration runs in a fresh `node` process.
// --model e5-small: a SentenceEncoder instead, timed in texts/s over the pairs' queries ("query: ") and documents
// ("passage: "), each pair scored by the cosine of its two embeddings (transformers.js: feature-extraction, mean
// pooling, normalized; the folder has no q8 file).
//   node bench/int8.mjs [--model minilm-ce|e5-small] [--pairs 640] [--reps 2] [--rounds 1] [--threads 2] [--only ...]
import { spawnSync, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCorpus, makePairs } from './pairs.mjs';
import { agreement, medianTop10Gap } from './agreement.mjs';
import { timeConfig } from './timed-model.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const arg = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);

const CONFIGS = {
  'winnow-fp32': { driver: 'winnow', file: 'model.onnx' },
  'winnow-int8-at-load': { driver: 'winnow', file: 'model.onnx', quantize: 'int8' },
  // dtype: 'bf16': the same linear layers through Winnow's bf16 matrix product (AMX / AVX512-BF16).
  'winnow-bf16': { driver: 'winnow', file: 'model.onnx', dtype: 'bf16' },
  // Attention fused as MultiHeadAttention over the int8 projections (not the default: see docs/benchmark.md).
  'winnow-int8-at-load+attention': { driver: 'winnow', file: 'model.onnx', quantize: 'int8', env: { WINNOW_INT8_ATTENTION: '1' } },
  'winnow-model_quantized': { driver: 'winnow', file: 'model_quantized.onnx' },
  'transformers.js-fp32': { driver: 'transformers', dtype: 'fp32' },
  'transformers.js-q8': { driver: 'transformers', dtype: 'q8' },
};

// Winnow's options or transformers.js's dtype for a configuration, timed by bench/timed-model.mjs.
async function child(spec) {
  const c = CONFIGS[spec.config];
  const winnow = c.driver === 'winnow';
  const options = winnow ? Object.fromEntries(Object.entries({ file: c.file, quantize: c.quantize, dtype: c.dtype }).filter(([, v]) => v !== undefined)) : {};
  const res = await timeConfig({ ...spec, driver: c.driver, options, dtype: winnow ? undefined : c.dtype });
  fs.writeFileSync(spec.out, JSON.stringify(res));
}

async function main() {
  const modelName = arg('model', 'minilm-ce');
  const modelDir = path.join(here, 'models', modelName);
  const n = Number(arg('pairs', 640)), reps = Number(arg('reps', 2)), threads = Number(arg('threads', 2));
  const perQuery = 16, batch = 32;
  const only = arg('only', Object.keys(CONFIGS).join(',')).split(',');
  const pairs = makePairs(loadCorpus(), n, perQuery);
  const sentence = modelName.startsWith('e5');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-int8-'));
  const results = {};
  // --rounds: every configuration again, in reverse order every other round; each keeps its fastest pass (this
  // machine's speed drifts by minutes).
  const rounds = Number(arg('rounds', 1));
  const order = Array.from({ length: rounds }, (_, r) => (r % 2 ? [...only].reverse() : only)).flat();
  for (const config of order) {
    const c = CONFIGS[config];
    if (c.file && !fs.existsSync(path.join(modelDir, 'onnx', c.file))) {
      console.log(`${config}: no onnx/${c.file}, skipped`);
      continue;
    }
    if (c.dtype === 'q8' && !fs.existsSync(path.join(modelDir, 'onnx', 'model_quantized.onnx'))) continue;
    const out = path.join(tmp, `${config}.json`);
    const spec = path.join(tmp, `${config}.spec.json`);
    fs.writeFileSync(spec, JSON.stringify({ config, modelDir, pairs, reps, threads, batch, out, sentence }));
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', spec], {
      stdio: 'inherit', env: { ...process.env, ...(c.env ?? {}) },
    });
    if (r.status !== 0) {
      console.log(`${config}: failed (${r.status})`);
      continue;
    }
    const res = JSON.parse(fs.readFileSync(out, 'utf8'));
    const perSecond = Math.max(res.items / Math.min(...res.seconds), results[config]?.perSecond ?? 0);
    // Items per CPU-second of the whole process (ONNX Runtime's spinning threads included): on a shared machine less
    // at the mercy of the other processes than the wall-clock rate.
    const perCpuSecond = Math.max(res.items / Math.min(...res.cpuSeconds), results[config]?.perCpuSecond ?? 0);
    results[config] = { ...res, perSecond, perCpuSecond };
    console.log(`${config}: ${results[config].perSecond.toFixed(1)} ${sentence ? 'texts' : 'pairs'}/s ${JSON.stringify(res.info)}`);
  }
  const ref = results['winnow-fp32']?.scores;
  const table = [];
  for (const [config, r] of Object.entries(results)) {
    const row = { config, [sentence ? 'textsPerSecond' : 'pairsPerSecond']: +r.perSecond.toFixed(1), perCpuSecond: +r.perCpuSecond.toFixed(1), info: r.info };
    if (ref) Object.assign(row, agreement(ref, r.scores, perQuery));
    table.push(row);
  }
  const tjs = (k) => results[k]?.perSecond;
  const summary = {
    date: new Date().toISOString(),
    model: modelName,
    pairs: n,
    reps,
    rounds,
    threads,
    cpu: (execFileSync('lscpu', { encoding: 'utf8' }).match(/Model name:\s*(.*)/) ?? [])[1],
    flags: ['avx2', 'avx512f', 'avx512_vnni', 'avx_vnni', 'avx512_bf16', 'amx_int8', 'amx_bf16'].filter((f) => new RegExp(`\\b${f}\\b`).test(fs.readFileSync('/proc/cpuinfo', 'utf8'))),
    node: process.version,
    // How close the fp32 scores of neighbours in a top 10 are: the random-weight benchmark model scores every pair
    // alike, so a small score error reorders them.
    fp32Scores: ref ? { min: Math.min(...ref), max: Math.max(...ref), medianTop10Gap: medianTop10Gap(ref, perQuery) } : null,
    table,
    int8VsTransformersFp32: tjs('winnow-int8-at-load') / tjs('transformers.js-fp32'),
    int8VsTransformersQ8: tjs('winnow-int8-at-load') / tjs('transformers.js-q8'),
    bf16VsFp32: tjs('winnow-bf16') / tjs('winnow-fp32'),
    bf16VsFp32PerCpuSecond: results['winnow-bf16']?.perCpuSecond / results['winnow-fp32']?.perCpuSecond,
    loadAverage: os.loadavg(),
  };
  console.log(JSON.stringify(summary, (k, v) => (typeof v === 'number' && !Number.isInteger(v) ? +v.toPrecision(4) : v), 2));
  const outFile = arg('out');
  if (outFile) fs.writeFileSync(outFile, JSON.stringify(summary, null, 2));
}

if (args[0] === '--child') await child(JSON.parse(fs.readFileSync(args[1], 'utf8')));
else await main();
