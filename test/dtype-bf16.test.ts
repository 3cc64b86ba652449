// dtype: 'bf16' at load (issue #31): the encoder's linear layers run as com.winnow MatMulBf16 (bf16 operands, float32
// sums, on AMX or AVX512-BF16), the embeddings and the task head stay float32. The kernels themselves are checked
// against the scalar reference in native/tests/matmul_bf16_test.cc; here: every pipeline and a graph built from a
// checkpoint get it, with the count of layers each model must have, scores near fp32 but not equal to them, the
// option validated, and the error on a CPU without bf16 (forced in a child process, so it runs on every CPU).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CrossEncoder, PruningEncoder, SentenceEncoder } from '../lib/index';
import { errorOf } from './helpers/errors';
import { corpusPairs, FIXTURES, maxAbsDiff, ROOT } from './helpers/reference';
import { cosine } from './helpers/st-reference';

const CE = path.join(FIXTURES, 'bert-ce-tiny');
// Two BERT layers: Q, K, V, attention output, FFN up and down each. A pooler + classifier (or pruning head) more
// would mean the head was rewritten too.
const ENCODER_LINEARS = 2 * 6;
// A graph built from a checkpoint with Winnow's operators packs Q, K and V into one linear: 4 a layer.
const BUILT_LINEARS = 2 * 4;

// Largest |bf16 - fp32| measured on these pairs: bert-ce-tiny 0.0069, pruning-bert-tiny 0.0066, bert-cls 0.0013
// (random tiny weights), the same on AMX and AVX512-BF16.
const SCORE_BOUND = 0.02;

const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
const HAS_BF16 = /\b(amx_bf16|avx512_bf16)\b/.test(cpuinfo);
const HAS_AMX = /\bamx_bf16\b/.test(cpuinfo) && /\bavx512_bf16\b/.test(cpuinfo);

