// Winnow's CPU kernels (issue #31), side by side in one run: the model built from its checkpoint with
// `kernels: 'onnxruntime'` (standard operators, ONNX Runtime's kernels and Winnow's load-time rewrites) and with
// Winnow's own operators (the default), in fp32, int8 at load and bf16, against transformers.js fp32 and q8 on the
// folder's ONNX files. Each configuration runs in a fresh process; over --rounds the order alternates and each keeps
// its fastest pass. The GEMM roof (bench/roof.mjs: ONNX Runtime's own MatMul / MatMulInteger on the model's linear
// shapes) is measured before and after, best of each; a configuration's share of the roof is the FLOPs its items
// need without padding (bench/flops.mjs) at the roof rate over its time (fp32 and bf16 against the fp32 roof, int8
// against the int8 roof). Agreement columns are against fp32 with ONNX Runtime's kernels. --profile runs each
// Winnow configuration once more under ONNX Runtime's profiler and prints kernel time per operator.
//   node bench/kernels.mjs [--model minilm-ce|e5-small] [--pairs 512] [--reps 2] [--rounds 2] [--threads 2]
//                          [--only fp32,int8,...] [--profile] [--out results.json]
import { spawnSync, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCorpus, makePairs } from './pairs.mjs';
import { agreement, medianTop10Gap, smallestTop10Gaps } from './agreement.mjs';
import { encoderFlops, encoderShape } from './flops.mjs';
import { kernelTimeByOp } from './ort-profile.mjs';
import { sentenceTexts, timeConfig } from './timed-model.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const arg = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const built = { source: 'checkpoint' };

const CONFIGS = {
  'fp32-onnxruntime': { driver: 'winnow', options: { ...built, kernels: 'onnxruntime' }, roof: 'fp32' },
  fp32: { driver: 'winnow', options: built, roof: 'fp32' },
  'int8-onnxruntime': { driver: 'winnow', options: { ...built, kernels: 'onnxruntime', quantize: 'int8' }, roof: 'int8' },
  // Winnow's operators with ONNX Runtime's DynamicQuantizeMatMul for the int8 products (the path of CPUs without
  // AMX-INT8), against its own int8 GEMM (`int8`, where the CPU has AMX-INT8).
  'int8-dqmm': { driver: 'winnow', options: { ...built, quantize: 'int8' }, env: { WINNOW_INT8_KERNEL: 'onnxruntime' }, roof: 'int8' },
  int8: { driver: 'winnow', options: { ...built, quantize: 'int8' }, roof: 'int8' },
  // Winnow's AVX512-VNNI int8 GEMM (what a CPU without AMX-INT8 would run with WINNOW_INT8_KERNEL=vnni).
  'int8-vnni': { driver: 'winnow', options: { ...built, quantize: 'int8' }, env: { WINNOW_INT8_KERNEL: 'vnni' }, roof: 'int8' },
  bf16: { driver: 'winnow', options: { ...built, dtype: 'bf16' }, roof: 'fp32' },
  'transformers.js-fp32': { driver: 'transformers', dtype: 'fp32', roof: 'fp32' },
  'transformers.js-q8': { driver: 'transformers', dtype: 'q8', roof: 'int8', file: 'model_quantized.onnx' },
};
const REFERENCE = 'fp32-onnxruntime';

if (args[0] === '--child') {
  const spec = JSON.parse(fs.readFileSync(args[1], 'utf8'));
  const res = await timeConfig({ ...CONFIGS[spec.config], ...spec });
  fs.writeFileSync(spec.out, JSON.stringify(res));
  process.exit(0);
}

const modelName = arg('model', 'minilm-ce');
const modelDir = path.join(here, 'models', modelName);
const n = Number(arg('pairs', 512)), reps = Number(arg('reps', 2)), rounds = Number(arg('rounds', 2));
const threads = Number(arg('threads', 2)), perQuery = 16, batch = 32;
const sentence = modelName.startsWith('e5');
const only = arg('only', Object.keys(CONFIGS).join(',')).split(',');
const pairs = makePairs(loadCorpus(), n, perQuery);
const config = JSON.parse(fs.readFileSync(path.join(modelDir, 'config.json'), 'utf8'));
const shape = encoderShape(config);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-kernels-'));

// FLOPs the items need, from their token lengths (no padding).
const { Tokenizer } = require('tokenizers');
const tok = Tokenizer.fromFile(path.join(modelDir, 'tokenizer.json'));
tok.setTruncation(512, { strategy: sentence ? 'LongestFirst' : 'OnlySecond' });
const lens = sentence
  ? await Promise.all(sentenceTexts(pairs).texts.map((t) => tok.encode(t).then((e) => e.getIds().length)))
  : await Promise.all(pairs.map(([a, b]) => tok.encode(a, b).then((e) => e.getIds().length)));
const flops = encoderFlops(shape, lens, { head: !sentence });

