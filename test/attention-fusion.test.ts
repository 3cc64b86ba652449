// fuseAttention: self-attention rewritten at load into ONNX Runtime's Attention op (Q, K, V packed) or
// MultiHeadAttention (graph_rewrite.h). On by default for float graphs on the CPU; every result is checked
// against the graph as written and against the independent reference (tokenizers + onnxruntime-node).
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CrossEncoder, PruningEncoder, SentenceEncoder } from '../lib/index';
import { withEnv } from './helpers/env';
import { corpusPairs, FIXTURES, maxAbsDiff, referenceLogits, sigmoid } from './helpers/reference';

const TINY = path.join(FIXTURES, 'bert-ce-tiny');
// Internal: how many fused blocks run as com.microsoft Attention (Q, K, V packed) rather than MultiHeadAttention.
const packed = (m: unknown): number => (m as { native: { info(): { packedAttentions: number } } }).native.info().packedAttentions;

// Pairs of very different lengths, so every batch is padded and the key-length mask matters.
function mixedPairs(): Array<[string, string]> {
  const pairs = corpusPairs(40);
  pairs.push([pairs[0][0], pairs.slice(0, 12).map((p) => p[1]).join(' ')]); // truncated at 512 tokens
  pairs.push(['q', 'a']);
  pairs.push(['ünïcödé 日本語 query', 'Ça va? 東京は日本の首都です。']);
  return pairs;
}

