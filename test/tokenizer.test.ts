// Public Tokenizer API vs the Rust `tokenizers` library (npm tokenizers@0.23.2): encode / encodeBatch
// (ids, type ids, UTF-16 offsets, special mask), truncation with stride + overflowing windows,
// padding, decode, lone surrogates and load errors, on every tokenizer.json in ../shared/tokenizers
// plus a few tokenizers trained here with the reference library.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Tokenizer } from '../lib/index';
// @ts-ignore -- plain ESM helper without types
import { makeCorpus } from './helpers/multilingual-corpus.mjs';
import { charToUtf16 } from './helpers/offsets.mjs';
// @ts-ignore -- plain ESM script without types
import { trainMatrix } from '../scripts/tokenizer-train-matrix.mjs';

const require_ = createRequire(__filename);
const hf = require_('tokenizers');

const SHARED = [
  process.env.WINNOW_SHARED_DIR && path.join(process.env.WINNOW_SHARED_DIR, 'tokenizers'),
  path.resolve(__dirname, '../../shared/tokenizers'),
  '/work/shared/tokenizers',
].find((p) => p && fs.existsSync(p)) as string;

const SHARED_FILES = fs
  .readdirSync(SHARED)
  .map((d) => ({ name: d, path: path.join(SHARED, d, 'tokenizer.json') }))
  .filter((f) => fs.existsSync(f.path));
const TRAINED = ['bytelevel-bpe-prefix-roberta', 'unigram-metaspace-first', 'wordlevel-nfd-stripaccents-digits-punct'];

const N_TEXTS = 1000;
const N_PAIRS = 150;
const texts: string[] = makeCorpus(7, N_TEXTS + 2 * N_PAIRS);
const singles = texts.slice(0, N_TEXTS);
const pairs: [string, string][] = [];
for (let i = 0; i < N_PAIRS; i++) pairs.push([texts[N_TEXTS + 2 * i], texts[N_TEXTS + 2 * i + 1]]);

type Flat = { ids: number[]; typeIds: number[]; offsets: number[][]; special: number[]; attention: number[] };

function refFlat(e: any, a: string, b: string | null): Flat {
  const seq = e.getSequenceIds();
  const ca = charToUtf16(a.toWellFormed());
  const cb = b === null ? ca : charToUtf16(b.toWellFormed());
  return {
    ids: e.getIds(),
    typeIds: e.getTypeIds(),
    offsets: e.getOffsets().map(([s, t]: number[], k: number) => {
      const conv = seq[k] === 1 ? cb : ca;
      return seq[k] === null || seq[k] === undefined ? [s, t] : [conv(s), conv(t)];
    }),
    special: e.getSpecialTokensMask(),
    attention: e.getAttentionMask(),
  };
}

function ourFlat(e: any): Flat {
  const offsets: number[][] = [];
  for (let i = 0; i < e.ids.length; i++) offsets.push([e.offsets[2 * i], e.offsets[2 * i + 1]]);
  return {
    ids: Array.from(e.ids),
    typeIds: Array.from(e.typeIds),
    offsets,
    special: Array.from(e.specialTokensMask),
    attention: Array.from(e.attentionMask),
  };
}

function countMismatches(ref: Flat[], ours: Flat[], what: string, inputs: unknown[]): number {
  let bad = 0;
  for (let i = 0; i < ref.length; i++) {
    if (JSON.stringify(ref[i]) !== JSON.stringify(ours[i])) {
      if (bad++ < 2) console.log(`${what} #${i} ${JSON.stringify(inputs[i]).slice(0, 300)}\n ref  ${JSON.stringify(ref[i]).slice(0, 600)}\n ours ${JSON.stringify(ours[i]).slice(0, 600)}`);
    }
  }
  return bad;
}

let trainDir = '';
let trainedFiles: { name: string; path: string }[] = [];

beforeAll(() => {
  trainDir = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-tok-test-'));
  trainedFiles = trainMatrix({ out: trainDir, lines: 1500, only: TRAINED });
}, 120_000);

afterAll(() => {
  if (trainDir) fs.rmSync(trainDir, { recursive: true, force: true });
});

const ALL = [...SHARED_FILES.map((f) => ({ ...f, trained: false })), ...TRAINED.map((name) => ({ name, path: '', trained: true }))];

