// Arrays a caller passes are checked element by element before anything is sized from their length (a sparse
// array can report 2^32 - 1, a Proxy anything), holes are refused with INVALID_ARGUMENT like any other bad element,
// and results too large to hold are refused before any work (issue 32, items 4 and 5). Cases whose failure
// before the fix was a hang or a fatal error run in a child process.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrossEncoder, PruningEncoder, SentenceEncoder, StaticModel, Tokenizer, semanticSearch, similarity, similarityPairwise } from '../lib/index';
import { FIXTURES } from './helpers/reference';
import { errorOf } from './helpers/errors';

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist', 'cjs', 'index.js');
const CE = path.join(FIXTURES, 'bert-ce-tiny');
const PRUNE = path.join(FIXTURES, 'pruning-bert-tiny');
const E5 = path.join(FIXTURES, 'e5-tiny');
const POTION = path.join(FIXTURES, 'potion-tiny');

interface Models {
  ce: CrossEncoder;
  pe: PruningEncoder;
  se: SentenceEncoder;
  sm: StaticModel;
  tok: Tokenizer;
}

/** One public entry point that takes an array: how to call it with `arr`, and a valid element of that array. */
interface Entry {
  name: string;
  valid: unknown;
  call: (m: Models, arr: unknown) => unknown;
}

const VEC = [1, 2];
const ENTRIES: Entry[] = [
  { name: 'CrossEncoder.predict', valid: ['q', 'a'], call: (m, a) => m.ce.predict(a as never) },
  { name: 'CrossEncoder.rank', valid: 'a', call: (m, a) => m.ce.rank('q', a as never) },
  { name: 'PruningEncoder.prune', valid: 'a', call: (m, a) => m.pe.prune('q', a as never) },
  { name: 'PruningEncoder.prune (pre-split document)', valid: 'a', call: (m, a) => m.pe.prune('q', [a as never]) },
  { name: 'PruningEncoder.predict', valid: ['q', 'a'], call: (m, a) => m.pe.predict(a as never) },
  { name: 'PruningEncoder.predictWithPruning', valid: ['q', 'a'], call: (m, a) => m.pe.predictWithPruning(a as never) },
  { name: 'SentenceEncoder.encode', valid: 'a', call: (m, a) => m.se.encode(a as never) },
  { name: 'SentenceEncoder.encodeQuery', valid: 'a', call: (m, a) => m.se.encodeQuery(a as never) },
  { name: 'SentenceEncoder.encodeDocument', valid: 'a', call: (m, a) => m.se.encodeDocument(a as never) },
  { name: 'StaticModel.encode', valid: 'a', call: (m, a) => m.sm.encode(a as never) },
  { name: 'StaticModel.encodeSync', valid: 'a', call: (m, a) => m.sm.encodeSync(a as never) },
  { name: 'StaticModel.encodeAsSequence', valid: 'a', call: (m, a) => m.sm.encodeAsSequence(a as never) },
  { name: 'StaticModel.countTokens', valid: 'a', call: (m, a) => m.sm.countTokens(a as never) },
  { name: 'Tokenizer.encodeBatch', valid: 'a', call: (m, a) => m.tok.encodeBatch(a as never) },
  { name: 'Tokenizer.encodeBatch (pairs)', valid: ['q', 'a'], call: (m, a) => m.tok.encodeBatch(a as never) },
  { name: 'Tokenizer.decode', valid: 101, call: (m, a) => m.tok.decode(a as never) },
  { name: 'Tokenizer.decodeBatch', valid: [101], call: (m, a) => m.tok.decodeBatch(a as never) },
  { name: 'similarity (rows)', valid: VEC, call: (_m, a) => similarity(a as never, [VEC]) },
  { name: 'similarity (one vector)', valid: 1, call: (_m, a) => similarity(a as never, [VEC]) },
  { name: 'similarity (b)', valid: VEC, call: (_m, a) => similarity([VEC], a as never) },
  { name: 'similarityPairwise', valid: VEC, call: (_m, a) => similarityPairwise(a as never, a as never) },
  { name: 'semanticSearch (queries)', valid: VEC, call: (_m, a) => semanticSearch(a as never, [VEC]) },
  { name: 'semanticSearch (corpus)', valid: VEC, call: (_m, a) => semanticSearch([VEC], a as never) },
  { name: 'SentenceEncoder.similarity', valid: VEC, call: (m, a) => m.se.similarity(a as never, [VEC]) },
];

