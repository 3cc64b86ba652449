// Hostile tokenizer.json files, options and texts (issue 32): each case that used to crash, hang or exhaust
// memory runs in a child process (with a timeout, and a memory limit where exhaustion was the failure) and
// must end with a coded error or the right result.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tokenizer } from '../lib/index';
// @ts-ignore -- plain ESM helper without types
import { charToUtf16 } from './helpers/offsets.mjs';
import { FIXTURES, ROOT, SHARED } from './helpers/reference';

// WINNOW_TEST_DIST points the child processes at another build (e.g. main's, to see these tests fail there).
const DIST = process.env.WINNOW_TEST_DIST ?? path.join(ROOT, 'dist/cjs/index.js');
const BERT = path.join(SHARED, 'tokenizers/bert-base-uncased/tokenizer.json');

type ChildResult = { status: number | null; signal: string | null; out: any; stderr: string };

/**
 * Runs `body` (an async function body with `winnow`, `fs` and `path` in scope) in a fresh node process. The body
 * returns a JSON-able value; a thrown error comes back as { error: { code, name, message } }.
 */
function runChild(body: string, opts: { timeoutMs?: number; addressSpaceBytes?: number } = {}): ChildResult {
  const script = `
    const winnow = require(${JSON.stringify(DIST)});
    const fs = require('fs');
    const path = require('path');
    (async () => { ${body} })().then(
      (r) => { process.stdout.write(JSON.stringify({ result: r }) + '\\n'); },
      (e) => { process.stdout.write(JSON.stringify({ error: { code: e && e.code, name: e && e.name, message: String(e && e.message) } }) + '\\n'); },
    );`;
  const node = [process.execPath, '-e', script];
  const cmd = opts.addressSpaceBytes ? ['prlimit', `--as=${opts.addressSpaceBytes}`, '--', ...node] : node;
  const r = spawnSync(cmd[0], cmd.slice(1), { cwd: ROOT, encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20 });
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  let out: any;
  try {
    out = JSON.parse(last);
  } catch {
    out = undefined;
  }
  return { status: r.status, signal: r.signal, out, stderr: (r.stderr ?? '').slice(-2000) };
}

let tmp = '';
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-hostile-'));
});
afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('Tokenizer.fromFile refuses what is not a regular file', () => {
  it('a FIFO with no writer is IO_ERROR at once, not a hang', () => {
    const fifo = path.join(tmp, 'tokenizer.fifo');
    spawnSync('mkfifo', [fifo]);
    expect(fs.statSync(fifo).isFIFO()).toBe(true);
    const r = runChild(`return await winnow.Tokenizer.fromFile(${JSON.stringify(fifo)});`, { timeoutMs: 20_000 });
    expect(r.signal).toBeNull();
    expect(r.out?.error?.code).toBe('IO_ERROR');
    expect(r.out.error.message).toContain('not a regular file');
    expect(r.out.error.message).toContain(fifo);
  });

  it('/dev/zero is IO_ERROR at once, not an endless read', () => {
    const r = runChild(`return await winnow.Tokenizer.fromFile('/dev/zero');`, { timeoutMs: 20_000 });
    expect(r.signal).toBeNull();
    expect(r.out?.error?.code).toBe('IO_ERROR');
    expect(r.out.error.message).toContain('not a regular file');
  });

  it('a regular file still loads', () => {
    const r = runChild(`const t = await winnow.Tokenizer.fromFile(${JSON.stringify(BERT)}); return Array.from(t.encode('hello world').ids);`);
    expect(r.out?.result).toEqual([101, 7592, 2088, 102]);
  });
});

// tokenizer.json text of bert-base-uncased with `field` replaced by `depth` Sequences around `leaf`, built as a
// string (JSON.stringify itself recurses too deep for 20,000 levels).
const BERT_JSON = fs.readFileSync(BERT, 'utf8');
const NESTABLE = [
  { field: 'normalizer', key: 'normalizers', leaf: '{"type":"Lowercase"}' },
  { field: 'pre_tokenizer', key: 'pretokenizers', leaf: '{"type":"Whitespace"}' },
  { field: 'decoder', key: 'decoders', leaf: '{"type":"Fuse"}' },
  { field: 'post_processor', key: 'processors', leaf: JSON.stringify(JSON.parse(BERT_JSON).post_processor) },
] as const;
function nested(field: string, key: string, leaf: string, depth: number): string {
  const j = JSON.parse(BERT_JSON);
  j[field] = '@@';
  return JSON.stringify(j).replace('"@@"', `{"type":"Sequence","${key}":[`.repeat(depth) + leaf + ']}'.repeat(depth));
}