describe.each(ALL)('Tokenizer parity: $name', (entry) => {
  let ours: Tokenizer;
  let ref: any;
  let file = '';

  beforeAll(async () => {
    file = entry.trained ? trainedFiles.find((f) => f.name === entry.name)!.path : entry.path;
    ours = await Tokenizer.fromFile(file);
    ref = hf.Tokenizer.fromFile(file);
    // Winnow applies truncation / padding only when asked: compare with the reference's off.
    ref.disableTruncation();
    ref.disablePadding();
  });
  afterAll(() => ours?.dispose());
  beforeEach(() => {
    ref?.disableTruncation();
    ref?.disablePadding();
  });

  it('encode: singles and pairs, with and without special tokens', async () => {
    for (const addSpecialTokens of [true, false]) {
      const refs: Flat[] = [];
      const mine: Flat[] = [];
      const inputs: unknown[] = [];
      for (const t of singles) {
        refs.push(refFlat(await ref.encode(t.toWellFormed(), null, { addSpecialTokens }), t, null));
        mine.push(ourFlat(ours.encode(t, null, { addSpecialTokens })));
        inputs.push(t);
      }
      for (const [a, b] of pairs) {
        refs.push(refFlat(await ref.encode(a.toWellFormed(), b.toWellFormed(), { addSpecialTokens }), a, b));
        mine.push(ourFlat(ours.encode(a, b, { addSpecialTokens })));
        inputs.push([a, b]);
      }
      expect(countMismatches(refs, mine, `encode(addSpecialTokens=${addSpecialTokens})`, inputs)).toBe(0);
    }
  });

  it('encodeBatch equals the reference encodeBatch', async () => {
    const batch = singles.slice(0, 300);
    const r = (await ref.encodeBatch(batch.map((t) => t.toWellFormed()))).map((e: any, i: number) => refFlat(e, batch[i], null));
    const o = (await ours.encodeBatch(batch)).map(ourFlat);
    expect(countMismatches(r, o, 'encodeBatch', batch)).toBe(0);
    // The reference binding's encodeBatch takes no pairs: compare with its encode, one pair at a time.
    const rp: Flat[] = [];
    for (const [a, b] of pairs) rp.push(refFlat(await ref.encode(a.toWellFormed(), b.toWellFormed()), a, b));
    const op = (await ours.encodeBatch(pairs)).map(ourFlat);
    expect(countMismatches(rp, op, 'encodeBatch pairs', pairs)).toBe(0);
  });

  it('encodeBatch gives the same encodings on 1, 3 and the default number of threads', async () => {
    const flat = async (inputs: ReadonlyArray<string | readonly [string, string]>, threads?: number) =>
      JSON.stringify((await ours.encodeBatch(inputs, { threads, padding: true, maxLength: 64, truncation: 'longest_first' })).map(ourFlat));
    const one = await flat(singles, 1);
    expect(await flat(singles, 3)).toBe(one);
    expect(await flat(singles)).toBe(one);
    const onePairs = await flat(pairs, 1);
    expect(await flat(pairs, 3)).toBe(onePairs);
    // Batch padding is to the longest of the whole batch, not of one thread's share.
    const lens = new Set((await ours.encodeBatch(singles, { threads: 3, padding: true })).map((e) => e.ids.length));
    expect(lens.size).toBe(1);
  });

  it('truncation with stride and overflowing windows', async () => {
    const cases: { maxLength: number; stride: number; side: 'left' | 'right' }[] = [
      { maxLength: 16, stride: 4, side: 'right' },
      { maxLength: 24, stride: 0, side: 'left' },
    ];
    const nSpecialPair = ours.numSpecialTokensToAdd(true);
    for (const c of cases) {
      ref.setTruncation(c.maxLength, { stride: c.stride, direction: c.side });
      let bad = 0;
      const inputs: [string, string | null][] = [
        ...singles.slice(0, 120).map((t) => [t, null] as [string, null]),
        ...pairs.slice(0, 40),
      ];
      for (const [a, b] of inputs) {
        // A pair needs room for its special tokens plus the stride on each side.
        if (b !== null && c.maxLength - nSpecialPair <= 2 * c.stride + 1) continue;
        let refE: any;
        try {
          refE = await ref.encode(a.toWellFormed(), b === null ? null : b.toWellFormed());
        } catch {
          continue;  // the reference refuses it (e.g. stride too large for the pair); not compared
        }
        const e = ours.encode(a, b, { maxLength: c.maxLength, stride: c.stride, truncationSide: c.side, returnOverflowing: true });
        // Every window (the first, then the overflowing ones in order) must match. tokenizers 0.23
        // stops tokenizing a sequence once it holds max_length tokens (at a pre-token boundary)
        // before truncating, so its windows end there (e.g. 14 + 6 tokens for an 18-token text with
        // max 16, stride 4); Winnow does the same.
        const rf = [refE, ...refE.getOverflowing()].map((x: any) => refFlat(x, a, b));
        const of = [e, ...(e.overflowing ?? [])].map(ourFlat);
        if (JSON.stringify(rf) !== JSON.stringify(of)) {
          if (bad++ < 2) console.log('truncation', c, JSON.stringify([a, b]).slice(0, 200), JSON.stringify(rf).slice(0, 600), JSON.stringify(of).slice(0, 600));
        }
      }
      expect(bad).toBe(0);
    }
    ref.disableTruncation();
  });

  it('padding: batch longest, multiple of, fixed length, left side', async () => {
    const batch = [...singles.slice(0, 40)];
    const variants: { refOpts: any; ours: any }[] = [
      // The file's padding section (pad id, pad_to_multiple_of) is the default for `padding: true`.
      { refOpts: { padToMultipleOf: undefined as number | undefined }, ours: { padding: true } },
      { refOpts: { padToMultipleOf: 8 }, ours: { padding: true, padToMultipleOf: 8 } },
      { refOpts: { maxLength: 300, direction: 'left' }, ours: { padding: true, padToLength: 300, paddingSide: 'left' } },
    ];
    const j = JSON.parse(fs.readFileSync(file, 'utf8'));
    const padId = j.padding?.pad_id ?? 0;
    const padTypeId = j.padding?.pad_type_id ?? 0;
    // The file's pad_to_multiple_of stays in effect for Winnow unless overridden.
    for (const v of variants) if (v.ours.padToMultipleOf === undefined) v.refOpts.padToMultipleOf = j.padding?.pad_to_multiple_of ?? undefined;
    for (const v of variants) {
      ref.setPadding({ padId, padTypeId, padToken: j.padding?.pad_token ?? '[PAD]', ...v.refOpts });
      const r = (await ref.encodeBatch(batch.map((t) => t.toWellFormed()))).map((e: any, i: number) => refFlat(e, batch[i], null));
      const o = (await ours.encodeBatch(batch, v.ours)).map(ourFlat);
      expect(countMismatches(r, o, `padding ${JSON.stringify(v.ours)}`, batch)).toBe(0);
    }
    ref.disablePadding();
  });

  it('decode equals the reference decode', async () => {
    let bad = 0;
    for (const t of singles.slice(0, 200)) {
      const ids = Array.from(ours.encode(t).ids);
      for (const skipSpecialTokens of [true, false]) {
        const r = await ref.decode(ids, skipSpecialTokens);
        const o = ours.decode(ids, { skipSpecialTokens });
        if (r !== o && bad++ < 3) console.log('decode', skipSpecialTokens, JSON.stringify(t).slice(0, 200), JSON.stringify(r).slice(0, 200), JSON.stringify(o).slice(0, 200));
      }
    }
    expect(bad).toBe(0);
    // decodeBatch: the reference's decodeBatch, list for list.
    const lists = singles.slice(0, 40).map((t) => Array.from(ours.encode(t).ids));
    for (const skipSpecialTokens of [true, false]) {
      expect(ours.decodeBatch(lists, { skipSpecialTokens })).toEqual(await ref.decodeBatch(lists, skipSpecialTokens));
    }
    expect(ours.decodeBatch([])).toEqual([]);
  });

  it('reads lone surrogates as U+FFFD', async () => {
    for (const t of ['a\ud800b', '\udfff', 'x \ud83d', '\ud83d\ude00\ud800 end']) {
      const o = ourFlat(ours.encode(t));
      const r = refFlat(await ref.encode(t.toWellFormed()), t, null);
      expect(o).toEqual(r);
      expect(o.ids).toEqual(ourFlat(ours.encode(t.toWellFormed())).ids);
    }
  });
});