/**
 * An array Proxy reporting `length`, with `valid` at index 0 and holes after it, that counts the elements read
 * (get and has of an index) and throws once more than 16 are: a call that walks the whole length fails fast.
 */
function countingProxy(length: number, valid: unknown, element: (i: number) => unknown = (i) => (i === 0 ? valid : undefined)) {
  const counter = { touched: 0 };
  const index = (key: string | symbol) => typeof key === 'string' && /^\d+$/.test(key);
  const touch = () => {
    if (++counter.touched > 16) throw new Error('touched more than 16 elements');
  };
  const proxy = new Proxy([] as unknown[], {
    get(target, key, receiver) {
      if (key === 'length') return length;
      if (index(key)) {
        touch();
        return element(Number(key));
      }
      return Reflect.get(target, key, receiver);
    },
    has(target, key) {
      if (index(key)) {
        touch();
        return element(Number(key)) !== undefined;
      }
      return Reflect.has(target, key);
    },
  });
  return { proxy, counter };
}

let models: Models;
beforeAll(async () => {
  models = {
    ce: await CrossEncoder.load(CE, { threads: 1 }),
    pe: await PruningEncoder.load(PRUNE, { threads: 1 }),
    se: await SentenceEncoder.load(E5, { threads: 1 }),
    sm: await StaticModel.load(POTION, { threads: 1 }),
    tok: await Tokenizer.fromFile(path.join(CE, 'tokenizer.json')),
  };
});
afterAll(() => {
  for (const m of Object.values(models ?? {})) m.dispose();
});

describe('arrays are checked before anything is sized from their length', () => {
  for (const entry of ENTRIES) {
    it(`${entry.name}: a Proxy reporting 1e9 elements is refused after touching at most a handful`, async () => {
      const { proxy, counter } = countingProxy(1e9, entry.valid);
      const e = await errorOf(() => entry.call(models, proxy));
      expect(e.code, e.message).toBe('INVALID_ARGUMENT');
      expect(e).toBeInstanceOf(RangeError);
      expect(counter.touched).toBeLessThanOrEqual(4);
    });

    it(`${entry.name}: a Proxy of 1000 elements with a hole at 1 is refused there, having read only elements 0 and 1`, async () => {
      const { proxy, counter } = countingProxy(1000, entry.valid);
      const e = await errorOf(() => entry.call(models, proxy));
      expect(e.code, e.message).toBe('INVALID_ARGUMENT');
      expect(e.message).toMatch(/\[1\]/);
      expect(e.message).toMatch(/undefined/);
      expect(counter.touched).toBeLessThanOrEqual(4);
    });

    it(`${entry.name}: a hole is refused as INVALID_ARGUMENT naming its index`, async () => {
      // eslint-disable-next-line no-sparse-arrays
      const holed = [, entry.valid];
      const e = await errorOf(() => entry.call(models, holed));
      expect(e.code, e.message).toBe('INVALID_ARGUMENT');
      expect(e).toBeInstanceOf(TypeError);
      expect(e.message).toMatch(/\[0\] but received undefined of type undefined/);
    });
  }

  it('a hole inside one vector of numbers is refused, not read as NaN', async () => {
    // eslint-disable-next-line no-sparse-arrays
    const e = await errorOf(() => similarity([1, , 3] as never, [[1, 2, 3]]));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/^Expected a number for a\[1\] but received undefined/);
  });

  it('prune refuses a document that is a hole with the usual message shape', async () => {
    // eslint-disable-next-line no-sparse-arrays
    const e = await errorOf(() => models.pe.prune('q', [, 'a'] as never));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toBe('Expected a string or an array of strings for documents[0] but received undefined of type undefined');
  });

  it('valid arrays read through a Proxy give what the plain array gives', async () => {
    const docs = ['the cat sat', 'a dog ran', 'cats and dogs'];
    const { proxy } = countingProxy(docs.length, undefined, (i) => docs[i]);
    expect(await models.ce.rank('cat', proxy as never)).toEqual(await models.ce.rank('cat', docs));
    const pruned = await models.pe.prune('cat', proxy as never);
    expect(pruned.map((r) => r.prunedDocument)).toEqual((await models.pe.prune('cat', docs)).map((r) => r.prunedDocument));
  });

  it('encode refuses, before reading any text, a call whose result no typed array can hold', async () => {
    for (const call of [(a: unknown) => models.sm.encode(a as never), (a: unknown) => models.sm.encodeSync(a as never), (a: unknown) => models.se.encode(a as never)]) {
      const { proxy, counter } = countingProxy(2 ** 28, undefined, () => 'a');
      const e = await errorOf(() => call(proxy));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e).toBeInstanceOf(RangeError);
      expect(e.message).toMatch(/^The result would hold 268435456 × (16|32) = \d+ values, more than the 4294967295 one typed array holds/);
      expect(counter.touched).toBe(0);
    }
  });
});

