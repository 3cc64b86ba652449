// Batching across calls (issue #28): concurrent calls on one model share length-sorted batches in the native core.
// Each call must still get exactly its own results (equal to the same call on a model that does not share batches),
// its own progress and its own cancellation; the counters show that batches really were shared.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CrossEncoder, PruningEncoder, SentenceEncoder } from '../lib/index';
import { corpusPairs, FIXTURES, maxAbsDiff } from './helpers/reference';

const pairs = corpusPairs(240).map(([q, d], i) => [q, d.slice(0, 30 + ((i * 53) % 500))] as [string, string]);
// Calls of different sizes and queries: the first is long, so that the others queue behind it and share a round.
const slices = [[0, 120], [120, 125], [125, 150], [150, 151], [151, 190], [190, 200], [200, 240], [30, 60]];

describe('batching across calls', () => {
  it('CrossEncoder: concurrent predict / rank calls get their own scores, as when run alone', async () => {
    const dir = path.join(FIXTURES, 'bert-ce-tiny');
    const shared = await CrossEncoder.load(dir, { threads: 2, batchSize: 8 });
    const alone = await CrossEncoder.load(dir, { threads: 2, batchSize: 8, batchAcrossCalls: false });
    const expected = await Promise.all(slices.map(([a, b]) => alone.predict(pairs.slice(a, b))));
    expect(alone.counters().sharedBatches).toBe(0);
    const progress: number[][] = slices.map(() => []);
    const got = await Promise.all(
      slices.map(([a, b], i) => shared.predict(pairs.slice(a, b), { onProgress: (p) => progress[i].push(p.done) })),
    );
    got.forEach((g, i) => {
      expect(g.length).toBe(slices[i][1] - slices[i][0]);
      expect(maxAbsDiff(g, expected[i])).toBeLessThan(1e-6);
      // Each call's progress is its own: it counts up to its own size.
      expect(progress[i].at(-1)).toBe(g.length);
    });
    const c = shared.counters();
    expect(c.sharedBatches).toBeGreaterThan(0);
    expect(c.rows).toBe(slices.reduce((n, [a, b]) => n + b - a, 0));
    expect(c.running).toBe(0);
    // rank: one query each, the documents of its slice.
    const queries = slices.map(([a]) => pairs[a][0]);
    const ranked = await Promise.all(slices.map(([a, b], i) => shared.rank(queries[i], pairs.slice(a, b).map((p) => p[1]))));
    for (let i = 0; i < slices.length; i++) {
      const want = await alone.rank(queries[i], pairs.slice(slices[i][0], slices[i][1]).map((p) => p[1]));
      expect(ranked[i].map((r) => r.index)).toEqual(want.map((r) => r.index));
      expect(maxAbsDiff(ranked[i].map((r) => r.score), want.map((r) => r.score))).toBeLessThan(1e-6);
    }
    shared.dispose();
    alone.dispose();
  });

  it('SentenceEncoder: concurrent encode calls (outputs [rows, tokens, hidden]) get their own embeddings', async () => {
    const dir = path.join(FIXTURES, 'e5-tiny');
    const texts = pairs.map((p) => p[1]);
    const shared = await SentenceEncoder.load(dir, { threads: 2, batchSize: 8 });
    const alone = await SentenceEncoder.load(dir, { threads: 2, batchSize: 8, batchAcrossCalls: false });
    const expected = await Promise.all(slices.map(([a, b]) => alone.encode(texts.slice(a, b))));
    const got = await Promise.all(slices.map(([a, b], i) => shared.encode(texts.slice(a, b), i % 2 ? { normalize: false } : {})));
    got.forEach((g, i) => {
      expect(g.rows).toBe(slices[i][1] - slices[i][0]);
      if (i % 2 === 0) expect(maxAbsDiff(g.data, expected[i].data)).toBeLessThan(1e-6);
    });
    // normalize: false is per call: those rows are not unit length, unlike the others'.
    const norm = (row: Float32Array) => Math.hypot(...row);
    expect(Math.abs(norm(got[0].row(0)) - 1)).toBeLessThan(1e-5);
    expect(shared.counters().sharedBatches).toBeGreaterThan(0);
    shared.dispose();
    alone.dispose();
  });

  it('PruningEncoder: concurrent prune calls (two outputs, per-token logits) get their own results', async () => {
    const dir = path.join(FIXTURES, 'pruning-bert-tiny');
    const shared = await PruningEncoder.load(dir, { threads: 2, batchSize: 4 });
    const alone = await PruningEncoder.load(dir, { threads: 2, batchSize: 4, batchAcrossCalls: false });
    const calls = slices.map(([a, b]) => ({ query: pairs[a][0], docs: pairs.slice(a, b).map((p) => p[1]) }));
    const expected = await Promise.all(calls.map((c) => alone.prune(c.query, c.docs)));
    const got = await Promise.all(calls.map((c) => shared.prune(c.query, c.docs)));
    got.forEach((g, i) => {
      expect(g.map((r) => r.prunedDocument)).toEqual(expected[i].map((r) => r.prunedDocument));
      expect(g.map((r) => r.keptSpans)).toEqual(expected[i].map((r) => r.keptSpans));
      expect(maxAbsDiff(g.map((r) => r.rankingScore), expected[i].map((r) => r.rankingScore))).toBeLessThan(1e-6);
    });
    expect(shared.counters().sharedBatches).toBeGreaterThan(0);
    shared.dispose();
    alone.dispose();
  });

  it('one aborted call among concurrent ones rejects alone; the others are whole', async () => {
    const dir = path.join(FIXTURES, 'bert-ce-tiny');
    const shared = await CrossEncoder.load(dir, { threads: 2, batchSize: 4 });
    const many = Array.from({ length: 12 }, (_, i) => pairs[i % pairs.length]);
    const expected = await shared.predict(many);
    const ac = new AbortController();
    const big = Array.from({ length: 3000 }, (_, i) => pairs[i % pairs.length]);
    const calls = [
      shared.predict(many),
      shared.predict(big, { signal: ac.signal, onProgress: (p) => { if (p.done > 0) ac.abort(); } }),
      shared.predict(many),
      shared.predict(many),
    ];
    const settled = await Promise.allSettled(calls);
    expect(settled[1]).toMatchObject({ status: 'rejected', reason: { code: 'ABORTED' } });
    for (const i of [0, 2, 3]) {
      expect(settled[i].status).toBe('fulfilled');
      expect(maxAbsDiff((settled[i] as PromiseFulfilledResult<Float32Array>).value, expected)).toBeLessThan(1e-6);
    }
    // The aborted call stopped early: far fewer than its 3,000 rows ran.
    expect(shared.counters().rows).toBeLessThan(12 * 4 + 3000);
    expect(shared.counters()).toMatchObject({ queued: 0, running: 0 });
    expect(() => shared.dispose()).not.toThrow();
  });

  it('concurrency bounds the calls handed to the core; batchAcrossCalls is checked', async () => {
    const dir = path.join(FIXTURES, 'bert-ce-tiny');
    const m = await CrossEncoder.load(dir, { threads: 1, concurrency: 2 });
    const p = Promise.all(Array.from({ length: 6 }, () => m.predict(pairs.slice(0, 40))));
    expect(m.counters()).toMatchObject({ running: 2, queued: 4 });
    await p;
    m.dispose();
    await expect(CrossEncoder.load(dir, { batchAcrossCalls: 'yes' as unknown as boolean })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
