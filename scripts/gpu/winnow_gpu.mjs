// Winnow on an NVIDIA GPU: parity of every transformer class on 'cuda' against 'cpu', device selection,
// the missing-library error, and CrossEncoder throughput for the pairs st_bench.py scores.
//   node scripts/gpu/winnow_gpu.mjs XLMR_DIR PAIRS_JSON OUT_JSON
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const W = require(path.join(root, 'dist/cjs/index.js'));
const [xlmrDir, pairsPath, outPath, mode] = process.argv.slice(2);
const benchOnly = mode === '--bench-only';
const spec = JSON.parse(readFileSync(pairsPath, 'utf8'));
// --host-peak FILE (a child process of the run below): load FILE of XLMR_DIR on cuda, score 64 short pairs, print
// the load time, the process's peak host RSS and the scores as one JSON line.
if (mode === '--host-peak') {
  const t0 = performance.now();
  const ce = await W.CrossEncoder.load(xlmrDir, { device: 'cuda', file: outPath });
  const loadMs = performance.now() - t0;
  const peakMiB = process.resourceUsage().maxRSS / 1024;
  const scores = Array.from(await ce.predict(spec.sets.short.slice(0, 64)));
  console.log(JSON.stringify({ loadMs, peakMiB, scores }));
  process.exit(0);
}
const fx = (n) => path.join(root, 'test/fixtures/models', n);
const out = { checks: [], runs: [] };
const check = (name, ok, detail) => {
  out.checks.push({ name, ok, detail });
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name} ${JSON.stringify(detail)}`);
};
const maxDiff = (a, b) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
const order = (s) => Array.from(s.keys()).sort((i, j) => s[j] - s[i] || i - j);

out.runtime = W.runtimeInfo();
check('CUDA provider in the loaded ONNX Runtime', out.runtime.providers.includes('CUDAExecutionProvider'), out.runtime);

if (!benchOnly) {
// CrossEncoder: tiny BERT and the bge-reranker-base-shaped XLM-R, fp32 on both devices, fp16 on the GPU. The fixture
// checks are skipped when test/fixtures/models was moved aside to fit the device transfer (scripts/gpu/stage.mjs).
const haveFixtures = existsSync(fx('bert-ce-tiny'));
if (!haveFixtures) console.log('test/fixtures/models is absent: fixture checks skipped');
const pairs = spec.sets.short.slice(0, 64);
const cpuScores = new Map(); // model folder -> fp32 CPU scores of `pairs`, computed once
for (const [dir, files] of [...(haveFixtures ? [[fx('bert-ce-tiny'), ['model.onnx']]] : []), [xlmrDir, ['model.onnx', 'model_fp16.onnx']]]) {
  const cpu = await W.CrossEncoder.load(dir, { device: 'cpu' });
  const ref = await cpu.predict(pairs);
  cpuScores.set(dir, ref);
  cpu.dispose();
  for (const file of files) {
    const gpu = await W.CrossEncoder.load(dir, { device: 'cuda', file });
    const got = await gpu.predict(pairs);
    const tol = file.includes('fp16') ? 1e-2 : 1e-4;
    const d = maxDiff(got, ref);
    const sameOrder = JSON.stringify(order(got)) === JSON.stringify(order(ref));
    check(`CrossEncoder ${path.basename(dir)} ${file} cuda vs cpu fp32 within ${tol}`, d < tol, { maxAbsDiff: d, device: gpu.device });
    check(`CrossEncoder ${path.basename(dir)} ${file} identical ranking`, sameOrder, { sameOrder });
    gpu.dispose();
  }
}
// Loads with some WINNOW_* variables set for the load only (the native side reads them while loading).
async function loadWithEnv(env, dir, options) {
  Object.assign(process.env, env);
  try {
    return await W.CrossEncoder.load(dir, options);
  } finally {
    for (const k of Object.keys(env)) delete process.env[k];
  }
}
const packedOf = (m) => m.native.info().packedAttentions;
// fuseAttention: the same tolerances as above on the GPU, and how many blocks of this transformers export matched
// (12 layers; 0 means the export's attention is not the matched pattern), in both forms: com.microsoft Attention
// with Q, K, V packed (the default) and MultiHeadAttention over the three projections (WINNOW_ATTENTION_PACK_QKV=0).
for (const [file, tol] of [['model.onnx', 1e-4], ['model_fp16.onnx', 1e-2]]) {
  for (const [form, env, packed] of [['Attention', {}, 12], ['MultiHeadAttention', { WINNOW_ATTENTION_PACK_QKV: '0' }, 0]]) {
    const ref = cpuScores.get(xlmrDir);
    const gpu = await loadWithEnv(env, xlmrDir, { device: 'cuda', file, fuseAttention: true });
    const d = maxDiff(await gpu.predict(pairs), ref);
    check(`CrossEncoder xlmr ${file} fuseAttention (${form}) cuda vs cpu fp32 within ${tol}`,
      d < tol && gpu.fusedAttentions === 12 && packedOf(gpu) === packed,
      { maxAbsDiff: d, fusedAttentions: gpu.fusedAttentions, packedAttentions: packedOf(gpu), fusedLayerNorms: gpu.fusedLayerNorms });
    gpu.dispose();
  }
}
const picked = await W.CrossEncoder.load(xlmrDir, { device: 'cuda' });
check('cuda picks onnx/model_fp16.onnx when no file is named', picked.file.endsWith('model_fp16.onnx'), { file: picked.file });
picked.dispose();
const auto = await W.CrossEncoder.load(xlmrDir, { device: 'auto' });
check("device 'auto' picks the GPU", auto.device === 'cuda:0', { device: auto.device });
auto.dispose();

if (haveFixtures) {
  const texts = spec.sets.short.slice(0, 32).map((p) => p[1]);
  const c = await W.SentenceEncoder.load(fx('e5-tiny'), { device: 'cpu' });
  const g = await W.SentenceEncoder.load(fx('e5-tiny'), { device: 'cuda' });
  const a = await c.encode(texts);
  const b = await g.encode(texts);
  check('SentenceEncoder e5-tiny cuda vs cpu within 1e-4', maxDiff(a.data, b.data) < 1e-4, { maxAbsDiff: maxDiff(a.data, b.data), device: g.device });
  c.dispose();
  g.dispose();
}
if (haveFixtures) {
  const c = await W.PruningEncoder.load(fx('pruning-bert-tiny'), { device: 'cpu' });
  const g = await W.PruningEncoder.load(fx('pruning-bert-tiny'), { device: 'cuda' });
  const docs = spec.sets.short.slice(0, 16).map((p) => p[1]);
  const a = await c.prune(pairs[0][0], docs);
  const b = await g.prune(pairs[0][0], docs);
  const d = maxDiff(a.map((r) => r.rankingScore), b.map((r) => r.rankingScore));
  const same = a.every((r, i) => r.prunedDocument === b[i].prunedDocument);
  check('PruningEncoder cuda vs cpu: scores within 1e-4, same kept text', d < 1e-4 && same, { maxAbsDiff: d, sameKept: same, device: g.device });
  c.dispose();
  g.dispose();
}

// Host memory at a CUDA load: ONNX Runtime reading the file as written (the default) against the graph naming the
// model file as the external data of its weights (WINNOW_WEIGHTS_IN_PLACE=cuda), each in a fresh process (peak RSS
// is per process). Same scores expected; if the peak falls, in place should become the CUDA default.
for (const file of ['model.onnx', 'model_fp16.onnx']) {
  const probe = (env) => {
    const stdout = execFileSync(process.execPath, [new URL(import.meta.url).pathname, xlmrDir, pairsPath, file, '--host-peak'],
      { env: { ...process.env, ...env }, encoding: 'utf8' });
    return JSON.parse(stdout.trim().split('\n').pop());
  };
  const asRead = probe({});
  const inPlace = probe({ WINNOW_WEIGHTS_IN_PLACE: 'cuda' });
  const d = maxDiff(inPlace.scores, asRead.scores);
  const detail = { maxAbsDiff: d, peakMiB: [asRead.peakMiB, inPlace.peakMiB], loadMs: [asRead.loadMs, inPlace.loadMs] };
  check(`CrossEncoder xlmr ${file} on cuda, weights in place: same scores (within 1e-6); host peak as read vs in place`, d <= 1e-6, detail);
  out.hostPeak = { ...out.hostPeak, [file]: detail };
}

// The missing-library error is proven in CI (test/cuda.test.ts) with a stand-in provider: on the GPU
// image the CUDA libraries are also installed system-wide, so an empty LD_LIBRARY_PATH hides nothing
// (seen on the H200: the model loaded).
}
// Throughput on the GPU for the batch sizes and pair sets st_bench.py uses: fp16 and fp32, each load-time
// rewrite on and off (WINNOW_GPU_CONFIGS=fp16 keeps the fp16 rows only, to fit a short device session).
const configs = [
  { file: 'model_fp16.onnx' },
  { file: 'model_fp16.onnx', fuseAttention: true },
  { file: 'model_fp16.onnx', fuseAttention: true, env: { WINNOW_ATTENTION_PACK_QKV: '0' } }, // MultiHeadAttention form
  { file: 'model_fp16.onnx', fuseAttention: true, fuseLayerNorm: true },
  { file: 'model_fp16.onnx', lengthBuckets: false },
  { file: 'model_fp16.onnx', env: { WINNOW_IO_BINDING: '1' } }, // pinned staging buffers, IoBinding
  { file: 'model.onnx' },
  { file: 'model.onnx', allowTf32: true },
  { file: 'model.onnx', allowTf32: true, fuseAttention: true },
].filter((c) => process.env.WINNOW_GPU_CONFIGS !== 'fp16' || c.file === 'model_fp16.onnx');
for (const config of configs) {
  for (const [name, set] of Object.entries(spec.sets)) {
    for (const bs of spec.batch_sizes) {
      const { env, ...options } = config;
      const ce = await loadWithEnv(env ?? {}, xlmrDir, { device: 'cuda', batchSize: bs, ...options });
      await ce.predict(set.slice(0, bs * 2));
      let best = Infinity;
      for (let r = 0; r < 3; r++) {
        const t0 = performance.now();
        await ce.predict(set);
        best = Math.min(best, (performance.now() - t0) / 1000);
      }
      const run = { ...config, ioBinding: ce.native.info().ioBinding, fusedAttentions: ce.fusedAttentions, packedAttentions: packedOf(ce), fusedLayerNorms: ce.fusedLayerNorms, set: name,
                    batch_size: bs, pairs: set.length, seconds: best, pairs_per_s: set.length / best };
      out.runs.push(run);
      console.log(JSON.stringify(run));
      ce.dispose();
    }
  }
}
writeFileSync(outPath, JSON.stringify(out, null, 1));