describe('attention fusion (fuseAttention)', () => {
  it('fuses both layers of the BERT cross-encoder and scores within 1e-5 of the reference at every batch size', async () => {
    const pairs = mixedPairs();
    const ref = (await referenceLogits(TINY, pairs, { maxLength: 512 })).map((r) => sigmoid(r[0]));
    const plain = await CrossEncoder.load(TINY, { threads: 1, fuseAttention: false });
    expect(plain.fusedAttentions).toBe(0);
    const expected = await plain.predict(pairs);
    for (const [batchSize, fuseAttention] of [[1, undefined], [7, true], [64, undefined]] as const) {
      // undefined: the CPU default fuses float graphs
      const fused = await CrossEncoder.load(TINY, { threads: 1, fuseAttention, batchSize });
      expect(fused.fusedAttentions).toBe(2);
      expect(packed(fused)).toBe(2); // Q, K, V packed into one GEMM: com.microsoft Attention
      expect(fused.fusedLayerNorms).toBe(5); // both rewrites apply together
      const got = await fused.predict(pairs);
      expect(maxAbsDiff(got, ref)).toBeLessThan(1e-5);
      expect(maxAbsDiff(got, expected)).toBeLessThan(1e-5);
      fused.dispose();
    }
    expect(Math.max(...ref) - Math.min(...ref)).toBeGreaterThan(0.01);
    plain.dispose();
  });

  it('leaves blocks as wide as the CPU default bound unfused unless fuseAttention is true', async () => {
    // The CPU default fuses blocks narrower than 768 only (no gain measured at 768 and 1024, a slower load); the
    // hook moves that bound to the fixture's width, 32.
    const atBound = await withEnv({ WINNOW_TEST_ATTENTION_AUTO_WIDTH: 32 }, () => CrossEncoder.load(TINY, { threads: 1 }));
    expect(atBound.fusedAttentions).toBe(0);
    expect(atBound.fusedLayerNorms).toBe(5); // the norms are fused whatever the width
    const asked = await withEnv({ WINNOW_TEST_ATTENTION_AUTO_WIDTH: 32 }, () =>
      CrossEncoder.load(TINY, { threads: 1, fuseAttention: true }),
    );
    expect(asked.fusedAttentions).toBe(2);
    const above = await withEnv({ WINNOW_TEST_ATTENTION_AUTO_WIDTH: 33 }, () => CrossEncoder.load(TINY, { threads: 1 }));
    expect(above.fusedAttentions).toBe(2);
    const pairs = mixedPairs();
    expect(maxAbsDiff(await atBound.predict(pairs), await asked.predict(pairs))).toBeLessThan(1e-5);
    for (const m of [atBound, asked, above]) m.dispose();
  });

  it('the MultiHeadAttention form (projections left as written) scores within 1e-5 of the reference too', async () => {
    const pairs = mixedPairs();
    const ref = (await referenceLogits(TINY, pairs, { maxLength: 512 })).map((r) => sigmoid(r[0]));
    for (const batchSize of [1, 64]) {
      const m = await withEnv({ WINNOW_ATTENTION_PACK_QKV: 0 }, () =>
        CrossEncoder.load(TINY, { threads: 1, fuseAttention: true, batchSize }));
      expect(m.fusedAttentions).toBe(2);
      expect(packed(m)).toBe(0);
      expect(maxAbsDiff(await m.predict(pairs), ref)).toBeLessThan(1e-5);
      m.dispose();
    }
  });

  it('keeps the fused graph only when it matches the file as written at load', async () => {
    // The hook multiplies every fused attention scale by 1.5: a wrong fusion the load-time probe must catch.
    const wrong = await withEnv({ WINNOW_TEST_ATTENTION_SCALE: 1.5 }, () =>
      CrossEncoder.load(TINY, { threads: 1, fuseAttention: true }));
    expect(wrong.fusedAttentions).toBe(0);
    expect(wrong.fusedLayerNorms).toBe(5); // falls back to the norm-fused graph, not to nothing
    const plain = await CrossEncoder.load(TINY, { threads: 1, fuseAttention: false });
    const pairs = mixedPairs();
    expect(maxAbsDiff(await wrong.predict(pairs), await plain.predict(pairs))).toBeLessThan(1e-6);
    // Without the hook the same load fuses: the hook, not the model, made the difference.
    const right = await withEnv({ WINNOW_TEST_ATTENTION_SCALE: 1 }, () =>
      CrossEncoder.load(TINY, { threads: 1, fuseAttention: true }));
    expect(right.fusedAttentions).toBe(2);
    for (const m of [wrong, plain, right]) m.dispose();
  });

  it('fuses with fuseLayerNorm: false too', async () => {
    const m = await CrossEncoder.load(TINY, { threads: 1, fuseAttention: true, fuseLayerNorm: false });
    expect(m.fusedAttentions).toBe(2);
    expect(m.fusedLayerNorms).toBe(0);
    const pairs = mixedPairs();
    const ref = (await referenceLogits(TINY, pairs, { maxLength: 512 })).map((r) => sigmoid(r[0]));
    expect(maxAbsDiff(await m.predict(pairs), ref)).toBeLessThan(1e-5);
    m.dispose();
  });

  it('fuses int8 graphs only when asked, and then with the very scores of the graph as written', async () => {
    // ONNX Runtime's CPU MultiHeadAttention runs the routines the graph as written runs, so the fused int8 graph
    // is kept only when it gives the same bits on the probe batch (an int8 step carries any difference far). It is
    // no faster than the graph as written, so the default leaves int8 graphs alone.
    const file = 'model_quantized.onnx';
    const pairs = mixedPairs();
    for (const options of [{}, { fuseLayerNorm: true }, { fuseLayerNorm: false }]) {
      const q = await CrossEncoder.load(TINY, { file, threads: 1, ...options });
      expect(q.fusedAttentions).toBe(0);
      q.dispose();
    }
    for (const batchSize of [1, 7, 64]) {
      const plain = await CrossEncoder.load(TINY, { file, threads: 1, batchSize, fuseAttention: false });
      const expected = await plain.predict(pairs);
      expect(Math.max(...expected) - Math.min(...expected)).toBeGreaterThan(0.01);
      for (const fuseLayerNorm of [undefined, true, false]) {
        const q = await CrossEncoder.load(TINY, { file, threads: 1, batchSize, fuseAttention: true, fuseLayerNorm });
        expect(q.fusedAttentions).toBe(2);
        expect(packed(q)).toBe(0); // int8 projections (MatMulInteger) are not packed: MultiHeadAttention
        expect(await q.predict(pairs)).toEqual(expected);
        q.dispose();
      }
      plain.dispose();
    }
  });

  it('keeps an int8 fusion only when it is bit for bit, where a float one may differ by rounding', async () => {
    // The hook scales every fused attention by 1 + 1e-4: close enough for the float graph's tolerance, not the same
    // bits, so the int8 graph falls back to the graph as written (norms still fused).
    const near = { WINNOW_TEST_ATTENTION_SCALE: 1.0001 };
    const float = await withEnv(near, () => CrossEncoder.load(TINY, { threads: 1, fuseAttention: true }));
    expect(float.fusedAttentions).toBe(2);
    const file = 'model_quantized.onnx';
    const int8 = await withEnv(near, () => CrossEncoder.load(TINY, { file, threads: 1, fuseAttention: true }));
    expect(int8.fusedAttentions).toBe(0);
    expect(int8.fusedLayerNorms).toBe(5);
    const plain = await CrossEncoder.load(TINY, { file, threads: 1 });
    const pairs = mixedPairs();
    expect(await int8.predict(pairs)).toEqual(await plain.predict(pairs));
    for (const m of [float, int8, plain]) m.dispose();
  });

  it('SentenceEncoder: the same vectors', async () => {
    const texts = mixedPairs().map((p) => p[1]);
    const plain = await SentenceEncoder.load(path.join(FIXTURES, 'e5-tiny'), { threads: 1, fuseAttention: false });
    const fused = await SentenceEncoder.load(path.join(FIXTURES, 'e5-tiny'), { threads: 1 });
    expect(fused.fusedAttentions).toBe(2);
    const a = await plain.encode(texts);
    const b = await fused.encode(texts);
    expect(maxAbsDiff(a.data, b.data)).toBeLessThan(1e-6);
    plain.dispose();
    fused.dispose();
  });

  it('PruningEncoder: the same kept text; ModernBERT (rotary attention) is left as written', async () => {
    const dir = path.join(FIXTURES, 'pruning-bert-tiny');
    const plain = await PruningEncoder.load(dir, { threads: 1, fuseAttention: false });
    const fused = await PruningEncoder.load(dir, { threads: 1 });
    expect(fused.fusedAttentions).toBe(2);
    const pairs = corpusPairs(12);
    const query = pairs[0][0];
    const docs = pairs.map((p) => p[1]);
    const a = await plain.prune(query, docs);
    const b = await fused.prune(query, docs);
    for (let i = 0; i < docs.length; i++) {
      expect(typeof a[i].prunedDocument).toBe('string');
      expect(b[i].prunedDocument).toBe(a[i].prunedDocument);
      expect(b[i].keptSpans).toEqual(a[i].keptSpans);
      expect(Math.abs(b[i].rankingScore - a[i].rankingScore)).toBeLessThan(1e-5);
    }
    // Not a trivial comparison: some documents lose text and some keep some.
    expect(a.some((r) => r.prunedDocument.length > 0 && r.compressionRatio > 0)).toBe(true);
    plain.dispose();
    fused.dispose();
    const modern = await PruningEncoder.load(path.join(FIXTURES, 'pruning-modernbert-tiny'), { threads: 1 });
    expect(modern.fusedAttentions).toBe(0);
    modern.dispose();
  });

  it('rejects a non-boolean fuseAttention', async () => {
    await expect(CrossEncoder.load(TINY, { fuseAttention: 1 as unknown as boolean })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
