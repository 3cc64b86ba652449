// predictStream / encodeStream (issue 28): results in input order, equal to the batch calls, reading the input
// lazily (at most two chunks ahead), for iterables and async iterables.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CrossEncoder, SentenceEncoder } from '../lib/index';
import { errorOf } from './helpers/errors';
import { corpusPairs, FIXTURES, maxAbsDiff } from './helpers/reference';

const CE = path.join(FIXTURES, 'bert-ce-tiny');
const THREE = path.join(FIXTURES, 'bert-ce-tiny-3labels');
const E5 = path.join(FIXTURES, 'e5-tiny');

function manyPairs(n: number): Array<[string, string]> {
  const base = corpusPairs(64);
  return Array.from({ length: n }, (_, i) => [base[i % base.length][0], `${i} ${base[(i * 7) % base.length][1].slice(0, 40 + (i % 90))}`]);
}

async function collect<T>(g: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of g) out.push(x);
  return out;
}

describe('predictStream', () => {
  it('yields every score in input order, equal to predict, reading the input at most two chunks ahead', async () => {
    const ce = await CrossEncoder.load(CE, { threads: 1 });
    const pairs = manyPairs(1300);
    const all = await ce.predict(pairs);
    let pulled = 0;
    let pulledAtFirst = -1;
    function* source() {
      for (const p of pairs) {
        pulled++;
        yield p;
      }
    }
    const got: number[] = [];
    for await (const s of ce.predictStream(source(), { chunkSize: 200 })) {
      if (pulledAtFirst < 0) pulledAtFirst = pulled;
      got.push(s as number);
    }
    expect(got.length).toBe(pairs.length);
    expect(maxAbsDiff(got, all)).toBeLessThan(1e-6);
    expect(pulledAtFirst).toBeLessThanOrEqual(400);
    ce.dispose();
  });

  it('takes an async iterable, and yields a row of numLabels scores per pair for a multi-label model', async () => {
    const m = await CrossEncoder.load(THREE, { threads: 1 });
    const pairs = manyPairs(70);
    async function* source() {
      for (const p of pairs) {
        await Promise.resolve();
        yield p;
      }
    }
    const rows = (await collect(m.predictStream(source(), { chunkSize: 16 }))) as Float32Array[];
    const flat = await m.predict(pairs);
    expect(rows.length).toBe(pairs.length);
    expect(rows[5]).toBeInstanceOf(Float32Array);
    expect(maxAbsDiff(rows.flatMap((r) => Array.from(r)), flat)).toBeLessThan(1e-6);
    m.dispose();
  });

  it('closes the source when the consumer stops early, and stops with ABORTED when its signal aborts', async () => {
    const ce = await CrossEncoder.load(CE, { threads: 1 });
    let closed = false;
    function* source() {
      try {
        for (const p of manyPairs(5000)) yield p;
      } finally {
        closed = true;
      }
    }
    let n = 0;
    for await (const _ of ce.predictStream(source(), { chunkSize: 50 })) if (++n === 60) break;
    expect(closed).toBe(true);
    // The chunk read ahead was stopped and waited for: the model is idle, dispose() would not be MODEL_BUSY.
    expect(ce.counters().running).toBe(0);
    const ac = new AbortController();
    const e = await errorOf(async () => {
      let k = 0;
      for await (const _ of ce.predictStream(manyPairs(3000), { chunkSize: 100, signal: ac.signal })) if (++k === 10) ac.abort();
    });
    expect(e.code).toBe('ABORTED');
    await new Promise((r) => setTimeout(r, 50));
    ce.dispose();
  });

  it('refuses what is not iterable, and a bad chunkSize', async () => {
    const ce = await CrossEncoder.load(CE, { threads: 1 });
    expect((await errorOf(() => collect(ce.predictStream(42 as never)))).code).toBe('INVALID_ARGUMENT');
    expect((await errorOf(() => collect(ce.predictStream([], { chunkSize: 0 })))).code).toBe('INVALID_ARGUMENT');
    expect(await collect(ce.predictStream([]))).toEqual([]);
    ce.dispose();
  });
});

describe('encodeStream', () => {
  it('yields one embedding per text in order, equal to encode, with encode options', async () => {
    const enc = await SentenceEncoder.load(E5, { threads: 1 });
    const texts = manyPairs(450).map((p) => p[1]);
    const all = (await enc.encode(texts, { dimensions: 16 })).toArray();
    const got = await collect(enc.encodeStream(texts, { chunkSize: 100, dimensions: 16 }));
    expect(got.length).toBe(texts.length);
    for (const i of [0, 99, 100, 449]) expect(maxAbsDiff(got[i] as Float32Array, all[i])).toBeLessThan(1e-6);
    expect(got[3].length).toBe(16);
    // int8 rows per chunk would be quantized with each chunk's own ranges: refused without ranges.
    expect((await errorOf(() => collect(enc.encodeStream(texts, { precision: 'int8' })))).code).toBe('INVALID_ARGUMENT');
    enc.dispose();
  });
});