/** Runs `body` (CommonJS, with `w` = the built package and `fixtures` the fixture folder) in a child process. */
function child(body: string, opts: { nodeArgs?: string[]; ulimitKb?: number; timeout?: number } = {}) {
  const script = `const w = require(${JSON.stringify(DIST)}); const fixtures = ${JSON.stringify(FIXTURES)};
const out = (x) => process.stdout.write(JSON.stringify(x) + '\\n');
const report = (name, e) => out({ name, code: e && e.code, type: e && e.constructor && e.constructor.name, message: e && e.message });
(async () => { ${body} })().then(() => out({ done: true }), (e) => { out({ crashed: String(e && e.stack) }); });`;
  const node = [process.execPath, ...(opts.nodeArgs ?? []), '-e', script];
  const cmd = opts.ulimitKb ? ['bash', ['-c', `ulimit -v ${opts.ulimitKb} && exec "$@"`, 'bash', ...node]] as const : [node[0], node.slice(1)] as const;
  const r = spawnSync(cmd[0], [...cmd[1]], { encoding: 'utf8', timeout: opts.timeout ?? 60_000, killSignal: 'SIGKILL' });
  const lines = (r.stdout ?? '').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return { status: r.status, signal: r.signal, stderr: (r.stderr ?? '').slice(-2000), lines };
}

describe('sparse arrays of length 2^32 - 1 (child process)', () => {
  it('every entry point refuses one at once with INVALID_ARGUMENT', () => {
    const r = child(`
      const ce = await w.CrossEncoder.load(fixtures + '/bert-ce-tiny', { threads: 1 });
      const pe = await w.PruningEncoder.load(fixtures + '/pruning-bert-tiny', { threads: 1 });
      const se = await w.SentenceEncoder.load(fixtures + '/e5-tiny', { threads: 1 });
      const sm = await w.StaticModel.load(fixtures + '/potion-tiny', { threads: 1 });
      const tok = await w.Tokenizer.fromFile(fixtures + '/bert-ce-tiny/tokenizer.json');
      const sparse = (valid) => { const a = []; a[0] = valid; a.length = 2 ** 32 - 1; return a; };
      const calls = {
        'CrossEncoder.predict': () => ce.predict(sparse(['q', 'a'])),
        'CrossEncoder.rank': () => ce.rank('q', sparse('a')),
        'PruningEncoder.prune': () => pe.prune('q', sparse('a')),
        'PruningEncoder.prune (pre-split)': () => pe.prune('q', [sparse('a')]),
        'PruningEncoder.predict': () => pe.predict(sparse(['q', 'a'])),
        'PruningEncoder.predictWithPruning': () => pe.predictWithPruning(sparse(['q', 'a'])),
        'SentenceEncoder.encode': () => se.encode(sparse('a')),
        'StaticModel.encode': () => sm.encode(sparse('a')),
        'StaticModel.encodeSync': () => sm.encodeSync(sparse('a')),
        'StaticModel.encodeAsSequence': () => sm.encodeAsSequence(sparse('a')),
        'StaticModel.countTokens': () => sm.countTokens(sparse('a')),
        'Tokenizer.encodeBatch': () => tok.encodeBatch(sparse('a')),
        'similarity': () => w.similarity(sparse([1, 2]), [[1, 2]]),
        'similarity (one vector)': () => w.similarity(sparse(1), [[1, 2]]),
        'semanticSearch': () => w.semanticSearch([[1, 2]], sparse([1, 2])),
      };
      for (const [name, f] of Object.entries(calls)) {
        try { await f(); report(name, null); } catch (e) { report(name, e); }
      }`);
    expect(r.signal, r.stderr).toBeNull();
    expect(r.lines.at(-1), r.stderr).toEqual({ done: true });
    const results = r.lines.slice(0, -1);
    expect(results).toHaveLength(15);
    for (const x of results) {
      expect(x.code, `${x.name}: ${x.message}`).toBe('INVALID_ARGUMENT');
      expect(x.type, x.name).toBe('RangeError');
      expect(x.message, x.name).toMatch(/4294967295/);
    }
  });
});