describe('Tokenizer load errors', () => {
  const base = () => JSON.parse(fs.readFileSync(path.join(SHARED, 'bert-base-uncased', 'tokenizer.json'), 'utf8'));

  async function loadError(json: string): Promise<any> {
    try {
      await Tokenizer.fromJSON(json);
    } catch (e) {
      return e;
    }
    throw new Error('expected fromJSON to reject');
  }

  it('TOKENIZER_UNSUPPORTED names the JSON path of the component', async () => {
    const j = base();
    j.normalizer = { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Foo' }] };
    const e = await loadError(JSON.stringify(j));
    expect(e.code).toBe('TOKENIZER_UNSUPPORTED');
    expect(e.message).toContain('normalizer.normalizers[1].type = "Foo"');
    const k = base();
    k.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Whitespace' }, { type: 'Bar' }] };
    const e2 = await loadError(JSON.stringify(k));
    expect(e2.code).toBe('TOKENIZER_UNSUPPORTED');
    expect(e2.message).toContain('pre_tokenizer.pretokenizers[1].type = "Bar"');
  });

  it('TOKENIZER_INVALID for malformed JSON, with the JSON path', async () => {
    const e = await loadError('{"model": ');
    expect(e.code).toBe('TOKENIZER_INVALID');
    const j = base();
    j.post_processor.special_tokens['[CLS]'].ids = ['x'];
    const e2 = await loadError(JSON.stringify(j));
    expect(e2.code).toBe('TOKENIZER_INVALID');
    expect(e2.message).toContain('post_processor.special_tokens["[CLS]"].ids[0]');
    const k = base();
    k.normalizer = { type: 'Precompiled', precompiled_charsmap: '!!!' };
    const e3 = await loadError(JSON.stringify(k));
    expect(e3.code).toBe('TOKENIZER_INVALID');
    expect(e3.message).toContain('normalizer.precompiled_charsmap');
    const m = base();
    m.pre_tokenizer = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'sometimes' };
    const e4 = await loadError(JSON.stringify(m));
    expect(e4.code).toBe('TOKENIZER_INVALID');
    expect(e4.message).toContain('pre_tokenizer.prepend_scheme');
  });

  it('a missing file is IO_ERROR', async () => {
    await expect(Tokenizer.fromFile('/nonexistent/tokenizer.json')).rejects.toMatchObject({ code: 'IO_ERROR' });
  });

  it('encodeBatch: one shared ArrayBuffer per call, each view the right length, independent after slice()', async () => {
    const tok = await Tokenizer.fromFile(SHARED_FILES[0].path);
    const b = await tok.encodeBatch(['one two three', 'four', 'five six'], { threads: 2 });
    expect(b[0].ids.buffer).toBe(b[2].typeIds.buffer);
    for (const e of b) {
      expect(e.typeIds.length).toBe(e.ids.length);
      expect(e.attentionMask.length).toBe(e.ids.length);
      expect(e.specialTokensMask.length).toBe(e.ids.length);
      expect(e.offsets.length).toBe(2 * e.ids.length);
      expect(e.sequenceIds.length).toBe(e.ids.length);
      expect(e.sequenceIds[0]).toBeNull(); // [CLS]
    }
    const own = b[1].ids.slice();
    b[1].ids[1] = -7;
    expect(own[1]).not.toBe(-7);
    expect(tok.encode('four').ids).toEqual(own);
    tok.dispose();
  });

  it('encodeBatch: threads is validated, and a failing text fails the call on any number of threads', async () => {
    const tok = await Tokenizer.fromFile(SHARED_FILES[0].path);
    await expect(tok.encodeBatch(['a'], { threads: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(tok.encodeBatch(['a'], { threads: 1.5 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    // only_second cannot shorten a pair whose first text alone is over maxLength: one bad pair among 200.
    const batch: [string, string][] = pairs.slice(0, 100).map(([a]) => [a.slice(0, 20), 'short']);
    batch.splice(137 % batch.length, 0, [singles.slice(0, 40).join(' '), 'short']);
    for (const threads of [1, 4]) {
      await expect(tok.encodeBatch(batch, { threads, maxLength: 32, truncation: 'only_second' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    // Without the bad pair every thread count succeeds.
    const good = batch.filter((p) => p[1] === 'short' && p[0].length <= 20);
    expect((await tok.encodeBatch(good, { threads: 4, maxLength: 32, truncation: 'only_second' })).length).toBe(good.length);
    tok.dispose();
  });
});
