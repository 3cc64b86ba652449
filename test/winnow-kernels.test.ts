// The `kernels` load option (issue #31): graphs Winnow builds from a checkpoint use Winnow's own CPU operators unless
// `kernels: 'onnxruntime'`. Each operator's own tests are beside it; here the option itself.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
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

  it("a classifier's last layer computes the first token's row alone, with the full graph's scores", async () => {
    const pairs = corpusPairs(24);
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'winnow-first-'));
    try {
      process.env.WINNOW_PROFILE = path.join(tmp, 'p');
      const winnow = await CrossEncoder.load(CKPT, { threads: 1, batchSize: 8 }).finally(() => delete process.env.WINNOW_PROFILE);
      const ort = await CrossEncoder.load(CKPT, { threads: 1, kernels: 'onnxruntime' });
      const scores = await winnow.predict(pairs);
      expect(maxAbsDiff(scores, await ort.predict(pairs))).toBeLessThan(1e-5);
      winnow.dispose();
      ort.dispose();
      let file: string | undefined;
      for (let i = 0; i < 100 && !(file = readdirSync(tmp).find((f) => f.endsWith('.json'))); i++) await new Promise((r) => setTimeout(r, 50));
      expect(file, 'the profile written at dispose').toBeDefined();
      const events = JSON.parse(readFileSync(path.join(tmp, file!), 'utf8')) as Array<{
        cat: string; name: string;
        args?: { op_name?: string; input_type_shape?: Array<Record<string, number[]>>; output_type_shape?: Array<Record<string, number[]>> };
      }>;
      const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
      // Output rows per Attention run: the two layers alternate, the second (last) one [batch, 1, hidden].
      const rows = kernels
        .filter((e) => e.args?.op_name === 'Attention')
        .map((e) => Object.values(e.args!.output_type_shape![0])[0][1]);
      expect(rows.length % 2).toBe(0);
      expect(rows.length).toBeGreaterThanOrEqual(2 * 3); // the load's probe run and three batches of 8
      expect(rows.filter((r) => r === 1).length).toBe(rows.length / 2);
      expect(rows.filter((r) => r > 1).length).toBe(rows.length / 2);
      // Per run, the last layer's Q projection, output projection, FFN up and FFN down take one row per pair.
      const oneRow = kernels.filter((e) => e.args?.op_name === 'MatMul' && Object.values(e.args!.input_type_shape![0])[0][1] === 1);
      expect(oneRow.length).toBe(4 * (rows.length / 2));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