describe('results too large to hold (child process)', () => {
  it('similarity of 200,000 × 200,000 rows is a RangeError naming the size and semanticSearch, not a fatal error', () => {
    const r = child(`
      const e = new w.Embeddings(new Float32Array(200000), 200000, 1);
      try { w.similarity(e, e); report('similarity', null); } catch (x) { report('similarity', x); }
      try { w.similarity(e, e, 'dot'); report('similarity dot', null); } catch (x) { report('similarity dot', x); }`);
    expect(r.signal, r.stderr).toBeNull();
    expect(r.lines.at(-1), r.stderr).toEqual({ done: true });
    for (const x of r.lines.slice(0, -1)) {
      expect(x.code).toBe('INVALID_ARGUMENT');
      expect(x.type).toBe('RangeError');
      expect(x.message).toMatch(/200000 × 200000 = 40000000000 scores/);
      expect(x.message).toMatch(/semanticSearch/);
    }
  });

  it('a result under the bound that cannot be allocated is a thrown RangeError, not a fatal error (6 GB address space)', () => {
    const r = child(`
      const e = new w.Embeddings(new Float32Array(50000), 50000, 1);
      try { w.similarity(e, e); report('similarity', null); } catch (x) { report('similarity', x); }
      const small = w.similarity([[1, 2]], [[3, 4]], 'dot');
      out({ after: Array.from(small[0]) });`, { ulimitKb: 6_000_000 });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.lines.at(-1), r.stderr).toEqual({ done: true });
    expect(r.lines[0].code).toBe('INVALID_ARGUMENT');
    expect(r.lines[0].type).toBe('RangeError');
    expect(r.lines[0].message).toMatch(/50000 × 50000 = 2500000000 scores .*more memory than could be allocated.*semanticSearch/);
    expect(r.lines[1]).toEqual({ after: [11] });
  });

  it('semanticSearch refuses hits the heap cannot hold before searching (256 MB heap)', () => {
    const r = child(`
      const q = new w.Embeddings(Float32Array.from({ length: 5000 }, (_, i) => Math.sin(i)), 5000, 1);
      try { await w.semanticSearch(q, q, { topK: 5000 }); report('search', null); } catch (x) { report('search', x); }
      const ok = await w.semanticSearch(q, q, { topK: 3 });
      out({ after: ok.length });`, { nodeArgs: ['--max-old-space-size=256'] });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.lines.at(-1), r.stderr).toEqual({ done: true });
    expect(r.lines[0].code).toBe('INVALID_ARGUMENT');
    expect(r.lines[0].type).toBe('RangeError');
    expect(r.lines[0].message).toMatch(/5000 × 5000 = 25000000 hits/);
    expect(r.lines[1]).toEqual({ after: 5000 });
  });
});