function roofRun() {
  const best = { fp32: 0, int8: 0 };
  for (const m of [1024, 4608]) {
    const file = path.join(tmp, `roof-${m}.json`);
    const r = spawnSync(process.execPath, [path.join(here, 'roof.mjs'), threads, m, shape.h, shape.ffn, file], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('roof benchmark failed');
    const mix = JSON.parse(fs.readFileSync(file, 'utf8')).mix;
    best.fp32 = Math.max(best.fp32, mix.fp32);
    best.int8 = Math.max(best.int8, mix.int8);
  }
  return best;
}

function runChild(name, extra = {}) {
  const out = path.join(tmp, `${name}-${Date.now()}.json`);
  const spec = path.join(tmp, `${name}.spec.json`);
  fs.writeFileSync(spec, JSON.stringify({ config: name, modelDir, pairs, reps, threads, batch, sentence, out, ...extra }));
  const env = { ...process.env, ...(CONFIGS[name].env ?? {}) };
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', spec], { stdio: 'inherit', env });
  if (r.status !== 0) return null;
  return JSON.parse(fs.readFileSync(out, 'utf8'));
}

const roofs = [roofRun()];
const results = {};
const loads = [];
const order = Array.from({ length: rounds }, (_, r) => (r % 2 ? [...only].reverse() : only)).flat();
for (const name of order) {
  const c = CONFIGS[name];
  if (c.driver === 'transformers' && !fs.existsSync(path.join(modelDir, 'onnx', c.file ?? 'model.onnx'))) continue;
  loads.push(os.loadavg()[0]);
  const res = runChild(name);
  if (!res) {
    console.log(`${name}: failed (skipped)`);
    continue;
  }
  const perSecond = Math.max(res.items / Math.min(...res.seconds), results[name]?.perSecond ?? 0);
  results[name] = { ...res, perSecond };
  console.log(`${name}: ${perSecond.toFixed(1)} ${sentence ? 'texts' : 'pairs'}/s ${JSON.stringify(res.info)}`);
}
roofs.push(roofRun());
const roof = { fp32: Math.max(...roofs.map((r) => r.fp32)), int8: Math.max(...roofs.map((r) => r.int8)) };

const profiles = {};
if (args.includes('--profile')) {
  for (const name of only) {
    if (CONFIGS[name].driver !== 'winnow' || !results[name]) continue;
    const res = runChild(name, { reps: 1, profile: path.join(tmp, `prof-${name}-`) });
    if (res?.profileFile) profiles[name] = kernelTimeByOp(res.profileFile).filter((r) => r.share >= 0.005).map((r) => `${r.op} ${(100 * r.share).toFixed(1)} %`).join(", ");
  }
}

const ref = results[REFERENCE]?.scores;
const table = Object.entries(results).map(([name, r]) => {
  const seconds = r.items / r.perSecond;
  const row = { config: name, perSecond: +r.perSecond.toFixed(1), roofShare: +(flops.total / (roof[CONFIGS[name].roof] * 1e9) / seconds).toFixed(3), info: r.info };
  if (ref) Object.assign(row, agreement(ref, r.scores, perQuery));
  return row;
});
const rate = (k) => results[k]?.perSecond;
const smallest = ref ? smallestTop10Gaps(ref, perQuery) : null;
const summary = {
  date: new Date().toISOString(),
  model: modelName,
  items: sentence ? lens.length : n,
  reps, rounds, threads, batch,
  cpu: (execFileSync('lscpu', { encoding: 'utf8' }).match(/Model name:\s*(.*)/) ?? [])[1],
  flags: ['avx2', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_int8', 'amx_bf16'].filter((f) => new RegExp(`\\b${f}\\b`).test(fs.readFileSync('/proc/cpuinfo', 'utf8'))),
  runtime: require(path.join(here, '..', 'dist', 'cjs', 'index.js')).runtimeInfo(),
  node: process.version,
  loadAverage: { min: Math.min(...loads), max: Math.max(...loads) },
  flops: { total: flops.total, linearShare: flops.linearShare, meanTokens: lens.reduce((a, b) => a + b, 0) / lens.length },
  roof, roofs,
  referenceTop10Gap: ref ? medianTop10Gap(ref, perQuery) : null,
  // Per query, the smallest neighbour gap in the reference top 10 (sorted), and how many are below 1e-4.
  referenceSmallestGaps: smallest?.map((g) => +g.toExponential(2)) ?? null,
  referenceGapsBelow1e4: smallest?.filter((g) => g < 1e-4).length ?? null,
  table,
  ratios: {
    fp32VsOnnxruntimeKernels: rate('fp32') / rate('fp32-onnxruntime'),
    int8VsOnnxruntimeKernels: rate('int8') / rate('int8-onnxruntime'),
    int8VsDynamicQuantizeMatMul: rate('int8') / rate('int8-dqmm'),
    int8VsTransformersFp32: rate('int8') / rate('transformers.js-fp32'),
    int8VsTransformersQ8: rate('int8') / rate('transformers.js-q8'),
    fp32VsTransformersFp32: rate('fp32') / rate('transformers.js-fp32'),
  },
  profiles,
};
console.log(JSON.stringify(summary, (k, v) => (typeof v === 'number' && !Number.isInteger(v) ? +v.toPrecision(4) : v), 2));
if (arg('out')) fs.writeFileSync(arg('out'), JSON.stringify(summary, null, 2));
fs.rmSync(tmp, { recursive: true, force: true });
