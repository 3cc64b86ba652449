// The `kernels` load option (issue #31): graphs Winnow builds from a checkpoint use Winnow's own CPU operators unless
// `kernels: 'onnxruntime'`. Each operator's own tests are beside it; here the option itself.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CrossEncoder } from '../lib/index';
import { errorOf } from './helpers/errors';
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
});
