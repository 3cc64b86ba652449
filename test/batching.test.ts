// Issue #7's batching on the CPU: length buckets (on by default on a GPU) and the chunked pipeline that
// tokenizes the next chunk while the current one runs. Both change only how rows are grouped and padded,
// so results must equal the plain path's within float rounding, in input order.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CrossEncoder, PruningEncoder, SentenceEncoder } from '../lib/index';
import { withEnv } from './helpers/env';
import { corpusPairs, FIXTURES, maxAbsDiff } from './helpers/reference';

const CHUNK_ENV = 'WINNOW_TEST_CHUNK_ITEMS';
const pairs = corpusPairs(90).map(([q, d], i) => [q, d.slice(0, 40 + ((i * 37) % 400))] as [string, string]);

// Chunks of `items`; `overlap`: tokenize the next chunk on a second thread as on a GPU (the CPU default is
// to tokenize it after the current one).
function withChunks<T>(items: number, load: () => Promise<T>, overlap = false): Promise<T> {
  return withEnv({ [CHUNK_ENV]: items, WINNOW_TEST_OVERLAP: overlap ? 1 : 0 }, load);
}

describe('length buckets', () => {
  it('CrossEncoder: bucketed padding gives the same scores and ranking', async () => {
    const dir = path.join(FIXTURES, 'bert-ce-tiny');
    const plain = await CrossEncoder.load(dir, { threads: 1, batchSize: 8, lengthBuckets: false });
    const bucketed = await CrossEncoder.load(dir, { threads: 1, batchSize: 8, lengthBuckets: true });
    const expected = await plain.predict(pairs);
    const got = await bucketed.predict(pairs);
    expect(got.length).toBe(pairs.length);
    expect(maxAbsDiff(got, expected)).toBeLessThan(1e-5);
    // The batches really were padded to the grid: few shapes, same real tokens, more padding.
    const cp = plain.counters();
    const cb = bucketed.counters();
    expect(cb.rows).toBe(pairs.length);
    expect(cp.rows).toBe(pairs.length);
    expect(cb.tokens).toBe(cp.tokens);
    expect(cb.paddedTokens).toBeGreaterThan(cp.paddedTokens);
    expect(cp.paddedTokens).toBeGreaterThanOrEqual(cp.tokens);
    const grid = (n: number) => (n <= 128 ? n % 16 === 0 : n <= 256 ? n % 32 === 0 : n % 64 === 0) || n === bucketed.maxLength;
    expect(cb.sequenceLengths.every(grid)).toBe(true);
    expect(cp.sequenceLengths.every(grid)).toBe(false);
    expect(cb.sequenceLengths.length).toBeLessThan(cp.sequenceLengths.length);
    expect(cb.queued).toBe(0);
    const docs = pairs.map((p) => p[1]);
    const a = await plain.rank(pairs[0][0], docs);
    const b = await bucketed.rank(pairs[0][0], docs);
    expect(b.map((r) => r.index)).toEqual(a.map((r) => r.index));
    // Three labels (softmax) read through the same row mapping.
    const three = path.join(FIXTURES, 'bert-ce-tiny-3labels');
    const p3 = await CrossEncoder.load(three, { threads: 1, batchSize: 8, lengthBuckets: false });
    const b3 = await CrossEncoder.load(three, { threads: 1, batchSize: 8, lengthBuckets: true });
    expect(maxAbsDiff(await b3.predict(pairs), await p3.predict(pairs))).toBeLessThan(1e-5);
    for (const m of [plain, bucketed, p3, b3]) m.dispose();
  });

  it('SentenceEncoder: mean and CLS pooling ignore the extra padding', async () => {
    const texts = pairs.map((p) => p[1]);
    for (const fixture of ['e5-tiny', 'e5-tiny-cls']) {
      const dir = path.join(FIXTURES, fixture);
      const plain = await SentenceEncoder.load(dir, { threads: 1, batchSize: 8, lengthBuckets: false });
      const bucketed = await SentenceEncoder.load(dir, { threads: 1, batchSize: 8, lengthBuckets: true });
      const expected = (await plain.encode(texts)).data;
      const got = (await bucketed.encode(texts)).data;
      expect(got.length).toBe(expected.length);
      expect(maxAbsDiff(got, expected)).toBeLessThan(1e-5);
      plain.dispose();
      bucketed.dispose();
    }
  });

  it('PruningEncoder: same scores, kept text and token keep decisions', async () => {
    const docs = pairs.slice(0, 24).map((p) => p[1]);
    for (const fixture of ['pruning-bert-tiny', 'pruning-modernbert-tiny']) {
      const dir = path.join(FIXTURES, fixture);
      const plain = await PruningEncoder.load(dir, { threads: 1, batchSize: 4, lengthBuckets: false });
      const bucketed = await PruningEncoder.load(dir, { threads: 1, batchSize: 4, lengthBuckets: true });
      for (const granularity of ['sentence', 'token'] as const) {
        const a = await plain.prune(pairs[0][0], docs, { granularity, returnSentences: granularity === 'sentence' });
        const b = await bucketed.prune(pairs[0][0], docs, { granularity, returnSentences: granularity === 'sentence' });
        expect(b.map((r) => r.prunedDocument)).toEqual(a.map((r) => r.prunedDocument));
        expect(b.map((r) => r.keptSpans)).toEqual(a.map((r) => r.keptSpans));
        expect(maxAbsDiff(b.map((r) => r.rankingScore), a.map((r) => r.rankingScore))).toBeLessThan(1e-5);
        if (granularity === 'sentence') {
          const pa = a.flatMap((r) => r.sentences!.map((s) => s.probability));
          const pb = b.flatMap((r) => r.sentences!.map((s) => s.probability));
          expect(pa.length).toBeGreaterThan(docs.length);
          expect(maxAbsDiff(pb, pa)).toBeLessThan(1e-5);
        }
      }
      expect(maxAbsDiff(await bucketed.predict(pairs), await plain.predict(pairs))).toBeLessThan(1e-5);
      plain.dispose();
      bucketed.dispose();
    }
  });

  it('rejects a lengthBuckets that is not a boolean', async () => {
    await expect(
      CrossEncoder.load(path.join(FIXTURES, 'bert-ce-tiny'), { lengthBuckets: 1 as unknown as boolean }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('where batches are cut (CPU)', () => {
  it('a short pair is not padded to a long one when a batch of its own costs less', async () => {
    const dir = path.join(FIXTURES, 'bert-ce-tiny');
    const ce = await CrossEncoder.load(dir, { threads: 1 });
    const long: [string, string] = ['what is this', Array(300).fill('word').join(' ')];
    const short: [string, string][] = [['a', 'b'], ['c', 'd']];
    const alone = [...(await ce.predict([long])), ...(await ce.predict(short))];
    const before = ce.counters();
    const got = await ce.predict([long, ...short]);
    const c = ce.counters();
    // Greedy packing (rows x longest within the 1024-token budget) ran all three in one batch padded to ~300.
    expect(c.batches - before.batches).toBe(2);
    expect(c.paddedTokens - before.paddedTokens).toBe(c.tokens - before.tokens);
    expect(maxAbsDiff(got, alone)).toBeLessThan(1e-5);
    // Rows of one length still share a batch.
    const mark = ce.counters().batches;
    await ce.predict(Array(8).fill(short[0]));
    expect(ce.counters().batches - mark).toBe(1);
  });
});

describe('chunked tokenization pipeline', () => {
  it('CrossEncoder: chunks of 7 pairs, tokenized while the previous chunk runs, give the plain scores in input order, with progress over all pairs', async () => {
    const dir = path.join(FIXTURES, 'bert-ce-tiny');
    const opts = { threads: 2, batchSize: 4 };
    const plain = await CrossEncoder.load(dir, opts);
    const chunked = await withChunks(7, () => CrossEncoder.load(dir, opts), true);
    const expected = await plain.predict(pairs);
    const seen: Array<[number, number]> = [];
    const got = await chunked.predict(pairs, { onProgress: (p) => seen.push([p.done, p.total]) });
    expect(maxAbsDiff(got, expected)).toBeLessThan(1e-5);
    // Sorting within chunks of 7 packs worse than sorting all 90 pairs: more batches, same rows and tokens.
    expect(chunked.counters().rows).toBe(pairs.length);
    expect(chunked.counters().tokens).toBe(plain.counters().tokens);
    expect(chunked.counters().batches).toBeGreaterThan(plain.counters().batches);
    expect(seen.length).toBeGreaterThanOrEqual(Math.ceil(pairs.length / 7));
    expect(seen.every(([, total]) => total === pairs.length)).toBe(true);
    expect(seen.every(([done], i) => i === 0 || done > seen[i - 1][0])).toBe(true);
    expect(seen[seen.length - 1][0]).toBe(pairs.length);
    // rank() goes through the same pipeline (one query).
    const docs = pairs.map((p) => p[1]);
    expect((await chunked.rank('who wrote it', docs)).map((r) => r.index)).toEqual(
      (await plain.rank('who wrote it', docs)).map((r) => r.index),
    );
    // Sizes around the chunk edge, and nothing.
    for (const n of [0, 1, 6, 7, 8, 14, 15]) {
      expect(maxAbsDiff(await chunked.predict(pairs.slice(0, n)), expected.slice(0, n))).toBeLessThan(1e-5);
    }
    plain.dispose();
    chunked.dispose();
  });

  it('CrossEncoder: abort stops a chunked call', async () => {
    const dir = path.join(FIXTURES, 'bert-ce-tiny');
    const chunked = await withChunks(5, () => CrossEncoder.load(dir, { threads: 1, batchSize: 2 }), true);
    const many = Array.from({ length: 40 }, () => pairs).flat();
    const ac = new AbortController();
    let calls = 0;
    const p = chunked.predict(many, {
      signal: ac.signal,
      onProgress: () => {
        if (++calls === 3) ac.abort();
      },
    });
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
    // The model is usable afterwards.
    expect((await chunked.predict(pairs.slice(0, 3))).length).toBe(3);
    chunked.dispose();
  });

  it('SentenceEncoder and PruningEncoder.predict: chunked results equal plain ones (chunks one after another, as on a CPU)', async () => {
    const texts = pairs.map((p) => p[1]);
    const e5 = path.join(FIXTURES, 'e5-tiny');
    const plain = await SentenceEncoder.load(e5, { threads: 2, batchSize: 4 });
    const chunked = await withChunks(6, () => SentenceEncoder.load(e5, { threads: 2, batchSize: 4 }));
    const a = await plain.encode(texts, { prompt: 'query: ' });
    const b = await chunked.encode(texts, { prompt: 'query: ' });
    expect(b.data.length).toBe(a.data.length);
    expect(maxAbsDiff(b.data, a.data)).toBeLessThan(1e-5);

    const pr = path.join(FIXTURES, 'pruning-bert-tiny');
    const pp = await PruningEncoder.load(pr, { threads: 2, batchSize: 4 });
    const pc = await withChunks(6, () => PruningEncoder.load(pr, { threads: 2, batchSize: 4 }));
    expect(maxAbsDiff(await pc.predict(pairs), await pp.predict(pairs))).toBeLessThan(1e-5);
    for (const m of [plain, chunked, pp, pc]) m.dispose();
  });
});

// WINNOW_IO_BINDING=1 (off by default until measured on a GPU): every run goes through an IoBinding whose input
// buffers are pooled and reused (pinned memory on CUDA, ordinary memory here), outputs bound to host memory.
describe('I/O binding', () => {
  const ioBinding = (m: unknown): string => (m as { native: { info(): { ioBinding: string } } }).native.info().ioBinding;
  const bound = <T>(load: () => Promise<T>) => withEnv({ WINNOW_IO_BINDING: 1 }, load);

  it('CrossEncoder: the same scores, also with three calls at once', async () => {
    const dir = path.join(FIXTURES, 'bert-ce-tiny');
    const plain = await CrossEncoder.load(dir, { threads: 1, batchSize: 8 });
    const b = await bound(() => CrossEncoder.load(dir, { threads: 1, batchSize: 8, concurrency: 3 }));
    expect(ioBinding(plain)).toBe('off');
    expect(ioBinding(b)).toBe('host');
    const expected = await plain.predict(pairs);
    const got = await Promise.all([b.predict(pairs), b.predict(pairs.slice(7)), b.predict(pairs)]);
    expect(Array.from(got[0])).toEqual(Array.from(expected));
    expect(Array.from(got[1])).toEqual(Array.from(expected.slice(7)));
    expect(Array.from(got[2])).toEqual(Array.from(expected));
    plain.dispose();
    b.dispose();
  });

  it('SentenceEncoder and PruningEncoder: the same results', async () => {
    const texts = pairs.map((p) => p[1]);
    const e5 = path.join(FIXTURES, 'e5-tiny');
    const plain = await SentenceEncoder.load(e5, { threads: 1 });
    const b = await bound(() => SentenceEncoder.load(e5, { threads: 1 }));
    expect(ioBinding(b)).toBe('host');
    expect(maxAbsDiff((await b.encode(texts)).data, (await plain.encode(texts)).data)).toBe(0);
    plain.dispose();
    b.dispose();
    const dir = path.join(FIXTURES, 'pruning-bert-tiny');
    const pp = await PruningEncoder.load(dir, { threads: 1 });
    const pb = await bound(() => PruningEncoder.load(dir, { threads: 1 }));
    expect(ioBinding(pb)).toBe('host');
    const a = await pp.prune(pairs[0][0], texts.slice(0, 20));
    const c = await pb.prune(pairs[0][0], texts.slice(0, 20));
    expect(c.map((r) => r.prunedDocument)).toEqual(a.map((r) => r.prunedDocument));
    expect(maxAbsDiff(c.map((r) => r.rankingScore), a.map((r) => r.rankingScore))).toBe(0);
    pp.dispose();
    pb.dispose();
  });
});
