// Inputs a newcomer gets wrong, found by a review of the API as a user of sentence-transformers, transformers.js and
// Hugging Face tokenizers would use it: each one used to give a wrong result without an error, fail late, or throw
// an error without a code. Each now gets what the docs say (docs/api.md).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CrossEncoder, Embeddings, SentenceEncoder, StaticModel, Tokenizer, isWinnowError, semanticSearch, similarity } from '../lib/index';
import { corpusPairs, FIXTURES } from './helpers/reference';
import { editedCopy } from './helpers/model-copy';
import { errorOf } from './helpers/errors';

const TINY = path.join(FIXTURES, 'bert-ce-tiny');
const E5 = path.join(FIXTURES, 'e5-tiny');
const BERT_TOKENIZER = path.join(FIXTURES, 'bert-ce-tiny', 'tokenizer.json');

describe('Tokenizer padding options', () => {
  it('padToLength, padToMultipleOf and paddingSide turn padding on, as setPadding does', async () => {
    const tok = await Tokenizer.fromFile(BERT_TOKENIZER);
    const plain = Array.from(tok.encode('a').ids);
    expect(Array.from(tok.encode('a', null, { padToLength: 8 }).ids)).toEqual([...plain, ...Array(8 - plain.length).fill(0)]);
    expect(tok.encode('a', null, { padToMultipleOf: 8 }).ids.length).toBe(8);
    expect(Array.from(tok.encode('a', null, { padToLength: 8, paddingSide: 'left' }).ids)).toEqual([...Array(8 - plain.length).fill(0), ...plain]);
    expect(tok.encode('a', null, { padToLength: 8 }).attentionMask.reduce((s, x) => s + x, 0)).toBe(plain.length);
    const batch = await tok.encodeBatch(['a', 'b c d e'], { threads: 1, paddingSide: 'left' });
    expect(batch[0].ids.length).toBe(batch[1].ids.length); // padded to the longest of the batch
    expect(batch[0].ids[0]).toBe(0);
    const both = await errorOf(() => tok.encode('a', null, { padding: false, padToLength: 8 }));
    expect(both.code).toBe('INVALID_ARGUMENT');
    expect(both.message).toMatch(/padToLength/);
    tok.dispose();
  });

  it('decode and decodeBatch refuse what is not a list of token ids, with a code', async () => {
    const tok = await Tokenizer.fromFile(BERT_TOKENIZER);
    const ids = tok.encode('hello world', null, { addSpecialTokens: false }).ids;
    expect(tok.decode(Array.from(ids))).toBe('hello world');
    expect(tok.decode(new Uint16Array(ids))).toBe('hello world');
    for (const bad of [null, 'hello', [1.5], [1, '2'], new Float32Array([1])]) {
      const e = await errorOf(() => tok.decode(bad as never));
      expect(e.code).toBe('INVALID_ARGUMENT');
    }
    const e = await errorOf(() => tok.decodeBatch([Array.from(ids), null as never]));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/idLists\[1\]/);
    tok.dispose();
  });

  it('fromFile names a folder for what it is', async () => {
    const e = await errorOf(() => Tokenizer.fromFile(TINY));
    expect(e.code).toBe('IO_ERROR');
    expect(e.message).toMatch(/is a folder/);
    expect(e.message).toMatch(/fromPretrained/);
  });
});

describe('SentenceEncoder prompts and calibration ranges', () => {
  it('refuses a bare word that names no configured prompt instead of gluing it to every text', async () => {
    const enc = await SentenceEncoder.load(E5, { threads: 1 });
    expect(enc.prompts).toEqual({});
    const e = await errorOf(() => enc.encode(['how tall is everest'], { prompt: 'query' }));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/'query: '/);
    // A literal prefix still works, and equals the text written with it.
    const a = await enc.encode(['how tall is everest'], { prompt: 'query: ' });
    const b = await enc.encode(['query: how tall is everest'], { prompt: '' });
    expect(Array.from(a.row(0))).toEqual(Array.from(b.row(0)));
    enc.dispose();
  });

  it('a configured prompt name still works as a name', async () => {
    const dir = editedCopy(E5, (d) =>
      fs.writeFileSync(path.join(d, 'config_sentence_transformers.json'), JSON.stringify({ prompts: { query: 'query: ' } })),
    );
    const enc = await SentenceEncoder.load(dir, { threads: 1 });
    const a = await enc.encode(['how tall is everest'], { prompt: 'query' });
    const b = await enc.encode(['how tall is everest'], { prompt: 'query: ' });
    expect(Array.from(a.row(0))).toEqual(Array.from(b.row(0)));
    const e = await errorOf(() => enc.encode(['x'], { prompt: 'passage' }));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/'query'/); // names the prompts there are
    enc.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses calibration ranges that are not finite numbers', async () => {
    const enc = await SentenceEncoder.load(E5, { threads: 1 });
    const dims = enc.dim;
    const ones = Array(dims).fill(1);
    for (const [ranges, where] of [
      [[Array(dims).fill(NaN), ones], /ranges\[0\]\[0\]/],
      [[Array(dims).fill(0), Array(dims).fill(Infinity)], /ranges\[1\]\[0\]/],
      [[Array(dims).fill('0'), ones], /ranges\[0\]\[0\]/],
      [new Float32Array(2 * dims).fill(NaN), /ranges\[0\]/],
    ] as const) {
      const e = await errorOf(() => enc.encode(['a', 'b'], { precision: 'int8', ranges: ranges as never }));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toMatch(where);
    }
    const ok = await enc.encode(['a', 'b'], { precision: 'int8', ranges: [Array(dims).fill(-1), ones] });
    expect(ok.precision).toBe('int8');
    enc.dispose();
  });
});

