// Where the cross-encoder's CPU time goes. Replays, with onnxruntime-node, exactly the batches Winnow
// forms for the benchmark's 512 pairs (length-sorted, at most 32 rows and 1024 padded tokens each),
// and times them next to Winnow's predict on the same pairs: with the graph as written
// (`fuseLayerNorm: false`, the same graph ONNX Runtime replays), with Winnow's defaults, and with
// `fuseLayerNorm: true` (which also fuses int8 graphs).
// With --profile, also prints ONNX Runtime's per-operator time for the replay (graph as written) and for Winnow's
// defaults (the rewritten graph, profiled through WINNOW_PROFILE).
//   node bench/cross-encoder/replay.mjs [--profile] [--model bench/models/minilm-ce] [--file model_quantized.onnx]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { loadCorpus, makePairs } from '../pairs.mjs';
import { common } from './trials.mjs';
import { printKernelTime } from '../ort-profile.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const { Tokenizer } = require('tokenizers');
const args = process.argv.slice(2);
const dir = args.includes('--model') ? path.resolve(args[args.indexOf('--model') + 1]) : path.join(here, '..', 'models', common.model);
const profile = args.includes('--profile');
const file = args.includes('--file') ? args[args.indexOf('--file') + 1] : 'model.onnx';
const BUDGET = 1024; // Winnow's CPU default (native/core/pipelines/transformer_model.h)

const pairs = makePairs(loadCorpus(), common.pairs, common.perQuery);
const tok = Tokenizer.fromFile(path.join(dir, 'tokenizer.json'));
tok.setTruncation(common.maxLength, { strategy: 'OnlySecond' });
const encs = await Promise.all(pairs.map(([a, b]) => tok.encode(a, b)));
const lens = encs.map((e) => e.getIds().length);
// Winnow's batching::PlanBatches: longest first; a batch closes when a row would break the row or token limit.
const batches = [];
let cur = [];
let maxLen = 0;
for (const i of [...lens.keys()].sort((a, b) => lens[b] - lens[a] || a - b)) {
  if (cur.length && (cur.length >= common.batch || maxLen * (cur.length + 1) > BUDGET)) {
    batches.push({ rows: cur, T: maxLen });
    cur = [];
  }
  if (!cur.length) maxLen = lens[i];
  cur.push(i);
}
batches.push({ rows: cur, T: maxLen });
const padded = batches.reduce((s, b) => s + b.rows.length * b.T, 0);
const real = lens.reduce((a, b) => a + b, 0);

const onnx = path.join(dir, 'onnx', file);
const profDir = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-replay-'));
const sessionOptions = { intraOpNumThreads: common.threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' };
const session = await ort.InferenceSession.create(onnx, sessionOptions);
const feeds = batches.map(({ rows, T }) => {
  const B = rows.length;
  const ids = new BigInt64Array(B * T), mask = new BigInt64Array(B * T), types = new BigInt64Array(B * T);
  rows.forEach((i, r) => {
    const id = encs[i].getIds(), ty = encs[i].getTypeIds();
    for (let j = 0; j < id.length; j++) {
      ids[r * T + j] = BigInt(id[j]);
      mask[r * T + j] = 1n;
      types[r * T + j] = BigInt(ty[j]);
    }
  });
  const f = { input_ids: new ort.Tensor('int64', ids, [B, T]), attention_mask: new ort.Tensor('int64', mask, [B, T]) };
  if (session.inputNames.includes('token_type_ids')) f.token_type_ids = new ort.Tensor('int64', types, [B, T]);
  return f;
});

const { CrossEncoder } = require(path.join(here, '..', '..', 'dist', 'cjs', 'index.js'));
const base = { threads: common.threads, batchSize: common.batch, file };
const asWritten = await CrossEncoder.load(dir, { ...base, fuseLayerNorm: false });
const fused = await CrossEncoder.load(dir, base);
const forced = await CrossEncoder.load(dir, { ...base, fuseLayerNorm: true });
const replay = async (s = session) => { for (const f of feeds) await s.run(f); };
const time = async (fn) => { const t0 = performance.now(); await fn(); return performance.now() - t0; };
await replay();
await asWritten.predict(pairs);
await fused.predict(pairs);
await forced.predict(pairs);
const rows = { replay: [], asWritten: [], fused: [], forced: [] };
for (let rep = 0; rep < 3; rep++) {
  rows.replay.push(await time(() => replay()));
  rows.asWritten.push(await time(() => asWritten.predict(pairs)));
  rows.fused.push(await time(() => fused.predict(pairs)));
  rows.forced.push(await time(() => forced.predict(pairs)));
}
const best = (a) => Math.min(...a);
console.log(`${file}: ${batches.length} batches, padded/real tokens ${(padded / real).toFixed(3)}, ${common.threads} threads, best of 3`);
console.log(`onnxruntime-node replay (graph as written)  ${best(rows.replay).toFixed(0)} ms  ${((1000 * pairs.length) / best(rows.replay)).toFixed(1)} pairs/s`);
console.log(`Winnow, fuseLayerNorm: false (same graph)    ${best(rows.asWritten).toFixed(0)} ms  ${((1000 * pairs.length) / best(rows.asWritten)).toFixed(1)} pairs/s`);
console.log(`Winnow, defaults (${fused.fusedLayerNorms} norms fused)            ${best(rows.fused).toFixed(0)} ms  ${((1000 * pairs.length) / best(rows.fused)).toFixed(1)} pairs/s`);
console.log(`Winnow, fuseLayerNorm: true (${forced.fusedLayerNorms} fused)        ${best(rows.forced).toFixed(0)} ms  ${((1000 * pairs.length) / best(rows.forced)).toFixed(1)} pairs/s`);
if (profile) {
  // Separate sessions: profiling slows the run it records.
  const prof = await ort.InferenceSession.create(onnx, { ...sessionOptions, enableProfiling: true, profileFilePrefix: path.join(profDir, 'p') });
  await replay(prof);
  prof.endProfiling();
  await prof.release();
  printKernelTime('replay, graph as written', path.join(profDir, fs.readdirSync(profDir).find((f) => f.startsWith('p') && f.endsWith('.json'))));
  // Winnow with its defaults (the rewritten graph): WINNOW_PROFILE while it loads; the file is written on dispose.
  process.env.WINNOW_PROFILE = path.join(profDir, 'w');
  const w = await CrossEncoder.load(dir, base);
  delete process.env.WINNOW_PROFILE;
  await w.predict(pairs);
  w.dispose();
  for (let i = 0; i < 100 && !fs.readdirSync(profDir).some((f) => f.startsWith('w') && f.endsWith('.json')); i++)
    await new Promise((r) => setTimeout(r, 50));
  const wFile = fs.readdirSync(profDir).find((f) => f.startsWith('w') && f.endsWith('.json'));
  if (wFile) printKernelTime(`Winnow, defaults, ${w.fusedLayerNorms} norms and ${w.fusedAttentions} attention blocks fused`, path.join(profDir, wFile));
  else console.log('no profile file from Winnow');
}
fs.rmSync(profDir, { recursive: true, force: true });
for (const m of [asWritten, fused, forced]) m.dispose();
