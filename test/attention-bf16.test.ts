// com.winnow Attention with precision "bf16" (issue #31): in graphs built from a checkpoint on a CPU with bf16
// instructions, with WINNOW_ATTENTION_BF16=1, `dtype: 'bf16'` and `quantize: 'int8'` run attention's two products on
// bf16 operands (float32 sums, float32 softmax); by default, fp32 and `kernels: 'onnxruntime'` keep the float32 kernel. The kernel's arithmetic (AMX and
// AVX512-BF16, head sizes, token counts, masks, biases) is checked against a bound in
// native/tests/attention_bf16_test.cc; here: which loads get it, and how far scores move.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CrossEncoder, SentenceEncoder } from '../lib/index';
import { corpusPairs, maxAbsDiff, ROOT } from './helpers/reference';

const CKPT = path.join(ROOT, 'test', 'fixtures', 'checkpoints');
const CE = path.join(CKPT, 'bert-cls');
const LAYERS = 2; // every BERT-family fixture

const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
const HAS_BF16 = /\b(amx_bf16|avx512_bf16)\b/.test(cpuinfo);

// A load with WINNOW_ATTENTION_BF16=1 (read at each load): the same session with bf16 attention.
async function withBf16Attention<T>(load: () => Promise<T>): Promise<T> {
  process.env.WINNOW_ATTENTION_BF16 = '1';
  try {
    return await load();
  } finally {
    delete process.env.WINNOW_ATTENTION_BF16;
  }
}

