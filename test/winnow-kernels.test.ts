// The `kernels` load option (issue #31): graphs Winnow builds from a checkpoint use Winnow's own CPU operators unless
// `kernels: 'onnxruntime'`. Each operator's own tests are beside it; here the option itself.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CrossEncoder } from '../lib/index';
import { errorOf } from './helpers/errors';
import { profiled } from './helpers/profile';
import { corpusPairs, FIXTURES, maxAbsDiff } from './helpers/reference';

const CKPT = path.join(FIXTURES, '..', 'checkpoints', 'bert-cls');

describe('kernels', () => {
  it("'winnow' and 'onnxruntime' score a built graph alike (within 1e-5); other values are INVALID_ARGUMENT", async () => {
    const pairs = corpusPairs(24);
    const winnow = await CrossEncoder.load(CKPT, { threads: 1, kernels: 'winnow' });
    const ort = await CrossEncoder.load(CKPT, { threads: 1, kernels: 'onnxruntime' });
    expect(maxAbsDiff(await winnow.predict(pairs), await ort.predict(pairs))).toBeLessThan(1e-5);
    winnow.dispose();
    ort.dispose();
    for (const [value, shown] of [['cuda', '"cuda" of type string'], [true, 'true of type boolean']] as const) {
      const e = await errorOf(() => CrossEncoder.load(CKPT, { kernels: value as never }));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toContain('kernels');
      expect(e.message).toContain(shown);
    }
  });

  it("a classifier's last layer computes the first token's row alone, with the full graph's scores", async () => {
    const pairs = corpusPairs(24);
    const ort = await CrossEncoder.load(CKPT, { threads: 1, kernels: 'onnxruntime' });
    const reference = await ort.predict(pairs);
    ort.dispose();
    const kernels = await profiled(
      () => CrossEncoder.load(CKPT, { threads: 1, batchSize: 8 }),
      async (m) => expect(maxAbsDiff(await m.predict(pairs), reference)).toBeLessThan(1e-5),
    );
    // Output rows per Attention run: the two layers alternate, the second (last) one [batch, 1, hidden].
    const rows = kernels.filter((e) => e.op === 'Attention').map((e) => e.outputs[0][1]);
    expect(rows.length % 2).toBe(0);
    expect(rows.length).toBeGreaterThanOrEqual(2 * 3); // the load's probe run and three batches of 8
    expect(rows.filter((r) => r === 1).length).toBe(rows.length / 2);
    expect(rows.filter((r) => r > 1).length).toBe(rows.length / 2);
    // Per run, the last layer's Q projection, output projection, FFN up and FFN down take one row per pair.
    const oneRow = kernels.filter((e) => (e.op === 'MatMul' || e.op === 'FusedMatMul') && e.inputs[0][1] === 1);
    expect(oneRow.length).toBe(4 * (rows.length / 2));
  });
});
