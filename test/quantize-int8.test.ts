// quantize: 'int8' at load (issue #31): the encoder's linear layers run as int8 DynamicQuantizeMatMul, the
// embeddings and the task head stay float. The arithmetic itself is checked against numpy in
// native/tests/quantize_int8_test.cc; here: every pipeline and a graph built from a checkpoint get it, with the
// count of quantized layers each model must have, scores near fp32 but not equal to them, the option validated,
// and a file quantized already loaded as it is.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CrossEncoder, PruningEncoder, SentenceEncoder } from '../lib/index';
import { errorOf } from './helpers/errors';
import { corpusPairs, FIXTURES, maxAbsDiff, ROOT } from './helpers/reference';
import { cosine } from './helpers/st-reference';

const CE = path.join(FIXTURES, 'bert-ce-tiny');
// Two BERT layers: Q, K, V, attention output, FFN up and down each. A pooler + classifier (or pruning head) more
// would mean the head was quantized too.
const ENCODER_LINEARS = 2 * 6;
// A graph built from a checkpoint with Winnow's operators packs Q, K and V into one linear: 4 a layer.
const BUILT_LINEARS = 2 * 4;

// Largest |int8 - fp32| measured on these pairs: bert-ce-tiny 0.050, pruning-bert-tiny 0.037, bert-cls 0.004
// (random tiny weights, so larger than on real models: docs/benchmark.md).
const SCORE_BOUND = 0.1;

describe("quantize: 'int8'", () => {
  const pairs = corpusPairs(40);

  it('CrossEncoder: the encoder linears are int8, the pooler and classifier float; scores near fp32, not equal', async () => {
    const fp32 = await CrossEncoder.load(CE, { threads: 1 });
    const int8 = await CrossEncoder.load(CE, { threads: 1, quantize: 'int8' });
    expect(fp32.quantizedMatMuls).toBe(0);
    expect(int8.quantizedMatMuls).toBe(ENCODER_LINEARS);
    expect(int8.fusedLayerNorms).toBe(fp32.fusedLayerNorms); // norms stay Winnow's exact LayerNorm
    const a = await fp32.predict(pairs);
    const b = await int8.predict(pairs);
    expect(maxAbsDiff(a, b)).toBeLessThan(SCORE_BOUND);
    expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-4);
    // Batched as alone: the activations are quantized per batch, so only near.
    const alone = await int8.predict([pairs[3]]);
    expect(Math.abs(alone[0] - b[3])).toBeLessThan(SCORE_BOUND);
    fp32.dispose();
    int8.dispose();
  });

  it('PruningEncoder: the pruning head stays float', async () => {
    const dir = path.join(FIXTURES, 'pruning-bert-tiny');
    const fp32 = await PruningEncoder.load(dir, { threads: 1 });
    const int8 = await PruningEncoder.load(dir, { threads: 1, quantize: 'int8' });
    expect(int8.quantizedMatMuls).toBe(ENCODER_LINEARS);
    const a = await fp32.predict(pairs);
    const b = await int8.predict(pairs);
    expect(maxAbsDiff(a, b)).toBeLessThan(SCORE_BOUND);
    expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-4);
    fp32.dispose();
    int8.dispose();
  });

  it('SentenceEncoder: every linear of an encoder without a head; embeddings near fp32', async () => {
    const dir = path.join(FIXTURES, 'e5-tiny');
    const fp32 = await SentenceEncoder.load(dir, { threads: 1 });
    const int8 = await SentenceEncoder.load(dir, { threads: 1, quantize: 'int8' });
    expect(int8.quantizedMatMuls).toBe(ENCODER_LINEARS);
    const texts = pairs.map((p) => p[1]);
    const a = await fp32.encode(texts);
    const b = await int8.encode(texts);
    let worst = 1;
    for (let i = 0; i < texts.length; i++) worst = Math.min(worst, cosine(a.row(i), b.row(i)));
    expect(worst).toBeGreaterThan(0.999); // measured 0.9999
    expect(maxAbsDiff(a.row(0), b.row(0))).toBeGreaterThan(0);
    fp32.dispose();
    int8.dispose();
  });

  it('a graph built from a checkpoint is quantized the same way', async () => {
    const dir = path.join(ROOT, 'test', 'fixtures', 'checkpoints', 'bert-cls');
    const fp32 = await CrossEncoder.load(dir, { threads: 1 });
    const int8 = await CrossEncoder.load(dir, { threads: 1, quantize: 'int8' });
    expect(int8.source.built).toBe(true);
    expect(int8.quantizedMatMuls).toBe(BUILT_LINEARS);
    const a = await fp32.predict(pairs);
    const b = await int8.predict(pairs);
    expect(maxAbsDiff(a, b)).toBeLessThan(SCORE_BOUND);
    expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-5);
    fp32.dispose();
    int8.dispose();
  });

  it('a file quantized already (model_quantized.onnx) is loaded as it is', async () => {
    const plain = await CrossEncoder.load(CE, { threads: 1, file: 'model_quantized.onnx' });
    const asked = await CrossEncoder.load(CE, { threads: 1, file: 'model_quantized.onnx', quantize: 'int8' });
    expect(asked.quantizedMatMuls).toBe(0);
    expect(Array.from(await asked.predict(pairs))).toEqual(Array.from(await plain.predict(pairs)));
    plain.dispose();
    asked.dispose();
  });

  it("false is the default; anything but 'int8' or false is INVALID_ARGUMENT", async () => {
    const off = await CrossEncoder.load(CE, { threads: 1, quantize: false });
    const unset = await CrossEncoder.load(CE, { threads: 1 });
    expect(off.quantizedMatMuls).toBe(0);
    expect(Array.from(await off.predict(pairs))).toEqual(Array.from(await unset.predict(pairs)));
    off.dispose();
    unset.dispose();
    for (const [value, shown] of [['int4', '"int4" of type string'], [true, 'true of type boolean'], [8, '8 of type number']] as const) {
      const e = await errorOf(() => CrossEncoder.load(CE, { quantize: value as never }));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toBe(`Expected 'int8' or false for quantize but received ${shown}`);
    }
    for (const load of [
      () => SentenceEncoder.load(path.join(FIXTURES, 'e5-tiny'), { quantize: 'uint8' as never }),
      () => PruningEncoder.load(path.join(FIXTURES, 'pruning-bert-tiny'), { quantize: 'fp16' as never }),
    ])
      expect((await errorOf(load)).code).toBe('INVALID_ARGUMENT');
  });
});
