// Winnow's attention operator (com.winnow Attention, issue #31) in graphs built from checkpoints: which attention
// ran, padded batches equal to rows alone, int8 at load over it. Scores against each family's reference, for both
// `kernels` values, are in checkpoint-load.test.ts and lora.test.ts; the kernel's arithmetic (every SIMD level,
// masks with holes, head sizes) in native/tests/attention_op_test.cc.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CrossEncoder, SentenceEncoder } from '../lib/index';
import { corpusPairs, maxAbsDiff, ROOT } from './helpers/reference';

const CKPT = path.join(ROOT, 'test', 'fixtures', 'checkpoints');
const LAYERS = 2; // every BERT-family fixture
// Not in the typed API: the blocks written as com.winnow Attention (fusedAttentions counts them with the others).
const winnowAttentions = (m: unknown): number =>
  (m as { native: { info(): { winnowAttentions: number } } }).native.info().winnowAttentions;

describe('com.winnow Attention in built graphs', () => {
  const pairs = corpusPairs(16);
  pairs.push([pairs[0][0], pairs.slice(0, 8).map((x) => x[1]).join(' ')], ['a', 'b']);

  for (const name of ['bert-cls', 'xlmr-cls', 'electra-cls', 'distilbert-cls']) {
    it(`${name}: every block runs as the operator with kernels 'winnow', none with 'onnxruntime'; fuseAttention has no say`, async () => {
      const winnow = await CrossEncoder.load(path.join(CKPT, name), { threads: 1, activation: 'none' });
      const ort = await CrossEncoder.load(path.join(CKPT, name), { threads: 1, activation: 'none', kernels: 'onnxruntime' });
      const plain = await CrossEncoder.load(path.join(CKPT, name), {
        threads: 1, activation: 'none', kernels: 'onnxruntime', fuseAttention: false,
      });
      const unfused = await CrossEncoder.load(path.join(CKPT, name), { threads: 1, activation: 'none', fuseAttention: false });
      expect(winnowAttentions(winnow)).toBe(LAYERS);
      expect(winnow.fusedAttentions).toBe(LAYERS);
      expect(winnowAttentions(ort)).toBe(0);
      expect(winnowAttentions(plain)).toBe(0);
      expect(plain.fusedAttentions).toBe(0);
      // The builder wrote the operator: the load-time rewrite's switch does not remove it.
      expect(winnowAttentions(unfused)).toBe(LAYERS);
      expect(unfused.fusedAttentions).toBe(LAYERS);
      // The graph with standard operators only is the plain form the operator replaces.
      const want = await plain.predict(pairs);
      expect(maxAbsDiff(await winnow.predict(pairs), want)).toBeLessThan(1e-5);
      expect(maxAbsDiff(await unfused.predict(pairs), want)).toBeLessThan(1e-5);
      for (const m of [winnow, ort, plain, unfused]) m.dispose();
    });
  }

  it('a padded batch gives each row what it gives alone (cross-encoder and sentence encoder)', async () => {
    const ce = await CrossEncoder.load(path.join(CKPT, 'bert-cls'), { threads: 2, activation: 'none' });
    expect(winnowAttentions(ce)).toBe(LAYERS);
    const batch = await ce.predict(pairs);
    for (let i = 0; i < pairs.length; i++) expect(maxAbsDiff(await ce.predict([pairs[i]]), [batch[i]])).toBeLessThan(1e-5);
    ce.dispose();
    const enc = await SentenceEncoder.load(path.join(CKPT, 'bert-bare'), { threads: 2 });
    expect(winnowAttentions(enc)).toBe(LAYERS);
    const texts = pairs.map((p) => p[1]);
    const all = (await enc.encode(texts)).toArray();
    for (const i of [0, 5, texts.length - 2, texts.length - 1]) {
      const alone = (await enc.encode([texts[i]])).toArray()[0];
      expect(maxAbsDiff(alone, all[i])).toBeLessThan(1e-5);
    }
    enc.dispose();
  });

  it("quantize: 'int8' still quantizes Q, K and V (and every other encoder linear) under the operator", async () => {
    for (const kernels of ['winnow', 'onnxruntime'] as const) {
      const int8 = await CrossEncoder.load(path.join(CKPT, 'bert-cls'), { threads: 1, quantize: 'int8', kernels });
      // Q, K, V (one packed linear under the operator), attention output, FFN up and down
      expect(int8.quantizedMatMuls).toBe(LAYERS * (kernels === 'winnow' ? 4 : 6));
      expect(winnowAttentions(int8)).toBe(kernels === 'winnow' ? LAYERS : 0);
      int8.dispose();
    }
  });
});