describe('similarity inputs', () => {
  it('refuses packed binary embeddings, reads int8 rows as values, takes an array of numbers as one vector', async () => {
    const enc = await SentenceEncoder.load(E5, { threads: 1 });
    for (const precision of ['binary', 'ubinary'] as const) {
      const packed = await enc.encode(['a', 'b'], { precision });
      expect(packed.precision).toBe(precision);
      const e = await errorOf(() => enc.similarity(packed, packed));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toMatch(/Hamming/);
      expect((await errorOf(() => semanticSearch(packed, packed))).code).toBe('INVALID_ARGUMENT');
    }
    enc.dispose();
    const rows = (m: Float32Array[]) => m.map((r) => Array.from(r));
    expect(rows(similarity([3, 4], [[3, 4], [4, -3]], 'dot'))).toEqual([[25, 0]]);
    expect(rows(similarity(new Embeddings(new Int8Array([3, 4]), 1, 2), [[3, 4]], 'dot'))).toEqual([[25]]);
  });

  it('Embeddings checks its arguments with INVALID_ARGUMENT', async () => {
    const e = new Embeddings(new Float32Array(4), 2, 2);
    expect(e.precision).toBe('float32');
    for (const f of [() => e.row(5), () => e.row('1' as never), () => e.row(-1), () => new Embeddings(new Float32Array(5), 2, 3),
      () => new Embeddings([1, 2] as never, 1, 2), () => new Embeddings(new Float32Array(2), 1, 2, 'binary')]) {
      expect((await errorOf(f)).code).toBe('INVALID_ARGUMENT');
    }
    expect(new Embeddings(new Uint8Array(2), 1, 2, 'ubinary').precision).toBe('ubinary');
  });
});

describe('CrossEncoder.load checks the graph and the paths it is given', () => {
  it('refuses a model without a classification head at load, naming SentenceEncoder', async () => {
    const e = await errorOf(() => CrossEncoder.load(E5, { threads: 1 }));
    expect(e.code).toBe('ONNX_INVALID');
    expect(e.message).toMatch(/last_hidden_state/);
    expect(e.message).toMatch(/SentenceEncoder/);
  });

  it('takes the label count from the graph when the config names none, and refuses one that disagrees', async () => {
    const strip = (extra: object) => (d: string) => {
      const config = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8'));
      delete config.id2label;
      delete config.label2id;
      delete config.num_labels;
      fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ ...config, ...extra }));
    };
    const none = editedCopy(TINY, strip({}));
    const ce = await CrossEncoder.load(none, { threads: 1 });
    expect(ce.numLabels).toBe(1); // the graph's [batch, 1], not transformers' default of 2
    expect(ce.activation).toBe('sigmoid');
    const reference = await CrossEncoder.load(TINY, { threads: 1 });
    const pairs = corpusPairs(6);
    expect(await ce.predict(pairs)).toEqual(await reference.predict(pairs));
    const two = editedCopy(TINY, strip({ num_labels: 2 }));
    const e = await errorOf(() => CrossEncoder.load(two, { threads: 1 }));
    expect(e.code).toBe('ONNX_INVALID');
    expect(e.message).toMatch(/1 label\(s\) per pair/);
    for (const m of [ce, reference]) m.dispose();
    for (const d of [none, two]) fs.rmSync(d, { recursive: true, force: true });
  });

  it('takes an absolute file path as it is, and says so when the folder given is a file', async () => {
    const file = path.join(TINY, 'onnx', 'model_quantized.onnx');
    const ce = await CrossEncoder.load(TINY, { threads: 1, file });
    expect(ce.file).toBe(file);
    ce.dispose();
    const e = await errorOf(() => CrossEncoder.load(path.join(TINY, 'onnx', 'model_quantized.onnx'), { threads: 1 }));
    expect(e.code).toBe('MODEL_NOT_FOUND');
    expect(e.message).toContain(`is a file, not a model folder`);
    expect(e.message).toContain(`(${TINY})`);
    expect(e.message).toContain(`{ file: 'model_quantized.onnx' }`);
    const s = await errorOf(() => StaticModel.load(path.join(FIXTURES, 'bert-ce-tiny', 'config.json')));
    expect(s.code).toBe('MODEL_NOT_FOUND');
    expect(s.message).toMatch(/is a file/);
  });

  it('new from JavaScript gets a coded error that names the loader', async () => {
    for (const [cls, loader] of [[CrossEncoder, 'CrossEncoder.load'], [SentenceEncoder, 'SentenceEncoder.load'], [Tokenizer, 'Tokenizer.fromFile']] as const) {
      const e = await errorOf(() => new (cls as unknown as new () => unknown)());
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toContain(loader);
    }
  });
});

