import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Embeddings, runtimeInfo, StaticModel } from '../lib/index';
import { FIXTURES, ROOT } from './helpers/reference';
import { editedCopy } from './helpers/model-copy';
import { MAX_THREADS } from '../lib/model-options';
import { cosine, maxAbs, Model2VecReference } from './helpers/model2vec-reference';
// @ts-ignore -- plain ESM helper without types
import { makeCorpus } from './helpers/multilingual-corpus.mjs';

const POTION = path.join(FIXTURES, 'potion-tiny');
const VARIANTS = ['potion-tiny', 'potion-tiny-f16', 'potion-tiny-bf16', 'potion-tiny-int8', 'potion-tiny-vocabq', 'potion-tiny-st'];
const CORPUS = [
  process.env.WINNOW_SHARED_DIR && path.join(process.env.WINNOW_SHARED_DIR, 'corpora/dbpedia-entity/corpus.jsonl'),
  path.resolve(__dirname, '../../shared/corpora/dbpedia-entity/corpus.jsonl'),
  '/work/shared/corpora/dbpedia-entity/corpus.jsonl',
].find((p) => p && fs.existsSync(p)) as string;

function dbpedia(n: number): string[] {
  const lines = fs.readFileSync(CORPUS, 'utf8').split('\n').filter(Boolean).slice(0, n);
  return lines.map((l) => {
    const j = JSON.parse(l);
    return `${j.title}. ${j.text}`;
  });
}

// ≥ 300 real texts, multilingual / odd texts, and edge cases.
const BIG = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(1800); // ~100 KB
const EDGE = [
  '',
  ' ',
  '\u{1F9E0}\u{1F9E0} \u{1F9E0}', // only unknown tokens for an uncased WordPiece vocabulary
  '\u0000\u0001\u0002',
  BIG,
  '日本語のテキストと English mixed, Ça va? Ünïcödé ⟨math⟩ ∑ 👩‍👩‍👧',
  'a',
  'word '.repeat(2000),
];
const TEXTS: string[] = [...dbpedia(320), ...(makeCorpus(7, 60) as string[]), ...EDGE];

function worstCosine(got: Embeddings, ref: Float64Array[]): number {
  let worst = 1;
  for (let i = 0; i < ref.length; i++) worst = Math.min(worst, cosine(got.row(i), ref[i]));
  return worst;
}

async function rejectsWith(p: Promise<unknown>, cls: ErrorConstructor, message: string): Promise<void> {
  const e = await p.then(
    () => new Error('resolved'),
    (err) => err,
  );
  expect(e).toBeInstanceOf(cls);
  expect(e.message).toBe(message);
  expect(e.code).toBe('INVALID_ARGUMENT');
}

