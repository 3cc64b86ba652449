// Out-of-memory on a batch: every transformer class splits the batch in half and retries (issue #7).
// No GPU runs in CI, so the out-of-memory is injected: with WINNOW_TEST_OOM_ABOVE_ROWS=N (read when a model
// loads) any batch of more than N rows fails the way ONNX Runtime reports an allocation failure. A model
// without the split logic would reject; with it the results must equal those of an unconstrained model.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CrossEncoder, PruningEncoder, SentenceEncoder } from '../lib/index';
import { withEnv } from './helpers/env';
import { corpusPairs, FIXTURES, maxAbsDiff } from './helpers/reference';

const ENV = 'WINNOW_TEST_OOM_ABOVE_ROWS';
const pairs = corpusPairs(40).map(([q, d]) => [q, d.slice(0, 300)] as [string, string]);

function withInjectedOom<T>(rows: number, load: () => Promise<T>): Promise<T> {
  return withEnv({ [ENV]: rows }, load);
}

describe('out-of-memory batches are split and retried', () => {
  it('CrossEncoder: same scores when batches over 3 rows fail; single rows failing is an error', async () => {
    const opts = { threads: 1, batchSize: 16, tokenBudget: 1 << 20 };
    const plain = await CrossEncoder.load(path.join(FIXTURES, 'bert-ce-tiny'), opts);
    const expected = await plain.predict(pairs);
    const split = await withInjectedOom(3, () => CrossEncoder.load(path.join(FIXTURES, 'bert-ce-tiny'), opts));
    expect(maxAbsDiff(await split.predict(pairs), expected)).toBeLessThan(1e-6);
    const ranked = await split.rank(pairs[0][0], pairs.map((p) => p[1]));
    expect(ranked.map((r) => r.index)).toEqual((await plain.rank(pairs[0][0], pairs.map((p) => p[1]))).map((r) => r.index));
    const never = await withInjectedOom(0, () => CrossEncoder.load(path.join(FIXTURES, 'bert-ce-tiny'), opts));
    await expect(never.predict(pairs.slice(0, 5))).rejects.toMatchObject({ code: 'INFERENCE_FAILED', message: expect.stringMatching(/out of memory/) });
    for (const m of [plain, split, never]) m.dispose();
  });

  it('SentenceEncoder: same vectors when batches over 2 rows fail', async () => {
    const texts = pairs.map((p) => p[1]);
    const opts = { threads: 1, batchSize: 16, tokenBudget: 1 << 20 };
    const plain = await SentenceEncoder.load(path.join(FIXTURES, 'e5-tiny'), opts);
    const expected = (await plain.encode(texts)).data;
    const split = await withInjectedOom(2, () => SentenceEncoder.load(path.join(FIXTURES, 'e5-tiny'), opts));
    const got = (await split.encode(texts)).data;
    expect(got.length).toBe(expected.length);
    expect(maxAbsDiff(got, expected)).toBeLessThan(1e-6);
    // Loading runs one single-row batch to learn the embedding size: with even single rows failing, load fails.
    await expect(withInjectedOom(0, () => SentenceEncoder.load(path.join(FIXTURES, 'e5-tiny'), opts))).rejects.toMatchObject({ code: 'INFERENCE_FAILED' });
    for (const m of [plain, split]) m.dispose();
  });

  it('PruningEncoder: same scores and kept text when batches over 2 rows fail', async () => {
    const docs = pairs.slice(0, 12).map((p) => p[1]);
    const opts = { threads: 1, batchSize: 16, tokenBudget: 1 << 20 };
    const plain = await PruningEncoder.load(path.join(FIXTURES, 'pruning-bert-tiny'), opts);
    const expected = await plain.prune(pairs[0][0], docs);
    const split = await withInjectedOom(2, () => PruningEncoder.load(path.join(FIXTURES, 'pruning-bert-tiny'), opts));
    const got = await split.prune(pairs[0][0], docs);
    expect(maxAbsDiff(got.map((r) => r.rankingScore), expected.map((r) => r.rankingScore))).toBeLessThan(1e-6);
    expect(got.map((r) => r.prunedDocument)).toEqual(expected.map((r) => r.prunedDocument));
    for (const m of [plain, split]) m.dispose();
  });
});