// A load (and 40 scores) in a fresh process with `env` set: the kernel choice is read once per process.
function inChild(env: Record<string, string>, options: Record<string, unknown>) {
  const script = `
    const { CrossEncoder } = require(${JSON.stringify(path.join(ROOT, 'dist/cjs/index.js'))});
    CrossEncoder.load(${JSON.stringify(CE)}, ${JSON.stringify({ threads: 1, ...options })}).then(
      async (ce) => { const s = await ce.predict(${JSON.stringify(corpusPairs(40))}); console.log(JSON.stringify({ count: ce.bf16MatMuls, scores: Array.from(s) })); ce.dispose(); },
      (e) => console.log(JSON.stringify({ code: e.code, message: e.message })));`;
  const out = execFileSync(process.execPath, ['-e', script], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(out.trim().split('\n').pop()!);
}

// runtimeInfo().kernels.MatMulBf16 (or another operator's) in a fresh process with `env` set.
const bf16KernelIn = (env: Record<string, string>, op = 'MatMulBf16') =>
  execFileSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(path.join(ROOT, 'dist/cjs/index.js'))}).runtimeInfo().kernels[${JSON.stringify(op)}])`], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  }).trim();

describe("dtype: 'bf16'", () => {
  const pairs = corpusPairs(40);

  it.skipIf(!HAS_BF16)('CrossEncoder: the encoder linears are bf16, the pooler and classifier float32; scores near fp32, not equal', async () => {
    const fp32 = await CrossEncoder.load(CE, { threads: 1 });
    const bf16 = await CrossEncoder.load(CE, { threads: 1, dtype: 'bf16' });
    expect(fp32.bf16MatMuls).toBe(0);
    expect(bf16.bf16MatMuls).toBe(ENCODER_LINEARS);
    expect(bf16.quantizedMatMuls).toBe(0);
    expect(bf16.fusedLayerNorms).toBe(fp32.fusedLayerNorms);
    const a = await fp32.predict(pairs);
    const b = await bf16.predict(pairs);
    expect(maxAbsDiff(a, b)).toBeLessThan(SCORE_BOUND);
    expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-4);
    // Each row's products are its own (no per-batch scale): alone as in a batch, within the fp32 bar.
    for (const i of [0, 3, 17]) {
      const alone = await bf16.predict([pairs[i]]);
      expect(Math.abs(alone[0] - b[i])).toBeLessThan(1e-5);
    }
    fp32.dispose();
    bf16.dispose();
  });

  it.skipIf(!HAS_BF16)('PruningEncoder: the pruning head stays float32', async () => {
    const dir = path.join(FIXTURES, 'pruning-bert-tiny');
    const fp32 = await PruningEncoder.load(dir, { threads: 1 });
    const bf16 = await PruningEncoder.load(dir, { threads: 1, dtype: 'bf16' });
    expect(bf16.bf16MatMuls).toBe(ENCODER_LINEARS);
    const a = await fp32.predict(pairs);
    const b = await bf16.predict(pairs);
    expect(maxAbsDiff(a, b)).toBeLessThan(SCORE_BOUND);
    expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-4);
    fp32.dispose();
    bf16.dispose();
  });

  it.skipIf(!HAS_BF16)('SentenceEncoder: every linear of an encoder without a head; embeddings near fp32', async () => {
    const dir = path.join(FIXTURES, 'e5-tiny');
    const fp32 = await SentenceEncoder.load(dir, { threads: 1 });
    const bf16 = await SentenceEncoder.load(dir, { threads: 1, dtype: 'bf16' });
    expect(bf16.bf16MatMuls).toBe(ENCODER_LINEARS);
    const texts = pairs.map((p) => p[1]);
    const a = await fp32.encode(texts);
    const b = await bf16.encode(texts);
    let worst = 1;
    for (let i = 0; i < texts.length; i++) worst = Math.min(worst, cosine(a.row(i), b.row(i)));
    expect(worst).toBeGreaterThan(0.999);
    expect(maxAbsDiff(a.row(0), b.row(0))).toBeGreaterThan(0);
    fp32.dispose();
    bf16.dispose();
  });

  it.skipIf(!HAS_BF16)('a graph built from a checkpoint gets it the same way', async () => {
    const dir = path.join(ROOT, 'test', 'fixtures', 'checkpoints', 'bert-cls');
    const fp32 = await CrossEncoder.load(dir, { threads: 1 });
    const bf16 = await CrossEncoder.load(dir, { threads: 1, dtype: 'bf16' });
    expect(bf16.source.built).toBe(true);
    expect(bf16.bf16MatMuls).toBe(BUILT_LINEARS);
    const a = await fp32.predict(pairs);
    const b = await bf16.predict(pairs);
    expect(maxAbsDiff(a, b)).toBeLessThan(SCORE_BOUND);
    expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-5);
    fp32.dispose();
    bf16.dispose();
  });

  it.skipIf(!HAS_BF16)('a file quantized already (model_quantized.onnx) is loaded as it is', async () => {
    const plain = await CrossEncoder.load(CE, { threads: 1, file: 'model_quantized.onnx' });
    const asked = await CrossEncoder.load(CE, { threads: 1, file: 'model_quantized.onnx', dtype: 'bf16' });
    expect(asked.bf16MatMuls).toBe(0);
    expect(Array.from(await asked.predict(pairs))).toEqual(Array.from(await plain.predict(pairs)));
    plain.dispose();
    asked.dispose();
  });

  it.skipIf(!HAS_AMX)('AMX and AVX512-BF16 (forced) compute the same products: far closer to each other than to fp32', () => {
    const amx = inChild({}, { dtype: 'bf16' });
    const avx = inChild({ WINNOW_BF16_KERNEL: 'avx512bf16' }, { dtype: 'bf16' });
    const fp32 = inChild({}, {});
    expect(amx.count).toBe(ENCODER_LINEARS);
    expect(avx.count).toBe(ENCODER_LINEARS);
    expect(bf16KernelIn({})).toBe('amx');
    expect(bf16KernelIn({ WINNOW_BF16_KERNEL: 'avx512bf16' })).toBe('avx512bf16');
    // bf16 attention runs on the same instructions, forced down with them
    expect(bf16KernelIn({}, 'AttentionBf16')).toBe('amx');
    expect(bf16KernelIn({ WINNOW_BF16_KERNEL: 'avx512bf16' }, 'AttentionBf16')).toBe('avx512bf16');
    const fromFp32 = maxAbsDiff(avx.scores, fp32.scores);
    expect(fromFp32).toBeGreaterThan(1e-4);
    expect(fromFp32).toBeLessThan(SCORE_BOUND);
    // Their float32 sums differ in order only, but a last-bit difference can round the next layer's input to the
    // other bf16 neighbour: measured 5.5e-4 apart against 6.9e-3 from fp32.
    expect(maxAbsDiff(amx.scores, avx.scores)).toBeLessThan(fromFp32 / 4);
  });

  it('a CPU without bf16 instructions: BF16_UNAVAILABLE naming the features; fp32 still loads', () => {
    const env = { WINNOW_BF16_KERNEL: 'none' };
    const r = inChild(env, { dtype: 'bf16' });
    expect(r.code).toBe('BF16_UNAVAILABLE');
    expect(r.message).toContain('AMX-BF16 or AVX512-BF16');
    expect(bf16KernelIn(env)).toBe('none');
    expect(bf16KernelIn(env, 'AttentionBf16')).toBe('none');
    expect(inChild(env, {}).count).toBe(0);
    expect(inChild(env, { dtype: 'fp32' }).count).toBe(0);
  });

  it("'fp32' is the default; anything else, or bf16 with quantize: 'int8', is INVALID_ARGUMENT", async () => {
    const fp32 = await CrossEncoder.load(CE, { threads: 1, dtype: 'fp32' });
    const unset = await CrossEncoder.load(CE, { threads: 1 });
    expect(fp32.bf16MatMuls).toBe(0);
    expect(Array.from(await fp32.predict(pairs))).toEqual(Array.from(await unset.predict(pairs)));
    fp32.dispose();
    unset.dispose();
    for (const [value, shown] of [['fp16', '"fp16" of type string'], [true, 'true of type boolean'], ['BF16', '"BF16" of type string']] as const) {
      const e = await errorOf(() => CrossEncoder.load(CE, { dtype: value as never }));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toBe(`Expected one of 'fp32', 'bf16' for dtype but received ${shown}`);
    }
    const both = await errorOf(() => CrossEncoder.load(CE, { dtype: 'bf16', quantize: 'int8' }));
    expect(both.code).toBe('INVALID_ARGUMENT');
    expect(both.message).toBe(`Expected 'fp32' or no dtype with quantize: 'int8' for dtype but received "bf16" of type string`);
    for (const load of [
      () => SentenceEncoder.load(path.join(FIXTURES, 'e5-tiny'), { dtype: 'int8' as never }),
      () => PruningEncoder.load(path.join(FIXTURES, 'pruning-bert-tiny'), { dtype: 'bf16', quantize: 'int8' }),
    ])
      expect((await errorOf(load)).code).toBe('INVALID_ARGUMENT');
  });
});