describe('StaticModel parity with a plain model2vec reference (tokenizers + JS)', () => {
  for (const variant of VARIANTS) {
    it(`${variant}: every vector matches (cosine ≥ 0.99999)`, async () => {
      const dir = path.join(FIXTURES, variant);
      const m = await StaticModel.load(dir, { threads: 2 });
      const ref = Model2VecReference.load(dir);
      expect(m.dim).toBe(16);
      expect(m.vocabSize).toBe(29528);
      expect(m.normalize).toBe(ref.normalize);
      expect(m.medianTokenLength).toBe(ref.medianTokenLength);
      const expected = await ref.encode(TEXTS);
      const got = await m.encode(TEXTS);
      expect(got.rows).toBe(TEXTS.length);
      const worst = worstCosine(got, expected);
      expect(worst).toBeGreaterThanOrEqual(0.99999);
      let diff = 0;
      for (let i = 0; i < TEXTS.length; i++) diff = Math.max(diff, maxAbs(got.row(i), expected[i]));
      if (variant === 'potion-tiny' || variant === 'potion-tiny-st') expect(diff).toBeLessThanOrEqual(1e-5);
      console.log(`${variant}: ${TEXTS.length} texts, worst cosine ${worst.toFixed(9)}, max |diff| ${diff.toExponential(2)}`);
      // The empty text and the text of unknown tokens give zero vectors.
      for (const t of ['', '\u{1F9E0}\u{1F9E0} \u{1F9E0}']) expect(Array.from(got.row(TEXTS.indexOf(t))).every((x) => x === 0)).toBe(true);
      m.dispose();
    });
  }

  it('truncates by characters then tokens like model2vec; maxLength: null disables it', async () => {
    const m = await StaticModel.load(POTION);
    const ref = Model2VecReference.load(POTION);
    const texts = [BIG, 'word '.repeat(2000), ...dbpedia(20)];
    for (const maxLength of [1, 8, 64, null] as const) {
      const got = await m.encode(texts, { maxLength });
      expect(worstCosine(got, await ref.encode(texts, maxLength))).toBeGreaterThanOrEqual(0.99999);
    }
    const counts = await m.countTokens([BIG], { maxLength: null });
    expect(counts[0]).toBe((await ref.tokenize(BIG, null)).length);
    expect((await m.countTokens([BIG]))[0]).toBe(512);
    // The character cut applies before tokenizing: 100 KB gives the first 512 tokens of its first 512 × median chars.
    expect(await m.countTokens(['word '.repeat(2000)], { maxLength: 8 })).toEqual(new Uint32Array([8]));
    m.dispose();
  });

  it('batch results equal single results, and encodeSync equals encode', async () => {
    const m = await StaticModel.load(POTION, { threads: 2 });
    const texts = TEXTS.slice(0, 80).concat(EDGE);
    const all = await m.encode(texts, { batchSize: 3 });
    const sync = m.encodeSync(texts);
    expect(sync.data).toEqual(all.data);
    for (const i of [0, 5, 79, texts.length - 1]) {
      expect((await m.encode([texts[i]])).data).toEqual(all.row(i));
      expect(m.encodeSync([texts[i]]).data).toEqual(all.row(i));
    }
    m.dispose();
  });

  it('encodeAsSequence returns the (mapped, weighted) table rows per token, not normalised', async () => {
    for (const variant of ['potion-tiny', 'potion-tiny-vocabq', 'potion-tiny-int8']) {
      const dir = path.join(FIXTURES, variant);
      const m = await StaticModel.load(dir);
      const ref = Model2VecReference.load(dir);
      const texts = ['the quick brown fox', '', 'Ça va? 東京', BIG];
      const seqs = await m.encodeAsSequence(texts);
      for (let i = 0; i < texts.length; i++) {
        const ids = await ref.tokenize(texts[i]);
        expect(seqs[i].length).toBe(ids.length * m.dim);
        ids.forEach((id, t) => expect(maxAbs(seqs[i].subarray(t * m.dim, (t + 1) * m.dim), ref.row(id))).toBeLessThanOrEqual(1e-6));
      }
      m.dispose();
    }
  });

  it('normalize option overrides the config', async () => {
    const m = await StaticModel.load(POTION, { normalize: false });
    expect(m.normalize).toBe(false);
    const ref = Model2VecReference.load(POTION, false);
    const texts = dbpedia(40);
    const got = await m.encode(texts);
    const expected = await ref.encode(texts);
    for (let i = 0; i < texts.length; i++) expect(maxAbs(got.row(i), expected[i])).toBeLessThanOrEqual(1e-6);
    expect(Math.hypot(...got.row(0))).not.toBeCloseTo(1, 3);
    const st = await StaticModel.load(path.join(FIXTURES, 'potion-tiny-st'), { normalize: true });
    expect(Math.hypot(...(await st.encode(['hello world'])).row(0))).toBeCloseTo(1, 5);
    m.dispose();
    st.dispose();
  });

  it('reports progress, honours abort signals, counts calls', async () => {
    const m = await StaticModel.load(POTION, { threads: 2 });
    const seen: number[] = [];
    await m.encode(TEXTS, { batchSize: 16, onProgress: (p) => seen.push(p.done) });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[seen.length - 1]).toBe(TEXTS.length);
    // Two workers finish chunks concurrently: events must still arrive in increasing order, ending at the total
    // (they once did not: a worker that counted first could send after one that counted later).
    for (let run = 0; run < 20; run++) {
      const events: number[] = [];
      await m.encode(TEXTS, { batchSize: 4, onProgress: (p) => events.push(p.done) });
      expect(events).toEqual([...events].sort((a, b) => a - b));
      expect(events[events.length - 1]).toBe(TEXTS.length);
    }
    const ac = new AbortController();
    ac.abort();
    await expect(m.encode(TEXTS, { signal: ac.signal })).rejects.toMatchObject({ code: 'ABORTED' });
    const p = m.encode(TEXTS);
    expect(m.counters()).toEqual({ queued: 0, running: 1 });
    expect(() => m.dispose()).toThrow(expect.objectContaining({ code: 'MODEL_BUSY' }));
    await p;
    m.dispose();
    expect(() => m.encodeSync(['x'])).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    await expect(m.encode(['x'])).rejects.toMatchObject({ code: 'DISPOSED' });
  });
});

