import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Embeddings, SentenceEncoder, semanticSearch, similarity, similarityPairwise } from '../lib/index';
import { FIXTURES, maxAbsDiff, SHARED } from './helpers/reference';
import { cosine, quantize8, quantizeBits, ranges, referenceEmbeddings, RefMode, RefOptions } from './helpers/st-reference';

const E5 = path.join(FIXTURES, 'e5-tiny');
const CLS = path.join(FIXTURES, 'e5-tiny-cls');
const GRAPH = path.join(FIXTURES, 'e5-tiny-sentence-embedding');

function corpusTexts(n: number): string[] {
  const lines = fs.readFileSync(path.join(SHARED, 'corpora', 'dbpedia-entity', 'corpus.jsonl'), 'utf8').split('\n');
  const out: string[] = [];
  for (const line of lines) {
    if (!line) continue;
    const d = JSON.parse(line) as { title: string; text: string };
    out.push(`${d.title}. ${d.text}`);
    if (out.length >= n) break;
  }
  return out;
}

/** Texts covering short, long (truncated at 512 tokens), unicode and empty inputs. */
function parityTexts(): string[] {
  const docs = corpusTexts(24);
  return [...docs, docs.slice(0, 14).join(' '), 'Ça va? 東京は日本の首都です。 emoji 👩‍👩‍👧 text', '', 'a'];
}

const tmpDirs: string[] = [];
/** A copy of e5-tiny with some files replaced (null removes a file or folder). */
function variant(files: Record<string, string | null>, from = E5): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-st-'));
  tmpDirs.push(dir);
  fs.cpSync(from, dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    const p = path.join(dir, name);
    if (content === null) fs.rmSync(p, { recursive: true, force: true });
    else {
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, content);
    }
  }
  return dir;
}

function poolingConfig(modes: RefMode[], includePrompt = true): string {
  const flag = (m: RefMode) => modes.includes(m);
  return JSON.stringify({
    word_embedding_dimension: 32,
    pooling_mode_cls_token: flag('cls'),
    pooling_mode_mean_tokens: flag('mean'),
    pooling_mode_max_tokens: flag('max'),
    pooling_mode_mean_sqrt_len_tokens: flag('mean_sqrt_len'),
    pooling_mode_weightedmean_tokens: flag('weightedmean'),
    pooling_mode_lasttoken: flag('lasttoken'),
    include_prompt: includePrompt,
  });
}

