// The API gaps a new user met wiring Winnow into a RAG framework (issue 27): documents as objects in rank and
// rankMany, per-call score modes, long documents in windows, rows of multi-label scores, JSON-friendly embeddings,
// single strings, countTokens everywhere, and the errors that point to the right call or class.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrossEncoder, Embeddings, PruningEncoder, SentenceEncoder, StaticModel, Tokenizer } from '../lib/index';
import { errorOf } from './helpers/errors';
import { FIXTURES, referenceLogits, sigmoid } from './helpers/reference';

const TINY = path.join(FIXTURES, 'bert-ce-tiny');
const THREE = path.join(FIXTURES, 'bert-ce-tiny-3labels');
const DOCS = ['Paris is the capital of France.', 'Berlin is in Germany.', 'The Eiffel Tower is in Paris.', 'Bananas are yellow.'];
const QUERY = 'capital of france';

let ce: CrossEncoder;
let three: CrossEncoder;
let tok: Tokenizer;

beforeAll(async () => {
  ce = await CrossEncoder.load(TINY, { threads: 1 });
  three = await CrossEncoder.load(THREE, { threads: 1 });
  tok = await Tokenizer.fromFile(path.join(TINY, 'tokenizer.json'));
});
afterAll(() => {
  ce?.dispose();
  three?.dispose();
  tok?.dispose();
});

describe('rank with document objects, rankMany', () => {
  it('ranks objects by their text field and gives each result its document back', async () => {
    const docs = DOCS.map((text, i) => ({ id: `d${i}`, text, meta: { n: i } }));
    const plain = await ce.rank(QUERY, DOCS);
    const ranked = await ce.rank(QUERY, docs);
    expect(ranked.map((r) => [r.index, r.score])).toEqual(plain.map((r) => [r.index, r.score]));
    for (const r of ranked) expect(r.document).toBe(docs[r.index]);
    expect(ranked[0].document.id).toBe(`d${plain[0].index}`);
    expect(docs.map((d) => Object.keys(d))).toEqual(DOCS.map(() => ['id', 'text', 'meta'])); // unmodified

    const byKey = await ce.rank(QUERY, DOCS.map((body) => ({ body })), { textKey: 'body', topK: 2, returnDocuments: true });
    expect(byKey.map((r) => [r.index, r.score, r.text])).toEqual(plain.slice(0, 2).map((r) => [r.index, r.score, DOCS[r.index]]));
    const byFn = await ce.rank(QUERY, DOCS.map((s) => ({ parts: [s] })), { textKey: (d) => d.parts[0] });
    expect(byFn.map((r) => r.score)).toEqual(plain.map((r) => r.score));
  });

  it('names the document whose text is missing', async () => {
    const e = await errorOf(() => ce.rank(QUERY, [{ text: 'a' }, { body: 'b' }] as any[]));
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toBe('Expected a string for documents[1].text but received undefined of type undefined');
    const mixed = await errorOf(() => ce.rank(QUERY, [{ text: 'a' }, 'b'] as any[]));
    expect(mixed.message).toBe('Expected a document object (documents[0] is one) for documents[1] but received "b" of type string');
    const key = await errorOf(() => ce.rank(QUERY, DOCS, { textKey: 'text' }));
    expect(key.message).toBe('Expected document objects (textKey is given) for documents[0] but received "Paris is the capital of France." of type string');
  });

  it('rankMany ranks the documents for each query', async () => {
    const queries = [QUERY, 'yellow fruit'];
    const many = await ce.rankMany(queries, DOCS, { topK: 3 });
    expect(many).toEqual([await ce.rank(queries[0], DOCS, { topK: 3 }), await ce.rank(queries[1], DOCS, { topK: 3 })]);
  });
});

describe('per-call score mode', () => {
  it('rawScores gives the logits (TEI raw_scores); activation overrides the model\'s for one call', async () => {
    const pairs = DOCS.map((d) => [QUERY, d] as [string, string]);
    const logits = (await referenceLogits(TINY, pairs, { maxLength: ce.maxLength })).map((r) => r[0]);
    const raw = await ce.predict(pairs, { rawScores: true });
    const activated = await ce.predict(pairs);
    raw.forEach((x, i) => expect(x).toBeCloseTo(logits[i], 4));
    activated.forEach((x, i) => expect(x).toBeCloseTo(sigmoid(logits[i]), 5));
    expect(await ce.predict(pairs, { activation: 'none' })).toEqual(raw);
    expect(ce.activation).toBe('sigmoid'); // the model's own is unchanged
    expect(await ce.predict(pairs)).toEqual(activated);
    const ranked = await ce.rank(QUERY, DOCS, { rawScores: true });
    for (const r of ranked) expect(r.score).toBe(raw[r.index]);

    const pairs3 = pairs.slice(0, 2);
    const raw3 = await three.predict(pairs3, { rawScores: true });
    const soft = await three.predict(pairs3, { activation: 'softmax' });
    for (let i = 0; i < 2; i++) {
      const row = Array.from(raw3.subarray(i * 3, i * 3 + 3));
      const m = Math.max(...row);
      const sum = row.reduce((s, x) => s + Math.exp(x - m), 0);
      row.forEach((x, k) => expect(soft[i * 3 + k]).toBeCloseTo(Math.exp(x - m) / sum, 6));
    }
    const e = await errorOf(() => ce.predict(pairs, { rawScores: true, activation: 'sigmoid' }));
    expect(e.message).toBe("Expected 'none' or no activation (rawScores is true) for activation but received \"sigmoid\" of type string");
  });
});