describe('StaticModel errors', () => {
  it('rejects malformed folders with codes', async () => {
    await expect(StaticModel.load('/nonexistent/potion')).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
    const noModel = editedCopy(POTION, (d) => fs.rmSync(path.join(d, 'model.safetensors')));
    const err = await StaticModel.load(noModel).catch((e) => e);
    expect(err.code).toBe('MODEL_NOT_FOUND');
    expect(err.message).toContain(path.join(noModel, 'model.safetensors'));
    expect(err.message).toContain(path.join(noModel, '0_StaticEmbedding', 'model.safetensors'));
    expect(err.stack).toContain('static-model.test.ts');
    const bad = editedCopy(POTION, (d) => fs.writeFileSync(path.join(d, 'model.safetensors'), 'nope'));
    await expect(StaticModel.load(bad)).rejects.toMatchObject({ code: 'SAFETENSORS_INVALID' });
    // A hidden_dim that disagrees with the table loads, as in model2vec (test/api-gaps.test.ts).
    for (const d of [noModel, bad]) fs.rmSync(d, { recursive: true, force: true });
  });

  it('argument errors have exact messages', async () => {
    await rejectsWith(StaticModel.load(42 as any), TypeError, 'Expected a model folder path for dir but received 42 of type number');
    await rejectsWith(StaticModel.load(POTION, { normalize: 'yes' as any }), TypeError, 'Expected a boolean for normalize but received "yes" of type string');
    await expect(StaticModel.load(POTION, { max_threads: 2 } as any)).rejects.toThrow(/Unknown option max_threads for StaticModel.load options/);
    await rejectsWith(StaticModel.load(POTION, { threads: 0 }), RangeError, `Expected an integer between 1 and ${MAX_THREADS} for threads but received 0 of type number`);
    const m = await StaticModel.load(POTION);
    // One text as a string is embedded alone (issue 27); anything else that is not an array is refused.
    expect(await m.encode('text')).toEqual((await m.encode(['text'])).row(0));
    await rejectsWith(m.encode(7 as any), TypeError, 'Expected an array of strings for texts but received 7 of type number');
    await rejectsWith(m.encode(['a', 1] as any), TypeError, 'Expected a string for texts[1] but received 1 of type number');
    await rejectsWith(m.encode(['a'], { max_length: 8 } as any), TypeError, 'Unknown option max_length for encode options; did you mean maxLength?');
    await rejectsWith(m.encode(['a'], { maxLength: 0 }), RangeError, 'Expected an integer between 1 and 16777216 for maxLength but received 0 of type number');
    await rejectsWith(m.encode(['a'], { maxLength: 1.5 }), TypeError, 'Expected a positive integer for maxLength but received 1.5 of type number');
    expect(() => m.encodeSync(['a'], { signal: new AbortController().signal } as any)).toThrow(/Unknown option signal for encodeSync options/);
    await rejectsWith(m.encodeAsSequence(['a'], { batchSize: -1 }), RangeError, 'Expected an integer between 1 and 16777216 for batchSize but received -1 of type number');
    expect((await m.encode([])).rows).toBe(0);
    m.dispose();
  });
});

describe('SIMD level (runtimeInfo().simd, WINNOW_SIMD)', () => {
  // What this CPU offers, read independently of the addon (Linux /proc/cpuinfo flags).
  function expectedBest(): string {
    if (process.arch === 'arm64') return 'neon';
    if (process.arch !== 'x64') return 'scalar';
    const flags = new Set((/^flags\s*:(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '').trim().split(/\s+/));
    const avx2 = ['avx', 'avx2', 'fma', 'f16c'].every((f) => flags.has(f));
    if (avx2 && ['avx512f', 'avx512dq', 'avx512bw', 'avx512vl'].every((f) => flags.has(f))) return 'avx512';
    return avx2 ? 'avx2' : 'scalar';
  }
  const simdIn = (value: string) =>
    execFileSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(path.join(ROOT, 'dist/cjs/index.js'))}).runtimeInfo().simd)`], {
      env: { ...process.env, WINNOW_SIMD: value },
      encoding: 'utf8',
    }).trim();

  it('reports the best level the CPU has', () => {
    if (!process.env.WINNOW_SIMD) expect(runtimeInfo().simd).toBe(expectedBest());
    expect(simdIn('')).toBe(expectedBest());
  });

  it('WINNOW_SIMD caps the level; a level the CPU lacks falls back; an unknown name is ignored', () => {
    const best = expectedBest();
    expect(simdIn('scalar')).toBe('scalar');
    expect(simdIn('avx2')).toBe(best === 'avx512' || best === 'avx2' ? 'avx2' : 'scalar');
    expect(simdIn('avx512')).toBe(best === 'neon' ? 'scalar' : best);
    expect(simdIn('neon')).toBe(best === 'neon' ? 'neon' : 'scalar');
    expect(simdIn('sse9')).toBe(best);
  });

  it("runtimeInfo().kernels: each of Winnow's operators at the level in force (x86-64 without AVX2: their SSE2 form)", () => {
    const kernelsIn = (value: string) =>
      JSON.parse(execFileSync(process.execPath, ['-e', `console.log(JSON.stringify(require(${JSON.stringify(path.join(ROOT, 'dist/cjs/index.js'))}).runtimeInfo().kernels))`], {
        env: { ...process.env, WINNOW_SIMD: value },
        encoding: 'utf8',
      }));
    const best = expectedBest();
    const floor = process.arch === 'x64' ? 'sse2' : 'scalar';
    for (const op of ['LayerNorm', 'BiasGelu', 'Attention']) {
      expect(kernelsIn('')[op]).toBe(best === 'scalar' ? floor : best);
      expect(kernelsIn('scalar')[op]).toBe(floor);
      if (best === 'avx512') expect(kernelsIn('avx2')[op]).toBe('avx2');
    }
  });
});