const MODULES_NO_NORMALIZE = JSON.stringify([
  { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
  { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
]);

afterAll(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

/**
 * Every row: cosine ≥ 0.99999 and max |Δ| ≤ 1e-5 against the reference (scaled by the row's largest
 * value when that exceeds 1: unnormalised mean_sqrt_len rows reach ~20, where float32 accumulation
 * alone is ~1e-6 relative); returns the worst values.
 */
function expectParity(got: Embeddings, ref: number[][]): { minCos: number; maxDiff: number } {
  expect(got.rows).toBe(ref.length);
  expect(got.dim).toBe(ref[0].length);
  let minCos = 1;
  let maxDiff = 0;
  ref.forEach((r, i) => {
    const row = got.row(i);
    const norm = Math.hypot(...r);
    // cosine is undefined for a zero vector; those rows must simply match.
    if (norm > 0) minCos = Math.min(minCos, cosine(row, r));
    maxDiff = Math.max(maxDiff, maxAbsDiff(row, r) / Math.max(1, ...r.map(Math.abs)));
  });
  expect(minCos).toBeGreaterThanOrEqual(0.99999);
  expect(maxDiff).toBeLessThanOrEqual(1e-5);
  return { minCos, maxDiff };
}

/** Rejects with exactly this class and message, and code INVALID_ARGUMENT. */
async function rejectsWith(p: Promise<unknown>, cls: typeof TypeError | typeof RangeError, message: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(cls);
  expect(err).toMatchObject({ name: cls.name, message, code: 'INVALID_ARGUMENT' });
}

const parity: Record<string, { minCos: number; maxDiff: number }> = {};

describe('SentenceEncoder parity with tokenizers + onnxruntime-node + sentence-transformers pooling', () => {
  const texts = parityTexts();
  afterAll(() => {
    // eslint-disable-next-line no-console
    console.log('parity (min cosine, max |Δ|):', JSON.stringify(parity));
  });

  it('reads the sentence-transformers folder', async () => {
    const enc = await SentenceEncoder.load(E5, { threads: 1 });
    expect(enc.dim).toBe(32);
    expect(enc.maxLength).toBe(512);
    expect(enc.device).toBe('cpu');
    expect(enc.normalize).toBe(true);
    expect(enc.pooling).toBe('mean');
    expect(enc.prompts).toEqual({});
    expect(enc.defaultPromptName).toBeNull();
    expect(enc.file).toBe(path.join(E5, 'onnx', 'model.onnx'));
    expect(enc.fusedLayerNorms).toBe(5); // the vectors below are checked against the graph as written
    const cls = await SentenceEncoder.load(CLS);
    expect(cls.pooling).toBe('cls');
    expect(cls.normalize).toBe(false);
    expect(cls.prompts).toEqual({ query: 'query: ', passage: 'passage: ' });
    enc.dispose();
    cls.dispose();
  });

  const cases: Array<[string, () => string, RefMode[], boolean]> = [
    ['mean + Normalize (e5-tiny)', () => E5, ['mean'], true],
    ['cls, no Normalize (e5-tiny-cls)', () => CLS, ['cls'], false],
    ['max', () => variant({ '1_Pooling/config.json': poolingConfig(['max']) }), ['max'], true],
    ['lasttoken', () => variant({ '1_Pooling/config.json': poolingConfig(['lasttoken']) }), ['lasttoken'], true],
    ['weightedmean', () => variant({ '1_Pooling/config.json': poolingConfig(['weightedmean']) }), ['weightedmean'], true],
    ['mean_sqrt_len, no Normalize', () => variant({ '1_Pooling/config.json': poolingConfig(['mean_sqrt_len']), 'modules.json': MODULES_NO_NORMALIZE }), ['mean_sqrt_len'], false],
    ['cls + max + mean concatenated', () => variant({ '1_Pooling/config.json': poolingConfig(['cls', 'max', 'mean']) }), ['cls', 'max', 'mean'], true],
    ['no 1_Pooling folder: mean fallback', () => variant({ '1_Pooling': null }), ['mean'], true],
    ['no modules.json: mean, no Normalize', () => variant({ 'modules.json': null, '1_Pooling': null }), ['mean'], false],
  ];
  for (const [name, dirOf, modes, normalize] of cases) {
    it(`pools like sentence-transformers: ${name}`, async () => {
      const dir = dirOf();
      const enc = await SentenceEncoder.load(dir, { threads: 1, batchSize: 8 });
      expect(enc.dim).toBe(32 * modes.length);
      expect(enc.pooling).toBe(modes.join('+'));
      expect(enc.normalize).toBe(normalize);
      const ref = await referenceEmbeddings(dir, texts, { maxLength: 512, modes, normalize });
      const got = await enc.encode(texts);
      expect(got.data).toBeInstanceOf(Float32Array);
      parity[name] = expectParity(got, ref);
      // Spread: a constant or shuffled output would fail.
      expect(cosine(got.row(0), got.row(1))).toBeLessThan(0.9999);
      enc.dispose();
    });
  }

  it('uses a graph that outputs sentence_embedding directly, equal to pooling natively', async () => {
    const enc = await SentenceEncoder.load(GRAPH, { threads: 1 });
    expect(enc.pooling).toBe('graph');
    const ref = await referenceEmbeddings(E5, texts, { maxLength: 512, modes: ['mean'], normalize: true });
    parity['graph sentence_embedding'] = expectParity(await enc.encode(texts), ref);
    enc.dispose();
  });

  it('truncates long texts to maxLength on the right, like sentence-transformers', async () => {
    const enc = await SentenceEncoder.load(E5, { threads: 1, maxLength: 16 });
    expect(enc.maxLength).toBe(16);
    const ref = await referenceEmbeddings(E5, texts, { maxLength: 16, modes: ['mean'], normalize: true });
    parity['maxLength 16'] = expectParity(await enc.encode(texts), ref);
    const huge = 'lorem ipsum dolor sit amet '.repeat(40000); // ~1 MB
    const [a, b] = (await enc.encode([huge, huge.slice(0, 400)])).toArray();
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-6);
    enc.dispose();
  });

  it('takes the default maxLength from sentence_bert_config.json max_seq_length', async () => {
    const dir = variant({ 'sentence_bert_config.json': JSON.stringify({ max_seq_length: 20, do_lower_case: false }) });
    const enc = await SentenceEncoder.load(dir, { threads: 1 });
    expect(enc.maxLength).toBe(20);
    const ref = await referenceEmbeddings(dir, texts.slice(0, 6), { maxLength: 20, modes: ['mean'], normalize: true });
    expectParity(await enc.encode(texts.slice(0, 6)), ref);
    enc.dispose();
  });
});

describe('SentenceEncoder batching', () => {
  it('gives the same vectors whatever the batch size, order or neighbours', async () => {
    const texts = corpusTexts(40);
    const one = await SentenceEncoder.load(E5, { threads: 1, batchSize: 1 });
    const seven = await SentenceEncoder.load(E5, { threads: 1, batchSize: 7 });
    const big = await SentenceEncoder.load(E5, { threads: 2, batchSize: 64, tokenBudget: 100000 });
    const a = await one.encode(texts);
    const b = await seven.encode(texts);
    const c = await big.encode(texts);
    expect(maxAbsDiff(a.data, b.data)).toBeLessThan(1e-6);
    expect(maxAbsDiff(a.data, c.data)).toBeLessThan(1e-6);
    const perm = texts.map((_, i) => i).reverse();
    const shuffled = await big.encode(perm.map((i) => texts[i]));
    perm.forEach((src, i) => expect(maxAbsDiff(shuffled.row(i), a.row(src))).toBeLessThan(1e-6));
    const single = await big.encode([texts[5]]);
    expect(maxAbsDiff(single.row(0), a.row(5))).toBeLessThan(1e-6);
    for (const m of [one, seven, big]) m.dispose();
  });

  it('handles an empty list', async () => {
    const enc = await SentenceEncoder.load(E5);
    const e = await enc.encode([]);
    expect(e.rows).toBe(0);
    expect(e.dim).toBe(32);
    expect((await enc.encode([], { precision: 'int8' })).data).toBeInstanceOf(Int8Array);
    enc.dispose();
  });
});

describe('SentenceEncoder prompts, dimensions, normalize', () => {
  const texts = corpusTexts(12);
  let cls: SentenceEncoder;
  let e5: SentenceEncoder;
  beforeAll(async () => {
    cls = await SentenceEncoder.load(CLS, { threads: 1 });
    e5 = await SentenceEncoder.load(E5, { threads: 1 });
  });
  afterAll(() => {
    cls.dispose();
    e5.dispose();
  });

  it('looks a prompt up by name, else uses it as a literal prefix', async () => {
    const ref = await referenceEmbeddings(CLS, texts, { maxLength: 512, modes: ['cls'], normalize: false, prompt: 'query: ' });
    const byName = await cls.encode(texts, { prompt: 'query' });
    parity['prompt by name'] = expectParity(byName, ref);
    const literal = await cls.encode(texts, { prompt: 'query: ' });
    expect(maxAbsDiff(byName.data, literal.data)).toBe(0);
    const none = await cls.encode(texts);
    expect(maxAbsDiff(none.data, byName.data)).toBeGreaterThan(1e-3);
  });

  it("gives E5 models without prompts 'query: ' / 'passage: ' as literal prefixes", async () => {
    const ref = await referenceEmbeddings(E5, texts, { maxLength: 512, modes: ['mean'], normalize: true, prompt: 'passage: ' });
    parity['literal prompt'] = expectParity(await e5.encode(texts, { prompt: 'passage: ' }), ref);
  });

  it('uses default_prompt_name when no prompt is given, and prompt "" turns it off', async () => {
    const cfg = JSON.parse(fs.readFileSync(path.join(CLS, 'config_sentence_transformers.json'), 'utf8'));
    cfg.default_prompt_name = 'passage';
    const dir = variant({ 'config_sentence_transformers.json': JSON.stringify(cfg) }, CLS);
    const enc = await SentenceEncoder.load(dir, { threads: 1 });
    expect(enc.defaultPromptName).toBe('passage');
    const withDefault = await enc.encode(texts);
    expect(maxAbsDiff(withDefault.data, (await cls.encode(texts, { prompt: 'passage' })).data)).toBe(0);
    expect(maxAbsDiff((await enc.encode(texts, { prompt: '' })).data, (await cls.encode(texts)).data)).toBe(0);
    enc.dispose();
  });

  it('encodeQuery / encodeDocument pick the query and document prompts as sentence-transformers does', async () => {
    // CLS has prompts { query, passage }: encode_document's candidates are document, passage, corpus, in that order.
    const same = async (a: Promise<Embeddings>, b: Promise<Embeddings>) => expect(maxAbsDiff((await a).data, (await b).data)).toBe(0);
    await same(cls.encodeQuery(texts), cls.encode(texts, { prompt: 'query: ' }));
    await same(cls.encodeDocument(texts), cls.encode(texts, { prompt: 'passage: ' }));
    expect(maxAbsDiff((await cls.encodeQuery(texts)).data, (await cls.encode(texts)).data)).toBeGreaterThan(1e-3);
    // A given prompt wins, '' included; options pass through.
    await same(cls.encodeQuery(texts, { prompt: '' }), cls.encode(texts));
    await same(cls.encodeDocument(texts, { prompt: 'query', dimensions: 8 }), cls.encode(texts, { prompt: 'query: ', dimensions: 8 }));
    // No such prompts (E5's config): the plain encode, default prompt and all.
    await same(e5.encodeQuery(texts), e5.encode(texts));
    await same(e5.encodeDocument(texts), e5.encode(texts));
    const cfg = JSON.parse(fs.readFileSync(path.join(CLS, 'config_sentence_transformers.json'), 'utf8'));
    cfg.prompts = { corpus: 'c: ', passage: 'p: ', document: 'd: ', other: 'o: ' };
    cfg.default_prompt_name = 'other';
    const enc = await SentenceEncoder.load(variant({ 'config_sentence_transformers.json': JSON.stringify(cfg) }, CLS), { threads: 1 });
    await same(enc.encodeDocument(texts), enc.encode(texts, { prompt: 'd: ' }));
    await same(enc.encodeQuery(texts), enc.encode(texts, { prompt: 'o: ' })); // no 'query': the default prompt
    enc.dispose();
  });

  it("similarity uses the config's similarity_fn_name (cosine when absent) and refuses unknown ones", async () => {
    expect(cls.similarityFnName).toBe('cosine');
    expect(e5.similarityFnName).toBe('cosine');
    const q = await e5.encodeQuery(texts.slice(0, 3), { prompt: 'query: ' });
    const d = await e5.encodeDocument(texts, { prompt: 'passage: ' });
    const m = e5.similarity(q, d);
    expect(m.length).toBe(3);
    for (let i = 0; i < 3; i++) {
      expect(m[i].length).toBe(texts.length);
      for (let j = 0; j < texts.length; j++) expect(Math.abs(m[i][j] - cosine(q.row(i), d.row(j)))).toBeLessThan(1e-6);
    }
    expect(Array.from(e5.similarityPairwise(q, d.toArray().slice(0, 3)))).toEqual(m.map((r, i) => r[i]));

    const cfg = JSON.parse(fs.readFileSync(path.join(CLS, 'config_sentence_transformers.json'), 'utf8'));
    const enc = await SentenceEncoder.load(variant({ 'config_sentence_transformers.json': JSON.stringify({ ...cfg, similarity_fn_name: 'manhattan' }) }, CLS), { threads: 1 });
    expect(enc.similarityFnName).toBe('manhattan');
    expect(enc.similarity([[1, 2]], [[4, -2]])[0][0]).toBe(-7);
    enc.dispose();
    const bad = variant({ 'config_sentence_transformers.json': JSON.stringify({ ...cfg, similarity_fn_name: 'jaccard' }) }, CLS);
    const err = await SentenceEncoder.load(bad).catch((e) => e);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('similarity_fn_name jaccard is not one of cosine, dot, euclidean, manhattan');
  });

  it('leaves the prompt out of pooling when include_prompt is false', async () => {
    const dir = variant({ '1_Pooling/config.json': poolingConfig(['mean'], false) });
    const enc = await SentenceEncoder.load(dir, { threads: 1, batchSize: 5 });
    const ref = await referenceEmbeddings(dir, texts, { maxLength: 512, modes: ['mean'], normalize: true, prompt: 'query: ', includePrompt: false });
    parity['include_prompt false'] = expectParity(await enc.encode(texts, { prompt: 'query: ' }), ref);
    enc.dispose();
  });

  it('truncates to `dimensions` then re-normalises when normalisation applies', async () => {
    const ref = await referenceEmbeddings(E5, texts, { maxLength: 512, modes: ['mean'], normalize: true, dimensions: 16 });
    const got = await e5.encode(texts, { dimensions: 16 });
    expect(got.dim).toBe(16);
    parity['dimensions 16'] = expectParity(got, ref);
    for (const r of got) expect(Math.hypot(...r)).toBeCloseTo(1, 5);
    // Without normalisation: the first 16 values as they are.
    const full = await cls.encode(texts);
    const cut = await cls.encode(texts, { dimensions: 16 });
    full.toArray().forEach((r, i) => expect(maxAbsDiff(r.subarray(0, 16), cut.row(i))).toBe(0));
  });

  it('overrides the model default with normalize', async () => {
    const raw = await e5.encode(texts, { normalize: false });
    const ref = await referenceEmbeddings(E5, texts, { maxLength: 512, modes: ['mean'], normalize: false });
    parity['normalize false'] = expectParity(raw, ref);
    const unit = await cls.encode(texts, { normalize: true });
    const refUnit = await referenceEmbeddings(CLS, texts, { maxLength: 512, modes: ['cls'], normalize: true });
    parity['normalize true'] = expectParity(unit, refUnit);
  });
});

describe('SentenceEncoder quantised precisions (sentence-transformers quantize_embeddings)', () => {
  const texts = corpusTexts(30);
  let enc: SentenceEncoder;
  let f32: number[][];
  let ref: number[][];
  beforeAll(async () => {
    enc = await SentenceEncoder.load(E5, { threads: 1 });
    f32 = (await enc.encode(texts)).toArray().map((r) => Array.from(r));
    ref = await referenceEmbeddings(E5, texts, { maxLength: 512, modes: ['mean'], normalize: true });
  });
  afterAll(() => enc.dispose());

  for (const kind of ['int8', 'uint8'] as const) {
    it(`${kind}: ranges from the call's own embeddings, exact`, async () => {
      const got = await enc.encode(texts, { precision: kind });
      expect(got.data).toBeInstanceOf(kind === 'int8' ? Int8Array : Uint8Array);
      expect(got.dim).toBe(32);
      expect(got.toArray().map((r) => Array.from(r))).toEqual(quantize8(f32, kind));
      // Against the independent float32 reference: at most one bucket apart.
      const fromRef = quantize8(ref, kind);
      got.toArray().forEach((r, i) => expect(maxAbsDiff(r, fromRef[i])).toBeLessThanOrEqual(1));
      // The extremes of every dimension land on the ends of the scale.
      const lo = kind === 'int8' ? -128 : 0;
      for (let d = 0; d < 32; d++) expect(Math.min(...got.toArray().map((r) => r[d]))).toBe(lo);
    });

    it(`${kind}: calibration ranges given`, async () => {
      const calib = ranges(f32.map((r) => r.map((x) => x * 1.5)));
      const got = await enc.encode(texts.slice(0, 3), { precision: kind, ranges: calib });
      expect(got.toArray().map((r) => Array.from(r))).toEqual(quantize8(f32.slice(0, 3), kind, calib));
      const flat = new Float32Array([...calib[0], ...calib[1]]);
      expect((await enc.encode(texts.slice(0, 3), { precision: kind, ranges: flat })).data).toEqual(got.data);
    });
  }

  for (const kind of ['binary', 'ubinary'] as const) {
    it(`${kind}: packed sign bits, exact`, async () => {
      const got = await enc.encode(texts, { precision: kind });
      expect(got.data).toBeInstanceOf(kind === 'binary' ? Int8Array : Uint8Array);
      expect(got.dim).toBe(4);
      expect(got.toArray().map((r) => Array.from(r))).toEqual(quantizeBits(f32, kind));
      expect(got.toArray().map((r) => Array.from(r))).toEqual(quantizeBits(ref, kind));
      const cut = await enc.encode(texts, { precision: kind, dimensions: 12 });
      expect(cut.dim).toBe(2);
      const f12 = (await enc.encode(texts, { dimensions: 12 })).toArray();
      expect(cut.toArray().map((r) => Array.from(r))).toEqual(quantizeBits(f12, kind));
    });
  }
});

describe('SentenceEncoder off the event loop', () => {
  it('refuses dispose while a call runs, then disposes', async () => {
    const enc = await SentenceEncoder.load(E5, { threads: 1 });
    const running = enc.encode(corpusTexts(200));
    expect(enc.counters().running).toBe(1);
    expect(() => enc.dispose()).toThrow(expect.objectContaining({ code: 'MODEL_BUSY' }));
    await running;
    expect(enc.counters()).toMatchObject({ queued: 0, running: 0, rows: 200 });
    enc.dispose();
    expect(enc.counters()).toMatchObject({ queued: 0, running: 0, rows: 0, batches: 0 });
    await expect(enc.encode(['a'])).rejects.toMatchObject({ code: 'DISPOSED' });
  });

  it('reports progress and can be aborted', async () => {
    const enc = await SentenceEncoder.load(E5, { threads: 1, batchSize: 8 });
    const seen: number[] = [];
    await enc.encode(corpusTexts(64), { onProgress: (p) => seen.push(p.done) });
    expect(seen[seen.length - 1]).toBe(64);
    const ac = new AbortController();
    const p = enc.encode(Array.from({ length: 10 }, () => corpusTexts(300)).flat(), { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
    enc.dispose();
  });

  it('serves concurrent calls with the same results as one call', async () => {
    const enc = await SentenceEncoder.load(E5, { threads: 1, concurrency: 2 });
    const texts = corpusTexts(20);
    const all = await enc.encode(texts);
    const each = await Promise.all(texts.map((t) => enc.encode([t])));
    each.forEach((e, i) => expect(maxAbsDiff(e.row(0), all.row(i))).toBeLessThan(1e-6));
    enc.dispose();
  });
});

describe('SentenceEncoder argument and file errors', () => {
  let enc: SentenceEncoder;
  beforeAll(async () => {
    enc = await SentenceEncoder.load(E5);
  });
  afterAll(() => enc.dispose());

  it('gives TypeErrors and RangeErrors with one message template', async () => {
    // One text as a string is embedded alone (issue 27); anything else that is not an array is refused.
    expect(await enc.encode('nope')).toEqual((await enc.encode(['nope'])).row(0));
    await rejectsWith(enc.encode(7 as any), TypeError, 'Expected an array of strings for texts but received 7 of type number');
    await rejectsWith(enc.encode(['a', 3] as any), TypeError, 'Expected a string for texts[1] but received 3 of type number');
    await rejectsWith(enc.encode(['a'], { precision: 'float16' as any }), TypeError, "Expected one of 'float32', 'int8', 'uint8', 'binary', 'ubinary' for precision but received \"float16\" of type string");
    await rejectsWith(enc.encode(['a'], { dimensions: 33 }), RangeError, 'Expected an integer between 1 and 32 for dimensions but received 33 of type number');
    await rejectsWith(enc.encode(['a'], { normalize: 'yes' as any }), TypeError, 'Expected a boolean for normalize but received "yes" of type string');
    await rejectsWith(enc.encode(['a'], { prompt: 1 as any }), TypeError, 'Expected a string for prompt but received 1 of type number');
    await expect(enc.encode(['a'], { precision: 'int8', ranges: [[0], [1]] })).rejects.toMatchObject({ name: 'RangeError', code: 'INVALID_ARGUMENT' });
    await rejectsWith(enc.encode(['a'], { ranges: new Float32Array(64) }), TypeError, `Expected 'int8' or 'uint8' (ranges is given) for precision but received "float32" of type string`);
    await rejectsWith(SentenceEncoder.load(E5, { batchSize: '8' as any }), TypeError, 'Expected a positive integer for batchSize but received "8" of type string');
  });

  it('names the option a misspelling meant', async () => {
    await expect(enc.encode(['a'], { normalize_embeddings: true } as any)).rejects.toThrow('Unknown option normalize_embeddings for encode options; did you mean normalize?');
    await expect(enc.encode(['a'], { truncate_dim: 8 } as any)).rejects.toThrow('did you mean dimensions?');
    await expect(enc.encode(['a'], { prompt_name: 'query' } as any)).rejects.toThrow('did you mean prompt?');
    await expect(SentenceEncoder.load(E5, { max_seq_length: 128 } as any)).rejects.toThrow('did you mean maxLength?');
  });

  it('rejects bad folders with codes', async () => {
    await expect(SentenceEncoder.load(path.join(os.tmpdir(), 'no-such-model-dir'))).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
    await expect(SentenceEncoder.load(E5, { maxLength: 4096 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(SentenceEncoder.load(E5, { file: 'model_fp16.onnx' })).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
    const dense = JSON.stringify([
      ...JSON.parse(MODULES_NO_NORMALIZE),
      { idx: 2, name: '2', path: '2_Dense', type: 'sentence_transformers.models.Dense' },
    ]);
    await expect(SentenceEncoder.load(variant({ 'modules.json': dense }))).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(SentenceEncoder.load(variant({ '1_Pooling/config.json': '{ nope' }))).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(SentenceEncoder.load(variant({ '1_Pooling/config.json': poolingConfig([]) }))).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    const badDefault = variant({ 'config_sentence_transformers.json': JSON.stringify({ prompts: { query: 'q: ' }, default_prompt_name: 'doc' }) });
    await expect(SentenceEncoder.load(badDefault)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});

describe('similarity functions (sentence-transformers util: cos_sim, dot_score, euclidean_sim, manhattan_sim)', () => {
  const a = [new Float32Array([3, 4]), new Float32Array([1, 0])];
  const b = new Embeddings(new Float32Array([4, 3, 0, 0, -3, -4]), 3, 2);
  const rows = (m: Float32Array[]) => m.map((r) => Array.from(r));
  const close = (got: number[][], want: number[][]) =>
    got.forEach((r, i) => r.forEach((x, j) => expect(Math.abs(x - want[i][j]), `[${i}][${j}] ${x} vs ${want[i][j]}`).toBeLessThan(1e-6)));

  it('every row against every row, higher is closer', () => {
    // A zero vector has cosine 0 with everything (torch normalize's eps), not NaN.
    close(rows(similarity(a, b)), [[0.96, 0, -1], [0.8, 0, -0.6]]);
    close(rows(similarity(a, b, 'dot')), [[24, 0, -25], [4, 0, -3]]);
    close(rows(similarity(a, b, 'euclidean')), [[-Math.SQRT2, -5, -10], [-Math.sqrt(18), -1, -Math.sqrt(32)]]);
    close(rows(similarity(a, b, 'manhattan')), [[-2, -7, -14], [-6, -1, -8]]);
    close(rows(similarity(new Float32Array([0, 2]), [[0, 5], [1, 1]], 'cosine')), [[1, Math.SQRT1_2]]);
    expect(similarity([], b)).toEqual([]);
    expect(rows(similarity(b, []))).toEqual([[], [], []]);
    // Int8 rows and number arrays are read as their values; an Embeddings view is read in place.
    close(rows(similarity(new Embeddings(new Int8Array([3, 4, 1, 0]), 2, 2), b, 'dot')), [[24, 0, -25], [4, 0, -3]]);
    const big = new Float32Array([9, 9, 3, 4, 1, 0]).subarray(2);
    close(rows(similarity(new Embeddings(big, 2, 2), [[4, 3]], 'dot')), [[24], [4]]);
  });

  it('pairwise: row i against row i', () => {
    const b2 = [b.row(0), b.row(2)];
    close([Array.from(similarityPairwise(a, b2))], [[0.96, -0.6]]);
    close([Array.from(similarityPairwise(a, b2, 'dot'))], [[24, -3]]);
    close([Array.from(similarityPairwise(a, b2, 'euclidean'))], [[-Math.SQRT2, -Math.sqrt(32)]]);
    close([Array.from(similarityPairwise(a, b2, 'manhattan'))], [[-2, -8]]);
  });

  it('semanticSearch: the top k of each query, best first, ties by lower index, whatever the chunk size', async () => {
    // Seeded vectors on a coarse grid, so equal scores happen; rows 5 and 9 duplicate rows 2 and 4.
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) % 5) - 2;
    const dim = 6;
    const corpus = Array.from({ length: 23 }, () => Array.from({ length: dim }, rnd));
    corpus[5] = [...corpus[2]];
    corpus[9] = [...corpus[4]];
    corpus[11] = Array(dim).fill(0);
    const queries = new Embeddings(Float32Array.from({ length: 4 * dim }, rnd), 4, dim);
    for (const fn of ['cosine', 'dot', 'euclidean', 'manhattan'] as const) {
      const full = similarity(queries, corpus, fn);
      // Brute force: every index sorted by score (desc), then index (asc).
      const want = (k: number) =>
        full.map((row) => Array.from(row, (score, index) => ({ index, score })).sort((a, b) => b.score - a.score || a.index - b.index).slice(0, k));
      for (const corpusChunkSize of [1, 3, 7, 100]) {
        for (const topK of [1, 5, 23, 40]) {
          expect(await semanticSearch(queries, corpus, { topK, fn, corpusChunkSize }), `${fn} k=${topK} chunk=${corpusChunkSize}`).toEqual(want(topK));
        }
      }
      expect(await semanticSearch(queries, corpus, { fn })).toEqual(want(10));
    }
    expect(await semanticSearch(queries, [])).toEqual([[], [], [], []]);
    expect(await semanticSearch([], corpus)).toEqual([]);
    await expect(semanticSearch(queries, corpus, { topK: 0 })).rejects.toThrow(/topK/);
    await expect(semanticSearch(queries, [[1, 2]])).rejects.toThrow(/vectors of 6 values/);
  });

  it('similarity and similarityPairwise give the same bits on 1 to 3 threads (large calls are split)', () => {
    // 30 x 1,200 x 128 = 4.6 M multiply-adds: above the split threshold (4 M, 512 rows).
    const rows = (r: number, d: number, k: number) => new Embeddings(Float32Array.from({ length: r * d }, (_, i) => Math.sin(i * k) * 3), r, d);
    const a = rows(30, 128, 0.7), b = rows(1200, 128, 1.3);
    const pa = rows(1100, 4000, 0.9), pb = rows(1100, 4000, 1.1);
    for (const fn of ['cosine', 'dot', 'euclidean', 'manhattan'] as const) {
      const one = similarity(a, b, fn, { threads: 1 });
      const pairOne = similarityPairwise(pa, pb, fn, { threads: 1 });
      for (const threads of [2, 3, undefined]) {
        expect(similarity(a, b, fn, { threads }), `${fn} threads ${threads}`).toEqual(one);
        expect(similarityPairwise(pa, pb, fn, { threads }), `pairwise ${fn} threads ${threads}`).toEqual(pairOne);
      }
    }
    expect(() => similarity(a, b, 'cosine', { threads: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => similarity(a, b, 'cosine', { thread: 2 } as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('semanticSearch gives the same hits on 1 to 3 threads (chunks split into slices of at least 256 rows)', async () => {
    // 2,000 rows of small integers: many equal scores, so a merge that broke ties by thread would show.
    const dim = 4;
    const corpus = new Embeddings(Float32Array.from({ length: 2000 * dim }, (_, i) => ((i * 7919) % 5) - 2), 2000, dim);
    const queries = new Embeddings(Float32Array.from({ length: 3 * dim }, (_, i) => ((i * 31) % 3) - 1), 3, dim);
    const full = similarity(queries, corpus, 'dot');
    const want = full.map((row) => Array.from(row, (score, index) => ({ index, score })).sort((a, b) => b.score - a.score || a.index - b.index).slice(0, 700));
    for (const threads of [1, 2, 3]) {
      for (const corpusChunkSize of [2000, 900]) {
        expect(await semanticSearch(queries, corpus, { topK: 700, fn: 'dot', threads, corpusChunkSize }), `threads ${threads} chunk ${corpusChunkSize}`).toEqual(want);
      }
    }
    await expect(semanticSearch(queries, corpus, { threads: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('semanticSearch reports progress per corpus chunk and stops on abort', async () => {
    const q = new Embeddings(Float32Array.from({ length: 2 * 8 }, (_, i) => Math.sin(i)), 2, 8);
    const corpus = new Embeddings(Float32Array.from({ length: 5000 * 8 }, (_, i) => Math.cos(i * 0.37)), 5000, 8);
    const seen: number[] = [];
    const hits = await semanticSearch(q, corpus, { topK: 3, corpusChunkSize: 1000, onProgress: (p) => seen.push(p.done / p.total) });
    expect(hits.map((h) => h.length)).toEqual([3, 3]);
    expect(seen[seen.length - 1]).toBe(1);
    expect(seen.every((x, i) => i === 0 || x >= seen[i - 1])).toBe(true);

    const before = new AbortController();
    before.abort();
    await expect(semanticSearch(q, corpus, { signal: before.signal })).rejects.toMatchObject({ code: 'ABORTED' });
    // Long enough (1,000 x 50,000 x 384, about 19 G multiply-adds, 500 chunks) that the abort sent at the first
    // progress event lands while most chunks are still to run.
    const big = new Float32Array(50_000 * 384);
    for (let i = 0; i < big.length; i++) big[i] = (i % 7) - 3;
    const qs = new Embeddings(big.subarray(0, 1000 * 384), 1000, 384);
    const during = new AbortController();
    let calls = 0;
    const err = await semanticSearch(qs, new Embeddings(big, 50_000, 384), {
      corpusChunkSize: 100,
      signal: during.signal,
      onProgress: () => {
        calls++;
        during.abort();
      },
    }).catch((e) => e);
    expect(err.code).toBe('ABORTED');
    expect(calls).toBeLessThan(500);
  });

  it('refuses mismatched sizes and unknown functions with INVALID_ARGUMENT', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return [(e as Error).constructor.name, (e as { code?: string }).code, (e as Error).message];
      }
      return undefined;
    };
    expect(code(() => similarity(a, [[1, 2, 3]]))).toEqual(['RangeError', 'INVALID_ARGUMENT', "Expected vectors of 2 values (the length of a's) for b but received an array of length 1 of type array"]);
    expect(code(() => similarity(a, [[1, 2], [1, 2, 3]]))).toEqual(['RangeError', 'INVALID_ARGUMENT', 'Expected a vector of 2 values (the length of the first) for b[1] but received an array of length 3 of type array']);
    expect(code(() => similarityPairwise(a, [[1, 2]]))).toEqual(['RangeError', 'INVALID_ARGUMENT', 'Expected 2 vectors (as many as a) for b but received an array of length 1 of type array']);
    expect(code(() => similarity(a, b, 'jaccard' as any))?.[2]).toBe("Expected one of 'cosine', 'dot', 'euclidean', 'manhattan' for fn but received \"jaccard\" of type string");
    expect(code(() => similarity('nope' as any, b))?.[1]).toBe('INVALID_ARGUMENT');
    expect(code(() => similarity([['x']] as any, b))?.[2]).toContain('for a[0]');
  });
});