describe('long documents in windows (rank chunk option)', () => {
  // Words that are one token each, so a window of tokens is a run of words and its text retokenizes to the same ids.
  const WORDS = ['the', 'city', 'of', 'paris', 'is', 'in', 'france', 'and', 'it', 'has', 'a', 'river'];
  let long: CrossEncoder;
  let room: number;
  let words: string[];

  beforeAll(async () => {
    long = await CrossEncoder.load(TINY, { threads: 1, maxLength: 24 });
    words = Array.from({ length: 70 }, (_, i) => WORDS[(i * 7) % WORDS.length]);
    for (const w of WORDS) expect(tok.encode(w, null, { addSpecialTokens: false }).ids).toHaveLength(1);
    room = 24 - (await long.countTokens(QUERY)) - tok.numSpecialTokensToAdd(true);
  });
  afterAll(() => long?.dispose());

  async function windowScores(overlap: number): Promise<number[]> {
    const step = room - overlap;
    const texts: string[] = [];
    for (let s = 0; ; s += step) {
      texts.push(words.slice(s, s + room).join(' '));
      if (s + room >= words.length) break;
    }
    return Array.from(await long.predict(texts.map((t) => [QUERY, t] as [string, string])));
  }

  it('scores every window and aggregates max / mean / first', async () => {
    const doc = words.join(' ');
    const docs = [doc, DOCS[0], ''];
    for (const overlap of [0, 3]) {
      const w = await windowScores(overlap);
      expect(w.length).toBeGreaterThan(3);
      const max = await long.rank(QUERY, docs, { chunk: { overlap } });
      const byIndex = (rs: Array<{ index: number; score: number }>, i: number) => rs.find((r) => r.index === i)!.score;
      expect(byIndex(max, 0)).toBeCloseTo(Math.max(...w), 5);
      const mean = await long.rank(QUERY, docs, { chunk: { overlap, aggregate: 'mean' } });
      expect(byIndex(mean, 0)).toBeCloseTo(w.reduce((a, b) => a + b, 0) / w.length, 5);
      const first = await long.rank(QUERY, docs, { chunk: { overlap, aggregate: 'first' } });
      expect(byIndex(first, 0)).toBeCloseTo(w[0], 5);
      // A document that fits is one window: the same score as without chunking, empty ones included.
      const plain = await long.rank(QUERY, docs);
      for (const i of [1, 2]) expect(byIndex(max, i)).toBeCloseTo(byIndex(plain, i), 5);
      // Without chunking the document is cut where the first window ends.
      expect(byIndex(plain, 0)).toBeCloseTo(w[0], 5);
    }
    expect(await long.rank(QUERY, docs, { chunk: true })).toEqual(await long.rank(QUERY, docs, { chunk: { overlap: 0, aggregate: 'max' } }));
  });

  it('refuses an overlap that leaves no room', async () => {
    const e = await errorOf(() => long.rank(QUERY, [words.join(' ')], { chunk: { overlap: room } }));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toBe(`Expected an overlap below ${room} (the document tokens that fit beside this query in maxLength 24) for chunk.overlap but received ${room}`);
    const bad = await errorOf(() => long.rank(QUERY, DOCS, { chunk: { aggregate: 'median' as any } }));
    expect(bad.message).toBe("Expected one of 'max', 'mean', 'first' for chunk.aggregate but received \"median\" of type string");
    const typo = await errorOf(() => long.rank(QUERY, DOCS, { chunk: { overlapp: 2 } as any }));
    expect(typo.message).toBe('Unknown option overlapp for chunk; did you mean overlap?');
  });
});