// bf16Attentions and 40 scores of a load in a fresh process with `env` set: the bf16 kernel is chosen once per
// process (WINNOW_BF16_KERNEL).
function inChild(env: Record<string, string>, options: Record<string, unknown>) {
  const script = `
    const { CrossEncoder } = require(${JSON.stringify(path.join(ROOT, 'dist/cjs/index.js'))});
    CrossEncoder.load(${JSON.stringify(CE)}, ${JSON.stringify({ threads: 1, activation: 'none', ...options })}).then(
      async (ce) => { const s = await ce.predict(${JSON.stringify(corpusPairs(40))}); console.log(JSON.stringify({ count: ce.bf16Attentions, scores: Array.from(s) })); ce.dispose(); },
      (e) => console.log(JSON.stringify({ code: e.code, message: e.message })));`;
  const out = execFileSync(process.execPath, ['-e', script], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(out.trim().split('\n').pop()!);
}

afterEach(() => {
  delete process.env.WINNOW_ATTENTION_BF16;
});

describe('com.winnow Attention in bf16', () => {
  const pairs = corpusPairs(40);
  pairs.push([pairs[0][0], pairs.slice(0, 8).map((x) => x[1]).join(' ')], ['a', 'b']);

  it.skipIf(!HAS_BF16)("dtype 'bf16' with WINNOW_ATTENTION_BF16=1: every block in bf16 (by default none); scores move from float32 attention, within the bound", async () => {
    const fp32 = await CrossEncoder.load(CE, { threads: 1, activation: 'none' });
    const bf16 = await withBf16Attention(() => CrossEncoder.load(CE, { threads: 2, activation: 'none', dtype: 'bf16' }));
    const bf16f = await CrossEncoder.load(CE, { threads: 1, activation: 'none', dtype: 'bf16' });
    const ort = await withBf16Attention(() => CrossEncoder.load(CE, { threads: 1, activation: 'none', dtype: 'bf16', kernels: 'onnxruntime' }));
    expect(fp32.bf16Attentions).toBe(0);
    expect(bf16.bf16Attentions).toBe(LAYERS);
    expect(bf16.bf16MatMuls).toBe(4 * LAYERS); // Q, K and V one packed linear, attention output, FFN up and down
    expect(bf16f.bf16Attentions).toBe(0);
    expect(bf16f.bf16MatMuls).toBe(4 * LAYERS);
    expect(ort.bf16Attentions).toBe(0);
    const a = await fp32.predict(pairs);
    const b = await bf16.predict(pairs);
    const bf = await bf16f.predict(pairs);
    // Measured (activation 'none'): bf16 attention 4.7e-3 from float32 attention, 5.8e-3 from fp32 (bf16 linears
    // alone: 5.1e-3).
    expect(maxAbsDiff(b, bf)).toBeGreaterThan(1e-4);
    expect(maxAbsDiff(b, bf)).toBeLessThan(0.02);
    expect(maxAbsDiff(b, a)).toBeLessThan(0.025);
    // Each row's products are its own: alone as in a padded batch, within the fp32 bar.
    for (const i of [0, 3, pairs.length - 2, pairs.length - 1]) {
      expect(maxAbsDiff(await bf16.predict([pairs[i]]), [b[i]])).toBeLessThan(1e-5);
    }
    for (const m of [fp32, bf16, bf16f, ort]) m.dispose();
  });

  it.skipIf(!HAS_BF16)("quantize 'int8' with WINNOW_ATTENTION_BF16=1: every block in bf16 (by default none); kernels 'onnxruntime' none", async () => {
    const fp32 = await CrossEncoder.load(CE, { threads: 1, activation: 'none' });
    const int8 = await withBf16Attention(() => CrossEncoder.load(CE, { threads: 1, activation: 'none', quantize: 'int8' }));
    const int8f = await CrossEncoder.load(CE, { threads: 1, activation: 'none', quantize: 'int8' });
    const ort = await withBf16Attention(() => CrossEncoder.load(CE, { threads: 1, activation: 'none', quantize: 'int8', kernels: 'onnxruntime' }));
    expect(int8.bf16Attentions).toBe(LAYERS);
    expect(int8.quantizedMatMuls).toBe(int8f.quantizedMatMuls);
    expect(int8f.bf16Attentions).toBe(0);
    expect(ort.bf16Attentions).toBe(0);
    const a = await fp32.predict(pairs);
    const q = await int8.predict(pairs);
    const qf = await int8f.predict(pairs);
    // Measured: bf16 attention 0.015 from float32 attention, 0.025 from fp32 (int8 linears alone: 0.029).
    expect(maxAbsDiff(q, qf)).toBeGreaterThan(1e-4);
    expect(maxAbsDiff(q, qf)).toBeLessThan(0.05);
    expect(maxAbsDiff(q, a)).toBeLessThan(0.06);
    for (const m of [fp32, int8, int8f, ort]) m.dispose();
  });

  it.skipIf(!HAS_BF16)('SentenceEncoder: the same', async () => {
    const dir = path.join(CKPT, 'bert-bare');
    const fp32 = await SentenceEncoder.load(dir, { threads: 1 });
    const bf16 = await withBf16Attention(() => SentenceEncoder.load(dir, { threads: 1, dtype: 'bf16' }));
    const bf16f = await SentenceEncoder.load(dir, { threads: 1, dtype: 'bf16' });
    expect(fp32.bf16Attentions).toBe(0);
    expect(bf16.bf16Attentions).toBe(LAYERS);
    expect(bf16f.bf16Attentions).toBe(0);
    const texts = pairs.map((p) => p[1]);
    const b = (await bf16.encode(texts)).toArray();
    const bf = (await bf16f.encode(texts)).toArray();
    let worst = 0;
    for (let i = 0; i < texts.length; i++) worst = Math.max(worst, maxAbsDiff(b[i], bf[i]));
    // Measured: 8.2e-3.
    expect(worst).toBeGreaterThan(1e-5);
    expect(worst).toBeLessThan(0.02);
    for (const m of [fp32, bf16, bf16f]) m.dispose();
  });

  it('a CPU without bf16 instructions (forced): int8 loads with float32 attention', () => {
    const r = inChild({ WINNOW_BF16_KERNEL: 'none', WINNOW_ATTENTION_BF16: '1' }, { quantize: 'int8' });
    expect(r.code).toBeUndefined();
    expect(r.count).toBe(0);
    expect(r.scores.length).toBe(40);
  });

  it.skipIf(!/\bamx_bf16\b/.test(cpuinfo))('AVX512-BF16 (forced) runs it too, close to AMX', () => {
    const amx = inChild({ WINNOW_ATTENTION_BF16: '1' }, { dtype: 'bf16' });
    const avx = inChild({ WINNOW_BF16_KERNEL: 'avx512bf16', WINNOW_ATTENTION_BF16: '1' }, { dtype: 'bf16' });
    const off = inChild({}, { dtype: 'bf16' });
    expect(amx.count).toBe(LAYERS);
    expect(avx.count).toBe(LAYERS);
    expect(off.count).toBe(0);
    // Their float32 sums differ in order only, in attention and in the linear layers (WINNOW_BF16_KERNEL switches
    // both), but a last bit can round a later bf16 operand the other way: measured 1.3e-3 apart, against 2.8e-3 that
    // bf16 attention moves these logits.
    expect(maxAbsDiff(amx.scores, avx.scores)).toBeLessThan(maxAbsDiff(amx.scores, off.scores));
  });
});