describe('load options passed to a call', () => {
  it('say which load function takes them', async () => {
    const ce = await CrossEncoder.load(TINY, { threads: 1 });
    for (const key of ['batchSize', 'batch_size', 'device']) {
      const e = await errorOf(() => ce.predict([['a', 'b']], { [key]: 2 } as never));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toMatch(/is an option of CrossEncoder\.load\(dir, \{ (batchSize|device) \}\)/);
    }
    expect((await errorOf(() => ce.predict([['a', 'b']], { bogus: 1 } as never))).message).toMatch(/known options: signal, onProgress/);
    ce.dispose();
    // StaticModel.load takes no device: not named as a load option there.
    const sm = await StaticModel.load(path.join(FIXTURES, 'potion-tiny'));
    expect((await errorOf(() => sm.encode(['a'], { device: 'cpu' } as never))).message).not.toMatch(/StaticModel\.load/);
    expect((await errorOf(() => sm.encode(['a'], { normalize: true } as never))).message).toMatch(/StaticModel\.load\(dir, \{ normalize \}\)/);
    sm.dispose();
  });
});

describe('errors a catch block can tell apart', () => {
  it('isWinnowError, the abort reason as cause, and revision with a local path as a RangeError', async () => {
    const missing = await errorOf(() => CrossEncoder.load(path.join(FIXTURES, 'no-such-model')));
    expect(isWinnowError(missing)).toBe(true);
    expect(isWinnowError(new Error('x'))).toBe(false);
    expect(isWinnowError(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBe(false);
    expect(isWinnowError({ code: 'ABORTED' })).toBe(false);
    const ce = await CrossEncoder.load(TINY, { threads: 1 });
    const reason = new Error('deadline');
    const aborted = await errorOf(() => ce.predict(corpusPairs(4), { signal: AbortSignal.abort(reason) }));
    expect(aborted.code).toBe('ABORTED');
    expect(aborted.cause).toBe(reason);
    ce.dispose();
    const revision = await errorOf(() => CrossEncoder.load(TINY, { revision: 'main' }));
    expect(revision).toBeInstanceOf(RangeError);
    expect(revision.code).toBe('INVALID_ARGUMENT');
  });
});

describe('onProgress that throws', () => {
  it('stops the call, which rejects with what the callback threw; the model stays usable', async () => {
    const ce = await CrossEncoder.load(TINY, { threads: 1, batchSize: 4 });
    const pairs = corpusPairs(40);
    const thrown = new Error('bug in my callback');
    let calls = 0;
    const e = await errorOf(() => ce.predict(pairs, { onProgress: () => { calls++; throw thrown; } }));
    expect(e).toBe(thrown);
    expect(calls).toBe(1); // not called again once it threw
    expect((await ce.predict(pairs)).length).toBe(40);
    expect(ce.counters()).toMatchObject({ queued: 0, running: 0 });
    ce.dispose();
    const rows = Array.from({ length: 3000 }, (_, i) => [Math.sin(i), Math.cos(i)]);
    const s = await errorOf(() => semanticSearch([[1, 0]], rows, { corpusChunkSize: 500, onProgress: () => { throw thrown; } }));
    expect(s).toBe(thrown);
  });
});