describe('deeply nested tokenizer.json', () => {
  it.each(NESTABLE)('$field: 64 nested Sequences load, 65 are TOKENIZER_INVALID naming the JSON path', async ({ field, key, leaf }) => {
    const ok = await Tokenizer.fromJSON(nested(field, key, leaf, 64));
    expect(Array.from(ok.encode('Hello world').ids).length).toBeGreaterThan(0);
    ok.dispose();
    const err = await Tokenizer.fromJSON(nested(field, key, leaf, 65)).catch((e) => e);
    expect(err.code).toBe('TOKENIZER_INVALID');
    expect(err.message).toBe(`${field}${`.${key}[0]`.repeat(64)}: Sequence nested more than 64 levels deep`);
  });

  it.each(NESTABLE)('$field nested 20,000 deep: TOKENIZER_INVALID in a process that survives, memory bounded', ({ field, key, leaf }) => {
    const file = path.join(tmp, `deep-${field}.json`);
    fs.writeFileSync(file, nested(field, key, leaf, 20000));
    const r = runChild(`return await winnow.Tokenizer.fromFile(${JSON.stringify(file)}).then(() => 'loaded');`, {
      addressSpaceBytes: 3 * 2 ** 30,
    });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.out?.error?.code, JSON.stringify(r.out)).toBe('TOKENIZER_INVALID');
    expect(r.out.error.message).toMatch(new RegExp(`^${field}(\\.${key}(\\[0\\])?)+: JSON nested more than 160 levels deep$`));
  });

  it('a CrossEncoder whose tokenizer.json nests 20,000 deep fails to load with TOKENIZER_INVALID', () => {
    const dir = path.join(tmp, 'deep-model');
    fs.cpSync(path.join(FIXTURES, 'bert-ce-tiny'), dir, { recursive: true });
    const tj = fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8');
    const j = JSON.parse(tj);
    j.normalizer = '@@';
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(j).replace('"@@"', '{"type":"Sequence","normalizers":['.repeat(20000) + '{"type":"Lowercase"}' + ']}'.repeat(20000)));
    const r = runChild(`return await winnow.CrossEncoder.load(${JSON.stringify(dir)}).then(() => 'loaded');`, { addressSpaceBytes: 4 * 2 ** 30 });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.out?.error?.code, JSON.stringify(r.out)).toBe('TOKENIZER_INVALID');
    expect(r.out.error.message).toMatch(/normalizer(\.normalizers(\[0\])?)+: JSON nested more than 160 levels deep/);
  });

  it('any JSON nested past 160 levels is refused while parsing, with its path', async () => {
    const j = JSON.parse(BERT_JSON);
    j.extra = { list: [1, '@@'] };
    const text = JSON.stringify(j).replace('"@@"', '['.repeat(100000) + ']'.repeat(100000));
    const err = await Tokenizer.fromJSON(text).catch((e) => e);
    expect(err.code).toBe('TOKENIZER_INVALID');
    expect(err.message).toBe(`extra.list[1]${'[0]'.repeat(157)}: JSON nested more than 160 levels deep`);
  });
});