describe('results by row, single inputs, JSON', () => {
  it('predict rows: one Float32Array of numLabels scores per pair', async () => {
    const pairs = DOCS.map((d) => [QUERY, d] as [string, string]);
    const flat = await three.predict(pairs);
    const rows = await three.predict(pairs, { rows: true });
    expect(rows).toHaveLength(DOCS.length);
    rows.forEach((r, i) => {
      expect(r).toBeInstanceOf(Float32Array);
      expect(Array.from(r)).toEqual(Array.from(flat.subarray(i * 3, i * 3 + 3)));
    });
  });

  it('one pair, one text, one document: accepted alone, as sentence-transformers accepts them', async () => {
    expect(await ce.predict([QUERY, DOCS[0]])).toEqual(await ce.predict([[QUERY, DOCS[0]]]));
    expect(await three.predict([QUERY, DOCS[0]])).toHaveLength(3);

    const e5 = await SentenceEncoder.load(path.join(FIXTURES, 'e5-tiny'), { threads: 1 });
    const one = await e5.encode(DOCS[0]);
    expect(one).toBeInstanceOf(Float32Array);
    expect(one).toEqual((await e5.encode([DOCS[0]])).row(0));
    expect(await e5.encodeQuery(DOCS[0])).toEqual((await e5.encodeQuery([DOCS[0]])).row(0));
    expect(await e5.encode(DOCS[0], { precision: 'int8', ranges: [new Array(32).fill(-1), new Array(32).fill(1)] })).toBeInstanceOf(Int8Array);
    e5.dispose();

    const potion = await StaticModel.load(path.join(FIXTURES, 'potion-tiny'));
    expect(await potion.encode(DOCS[1])).toEqual((await potion.encode([DOCS[1]])).row(0));
    expect(potion.encodeSync(DOCS[1])).toEqual(potion.encodeSync([DOCS[1]]).row(0));
    expect(await potion.countTokens(DOCS[1])).toBe((await potion.countTokens([DOCS[1]]))[0]);
    potion.dispose();

    const pruner = await PruningEncoder.load(path.join(FIXTURES, 'pruning-bert-tiny'), { threads: 1 });
    expect(await pruner.prune(QUERY, DOCS[0])).toEqual((await pruner.prune(QUERY, [DOCS[0]]))[0]);
    pruner.dispose();
  });

  it('Embeddings serialise to JSON as arrays of numbers', () => {
    const e = new Embeddings(new Float32Array([1, 0.5, -2, 3]), 2, 2);
    expect(e.toArrays()).toEqual([[1, 0.5], [-2, 3]]);
    expect(JSON.parse(JSON.stringify(e))).toEqual([[1, 0.5], [-2, 3]]);
    expect(JSON.stringify({ v: new Embeddings(new Int8Array([1, -1]), 1, 2, 'int8') })).toBe('{"v":[[1,-1]]}');
  });
});

describe('countTokens on every model class', () => {
  it('counts the tokenizer\'s tokens, without special tokens or truncation', async () => {
    const long = DOCS.join(' ').repeat(40);
    const texts = [...DOCS, '', long];
    const expected = texts.map((t) => tok.encode(t, null, { addSpecialTokens: false }).ids.length);
    expect(expected[texts.length - 1]).toBeGreaterThan(ce.maxLength);
    expect(Array.from(await ce.countTokens(texts))).toEqual(expected);
    expect(await ce.countTokens(DOCS[0])).toBe(expected[0]);
    const e5 = await SentenceEncoder.load(path.join(FIXTURES, 'e5-tiny'), { threads: 1 });
    const e5tok = await Tokenizer.fromFile(path.join(FIXTURES, 'e5-tiny', 'tokenizer.json'));
    expect(Array.from(await e5.countTokens(texts))).toEqual(texts.map((t) => e5tok.encode(t, null, { addSpecialTokens: false }).ids.length));
    const pruner = await PruningEncoder.load(path.join(FIXTURES, 'pruning-bert-tiny'), { threads: 1 });
    const ptok = await Tokenizer.fromFile(path.join(FIXTURES, 'pruning-bert-tiny', 'tokenizer.json'));
    expect(Array.from(await pruner.countTokens(texts))).toEqual(texts.map((t) => ptok.encode(t, null, { addSpecialTokens: false }).ids.length));
    const bad = await errorOf(() => e5.countTokens([1] as any));
    expect(bad.message).toBe('Expected a string for texts[0] but received 1 of type number');
    for (const x of [e5, e5tok, pruner, ptok]) x.dispose();
  });
});

describe('errors that name the right call or class', () => {
  it('predict(query, documents) asks whether rank() was meant', async () => {
    const e = await errorOf(() => ce.predict(QUERY as any, DOCS as any));
    expect(e).toBeInstanceOf(TypeError);
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toBe('predict() takes [query, document] pairs: to score documents against one query, did you mean rank(query, documents)?');
  });

  it('SentenceEncoder.load of a cross-encoder folder says to use CrossEncoder', async () => {
    const e = await errorOf(() => SentenceEncoder.load(TINY));
    expect(e.code).toBe('ONNX_INVALID');
    expect(e.message).toContain('a sequence classifier\'s scores, not per-token states (a cross-encoder? load it with CrossEncoder)');
  });
});

describe('Model2Vec config as the reference libraries read it', () => {
  it('a hidden_dim that disagrees with the embedding tensor is ignored (model2vec and model2vec-rs use the tensor)', async () => {
    const src = path.join(FIXTURES, 'potion-tiny');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-potion-'));
    fs.cpSync(src, dir, { recursive: true });
    const cfg = JSON.parse(fs.readFileSync(path.join(src, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, hidden_dim: 256 }));
    const a = await StaticModel.load(src);
    const b = await StaticModel.load(dir);
    expect(b.dim).toBe(a.dim);
    expect((await b.encode(DOCS)).data).toEqual((await a.encode(DOCS)).data);
    a.dispose();
    b.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