describe('padding and truncation lengths are bounded (1,048,576 tokens)', () => {
  let tok: Tokenizer;
  beforeAll(async () => {
    tok = await Tokenizer.fromFile(BERT);
  });
  afterAll(() => tok.dispose());

  it.each([
    ['padToLength', 2 ** 53 - 1],
    ['padToLength', 1_048_577],
    ['padToMultipleOf', 4_000_000_000],
    ['maxLength', 2 ** 40],
    ['stride', 1_048_577],
  ])('%s: %d is a RangeError INVALID_ARGUMENT before anything is allocated', (option, value) => {
    let err: any;
    try {
      tok.encode('hi', undefined, { [option]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RangeError);
    expect(err.code).toBe('INVALID_ARGUMENT');
    const range = option === 'stride' ? 'an integer between 0 and 1048576' : 'an integer between 1 and 1048576';
    expect(err.message).toBe(`Expected ${range} for ${option} but received ${value} of type number`);
  });

  it('the bound itself is accepted', () => {
    const e = tok.encode('hi', undefined, { padToLength: 1_048_576 });
    expect(e.ids.length).toBe(1_048_576);
    expect(Array.from(e.ids.subarray(0, 4))).toEqual([101, 7632, 102, 0]);
  });

  it('encodeBatch rejects the same values', async () => {
    await expect(tok.encodeBatch(['hi'], { padToMultipleOf: 4_000_000_000 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('padToLength 2**53-1: the process survives with INVALID_ARGUMENT, also when the native call is reached directly', () => {
    const r = runChild(`
      const t = await winnow.Tokenizer.fromFile(${JSON.stringify(BERT)});
      const out = [];
      const attempt = (f) => { try { f(); out.push('no error'); } catch (e) { out.push([e.name, e.code, e.message]); } };
      attempt(() => t.encode('hi', undefined, { padToLength: 2 ** 53 - 1 }));
      // The native side checks again (its callers are not only lib/tokenizer.ts).
      attempt(() => t.native.encode('hi', null, { padding: true, padToLength: 2 ** 53 - 1 }));
      attempt(() => t.native.encode('hi', null, { padding: true, padToMultipleOf: 1e300 }));
      attempt(() => t.native.encode('hi', null, { maxLength: -1 }));
      return out;`);
    expect(r.signal, r.stderr).toBeNull();
    const [ts, ...native] = r.out?.result ?? [];
    expect(ts?.slice(0, 2)).toEqual(['RangeError', 'INVALID_ARGUMENT']);
    expect(native).toEqual([
      ['RangeError', 'INVALID_ARGUMENT', 'Expected an integer between 0 and 1048576 for padToLength but received 9.0072e+15 of type number'],
      ['RangeError', 'INVALID_ARGUMENT', 'Expected an integer between 0 and 1048576 for padToMultipleOf but received 1e+300 of type number'],
      ['RangeError', 'INVALID_ARGUMENT', 'Expected an integer between 0 and 1048576 for maxLength but received -1 of type number'],
    ]);
  });

  it.each([
    ['padding.pad_to_multiple_of', (j: any) => (j.padding = { strategy: 'BatchLongest', pad_to_multiple_of: 4_000_000_000, pad_id: 0 })],
    ['padding.strategy.Fixed', (j: any) => (j.padding = { strategy: { Fixed: 2_000_000 }, pad_id: 0 })],
    ['truncation.max_length', (j: any) => (j.truncation = { max_length: 3_000_000_000, stride: 0 })],
  ])('tokenizer.json %s beyond the bound is TOKENIZER_INVALID at load', async (where, edit) => {
    const j = JSON.parse(BERT_JSON);
    edit(j);
    const err = await Tokenizer.fromJSON(JSON.stringify(j)).catch((e) => e);
    expect(err.code).toBe('TOKENIZER_INVALID');
    expect(err.message).toMatch(new RegExp(`^${where.replace(/\./g, '\\.')}: value \\d+ is out of range \\(at most 1048576\\)$`));
  });

  it('a tokenizer.json pad_to_multiple_of of 4e9 no longer drives encodeBatch({ padding: true }) to many GB', () => {
    const file = path.join(tmp, 'pad-multiple.json');
    const j = JSON.parse(BERT_JSON);
    j.padding = { strategy: 'BatchLongest', direction: 'Right', pad_to_multiple_of: 4_000_000_000, pad_id: 0, pad_type_id: 0, pad_token: '[PAD]' };
    fs.writeFileSync(file, JSON.stringify(j));
    const r = runChild(`
      const t = await winnow.Tokenizer.fromFile(${JSON.stringify(file)});
      const e = await t.encodeBatch(['hi', 'there'], { padding: true });
      return e.map((x) => x.ids.length);`, { addressSpaceBytes: 3 * 2 ** 30 });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.out?.error?.code, JSON.stringify(r.out)).toBe('TOKENIZER_INVALID');
  });
});

describe('no C++ exception escapes a synchronous native call', () => {
  it('an allocation failure inside encode() is INTERNAL "out of memory", and the process lives on', () => {
    const r = runChild(`
      const t = await winnow.Tokenizer.fromFile(${JSON.stringify(BERT)});
      let first;
      try { t.encode('ab '.repeat(5e7)); first = 'no error'; } catch (e) { first = [e.code, e.message]; }
      return [first, Array.from(t.encode('hello world').ids)];`, { addressSpaceBytes: 1.5 * 2 ** 30 });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.out?.result, JSON.stringify(r.out) + r.stderr).toEqual([['INTERNAL', 'out of memory'], [101, 7592, 2088, 102]]);
  });
});

describe('long runs without a split point stay linear, with the reference ids and offsets', () => {
  const require_ = createRequire(__filename);
  const hf = require_('tokenizers');
  const PATHOLOGICAL: [string, string][] = [
    ['emoji + ZWJ x 100k', '😀\u200d'.repeat(100_000)],
    ['80k combining marks', 'a' + '\u0301'.repeat(80_000)],
    ['one letter x 200k', 'a'.repeat(200_000)],
    ['CJK x 50k between words', 'start ' + '語'.repeat(50_000) + ' end'],
  ];

  it.each(['modernbert-base', 't5-small', 'bert-base-uncased'])('%s: ids and offsets equal tokenizers', async (name) => {
    const file = path.join(SHARED, 'tokenizers', name, 'tokenizer.json');
    const ours = await Tokenizer.fromFile(file);
    const ref = hf.Tokenizer.fromFile(file);
    for (const [what, text] of PATHOLOGICAL) {
      const a = ours.encode(text);
      const b = await ref.encode(text);
      const conv = charToUtf16(text);
      const seq = b.getSequenceIds();
      const refOffsets = (b.getOffsets() as number[][]).flatMap(([s, e], k) => (seq[k] === null ? [s, e] : [conv(s), conv(e)]));
      // First difference (-1: none); a deep toEqual of half a million numbers is slow to diff.
      const firstDiff = (x: ArrayLike<number>, y: number[]) => (x.length !== y.length ? -2 : Array.prototype.findIndex.call(x, (v: number, i: number) => v !== y[i]));
      expect(firstDiff(a.ids, b.getIds()), `${what}: ids`).toBe(-1);
      expect(firstDiff(a.offsets, refOffsets), `${what}: offsets`).toBe(-1);
    }
    ours.dispose();
  });

  it('1M combining marks encode in a child process that finishes (the offset conversion rescanned the text per token)', async () => {
    const file = path.join(SHARED, 'tokenizers/modernbert-base/tokenizer.json');
    const r = runChild(`
      const t = await winnow.Tokenizer.fromFile(${JSON.stringify(file)});
      const e = t.encode('a' + '\\u0301'.repeat(1_000_000));
      return [e.ids.length, Array.from(e.offsets.subarray(-4, -2))];`, { timeoutMs: 60_000 });
    expect(r.signal, 'timed out or crashed').toBeNull();
    const ref = await hf.Tokenizer.fromFile(file).encode('a' + '\u0301'.repeat(1_000_000));
    // All BMP: the reference's code-point offsets are UTF-16 offsets. The last token before the closing special
    // token:
    const refOffsets = ref.getOffsets();
    expect(r.out?.result).toEqual([ref.getIds().length, refOffsets[refOffsets.length - 2]]);
  });
});

describe('regular expression limits', () => {
  const require_ = createRequire(__filename);
  const hf = require_('tokenizers');
  const splitTokenizer = (pattern: string, normalizer: unknown = null) => ({
    version: '1.0', added_tokens: [], normalizer, post_processor: null, decoder: null,
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false }] },
    model: { type: 'WordLevel', unk_token: '[UNK]', vocab: { '[UNK]': 0, a: 1, b: 2, x: 3 } },
  });

  it('a Split pattern (?:a|b)* on 1 MB of text works and equals tokenizers', async () => {
    const j = splitTokenizer('(?:a|b)*');
    const text = 'ab'.repeat(500_000) + ' a b ' + 'ba'.repeat(1000);
    const ours = (await Tokenizer.fromJSON(JSON.stringify(j))).encode(text);
    const file = path.join(tmp, 'split-ab.json');
    fs.writeFileSync(file, JSON.stringify(j));
    const ref = await hf.Tokenizer.fromFile(file).encode(text);
    expect(Array.from(ours.ids)).toEqual(ref.getIds());
    expect(Array.from(ours.offsets)).toEqual(ref.getOffsets().flat());
  });

  it('a pattern that backtracks exponentially is TOKENIZER_INVALID naming the pattern and its JSON path', async () => {
    const tok = await Tokenizer.fromJSON(JSON.stringify(splitTokenizer('(x+x+)+[yz]')));
    expect(Array.from(tok.encode('xy xxy').ids)).toEqual([0, 0]);
    let err: any;
    try {
      tok.encode('x'.repeat(40));
    } catch (e) {
      err = e;
    }
    expect(err?.code).toBe('TOKENIZER_INVALID');
    expect(err.message).toBe(
      'pre_tokenizer.pretokenizers[1].pattern.Regex: the regular expression "(x+x+)+[yz]" backtracks past Winnow\'s limits on a text of 40 bytes (match limit exceeded)',
    );
    await expect(tok.encodeBatch(['fine', 'x'.repeat(40)])).rejects.toMatchObject({ code: 'TOKENIZER_INVALID' });
  });

  it('the same in a Replace normalizer names the normalizer path', async () => {
    const tok = await Tokenizer.fromJSON(JSON.stringify(splitTokenizer('a', { type: 'Sequence', normalizers: [{ type: 'Lowercase' }, { type: 'Replace', pattern: { Regex: '(x|xx)+[yz]' }, content: 'a' }] })));
    expect(() => tok.encode('x'.repeat(40))).toThrow(
      'normalizer.normalizers[1].pattern.Regex: the regular expression "(x|xx)+[yz]" backtracks past Winnow\'s limits on a text of 40 bytes (match limit exceeded)',
    );
  });
});

describe('a document that truncation cuts is tokenized only as far as it is kept', () => {
  const doc = (n: number) => `'lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(${n})`;

  it('CrossEncoder.rank scores a 100 MB document under a 2 GB address-space limit, as its first 57 kB', () => {
    const r = runChild(`
      const ce = await winnow.CrossEncoder.load(${JSON.stringify(path.join(FIXTURES, 'bert-ce-tiny'))});
      const long = ${doc(1_800_000)};
      const [big] = await ce.rank('what is lorem ipsum', [long]);
      const [small] = await ce.rank('what is lorem ipsum', [long.slice(0, 57_000)]);
      return [long.length, big.score, small.score];`, { addressSpaceBytes: 2 * 2 ** 30 });
    expect(r.signal, r.stderr).toBeNull();
    const [length, big, small] = r.out?.result ?? [];
    expect(length, JSON.stringify(r.out)).toBe(102_600_000);
    expect(Number.isFinite(big)).toBe(true);
    expect(big).toBe(small);
  });

  it('SentenceEncoder.encode embeds a 100 MB text under a 2 GB address-space limit, as its first 57 kB', () => {
    const r = runChild(`
      const enc = await winnow.SentenceEncoder.load(${JSON.stringify(path.join(FIXTURES, 'e5-tiny-sentence-embedding'))});
      const long = ${doc(1_800_000)};
      const big = await enc.encode([long]);
      const small = await enc.encode([long.slice(0, 57_000)]);
      return [Array.from(big.row(0)), Array.from(small.row(0))];`, { addressSpaceBytes: 2 * 2 ** 30 });
    expect(r.signal, r.stderr).toBeNull();
    const [big, small] = r.out?.result ?? [];
    expect(big?.length, JSON.stringify(r.out)?.slice(0, 300)).toBeGreaterThan(0);
    expect(big).toEqual(small);
  });
});
