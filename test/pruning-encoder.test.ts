import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrossEncoder, PruningEncoder } from '../lib/index';
import type { PruneResult } from '../lib/index';
import { corpusPairs, FIXTURES } from './helpers/reference';
import { PruningReference, RefResult, splitSentences } from './helpers/pruning-reference';

const DIR = path.join(FIXTURES, 'pruning-bert-tiny');

const JA_DOCS = [
  '東京は日本の首都であり、世界でも有数の大都市です。人口はおよそ千四百万人で、多くの企業の本社が集まっています。' +
    '「東京タワー」は一九五八年に完成しました。現在ではスカイツリーの方が高いです！観光客に人気があるのはどちらでしょうか？',
  '富士山は静岡県と山梨県にまたがる活火山です。標高は三七七六メートルで、日本で最も高い山です。夏には多くの登山者が山頂を目指します。' +
    '冬は雪に覆われ、遠くからでも美しい姿を見ることができます。\n二〇一三年には世界文化遺産に登録されました。',
  '猫は古くから人間と一緒に暮らしてきた動物です。ネズミを捕るために飼われていたと言われています（諸説あります）。' +
    '最近では「猫カフェ」も人気です。犬と比べると、猫は一人でいることを好む傾向があります．',
];
const JA_QUERIES = ['日本で一番高い山はどこですか', '東京の人口', '猫の性格について'];

function longEnglishDocs(): string[] {
  const pairs = corpusPairs(60);
  const docs: string[] = [];
  for (let i = 0; i + 6 <= pairs.length; i += 6) docs.push(pairs.slice(i, i + 6).map((p) => p[1]).join(' '));
  return docs;
}

/** Rejects with exactly this class, message and code INVALID_ARGUMENT. */
async function rejectsWith(p: Promise<unknown>, cls: typeof TypeError | typeof RangeError, message: string): Promise<void> {
  const e = await p.then(() => undefined, (err) => err);
  expect(e).toBeInstanceOf(cls);
  expect(e.message).toBe(message);
  expect(e.code).toBe('INVALID_ARGUMENT');
}

/** Same sentences, same kept flags, probabilities and scores within 1e-5. */
function expectParity(got: PruneResult, ref: RefResult): number {
  expect(got.sentences!.map((s) => s.text)).toEqual(ref.sentences.map((s) => s.text));
  expect(got.sentences!.map((s) => s.kept)).toEqual(ref.sentences.map((s) => s.kept));
  let worst = Math.abs(got.rankingScore - ref.rankingScore);
  got.sentences!.forEach((s, i) => (worst = Math.max(worst, Math.abs(s.probability - ref.sentences[i].probability))));
  expect(worst).toBeLessThan(1e-5);
  expect(got.prunedDocument).toBe(ref.prunedDocument);
  expect(got.keptSpans).toEqual(ref.keptSpans);
  expect(got.compressionRatio).toBeCloseTo(ref.compressionRatio, 9);
  expect(got.tokensRemoved).toBeCloseTo(ref.tokensRemoved, 9);
  return worst;
}

describe('PruningEncoder parity with the TypeScript reference (tokenizers + onnxruntime-node)', () => {
  let pe: PruningEncoder;
  let ref: PruningReference;
  beforeAll(async () => {
    pe = await PruningEncoder.load(DIR, { threads: 1 });
    ref = await PruningReference.load(DIR);
  });
  afterAll(async () => {
    pe.dispose();
    await ref.release();
  });

  it("reads winnow_pruning.json's threshold and max_length", () => {
    expect(pe.threshold).toBeCloseTo(0.3, 9);
    expect(pe.maxLength).toBe(256);
    expect(pe.device).toBe('cpu');
    expect(pe.file).toBe(path.join(DIR, 'model.onnx'));
    expect(pe.fusedLayerNorms).toBe(5); // opset-17 LayerNormalization ops; parity below is against the file as written
  });

  it('keeps the same sentences of real English documents', async () => {
    const pairs = corpusPairs(40);
    const got = await pe.predictWithPruning(pairs, { returnSentences: true });
    let worst = 0;
    let kept = 0;
    let dropped = 0;
    for (let i = 0; i < pairs.length; i++) {
      const r = await ref.process(pairs[i][0], pairs[i][1]);
      worst = Math.max(worst, expectParity(got[i], r));
      kept += r.sentences.filter((s) => s.kept).length;
      dropped += r.sentences.filter((s) => !s.kept).length;
    }
    // Thresholds matter on this fixture: both outcomes occur.
    expect(kept).toBeGreaterThan(5);
    expect(dropped).toBeGreaterThan(5);
    console.log(`english parity: max |diff| ${worst.toExponential(2)}, ${kept} kept / ${dropped} dropped sentences`);
  });

  it('handles documents spanning several blocks and sentences longer than a block', async () => {
    const small = await PruningEncoder.load(DIR, { threads: 1, maxLength: 48, batchSize: 5 });
    const sref = await PruningReference.load(DIR, 48);
    const docs = longEnglishDocs();
    const longSentence = corpusPairs(8).map((p) => p[1].replace(/[.!?]/g, ',')).join(', ');
    docs.push(longSentence);
    const query = corpusPairs(1)[0][0];
    const got = await small.prune(query, docs, { returnSentences: true });
    let worst = 0;
    for (let i = 0; i < docs.length; i++) worst = Math.max(worst, expectParity(got[i], await sref.process(query, docs[i])));
    expect(got[docs.length - 1].sentences!.length).toBe(1);
    console.log(`multi-block parity (maxLength 48): max |diff| ${worst.toExponential(2)}`);
    small.dispose();
    await sref.release();
  });

  it('splits and prunes Japanese documents', async () => {
    const pairs = JA_QUERIES.flatMap((q) => JA_DOCS.map((d) => [q, d] as [string, string]));
    const got = await pe.predictWithPruning(pairs, { returnSentences: true, threshold: 0.4 });
    for (let i = 0; i < pairs.length; i++) expectParity(got[i], await ref.process(pairs[i][0], pairs[i][1], { threshold: 0.4 }));
    expect(got[0].sentences!.map((s) => s.text).slice(0, 3)).toEqual([
      '東京は日本の首都であり、世界でも有数の大都市です。',
      '人口はおよそ千四百万人で、多くの企業の本社が集まっています。',
      '「東京タワー」は一九五八年に完成しました。',
    ]);
    // language 'en' does not split on 。
    const en = await pe.prune('q', [JA_DOCS[0]], { language: 'en', returnSentences: true });
    expect(en[0].sentences!.length).toBe(1);
  });

  it('takes pre-split sentences', async () => {
    const [query, doc] = corpusPairs(3)[2];
    const sentences = splitSentences(doc, 'en').map(([s, e]) => doc.slice(s, e));
    const custom = ['First part of it ', doc.slice(0, 40), ' and the rest ', doc.slice(40)];
    for (const pre of [sentences, custom]) {
      const [got] = await pe.prune(query, [pre], { returnSentences: true });
      expectParity(got, await ref.process(query, pre));
      expect(got.sentences!.map((s) => s.text)).toEqual(pre);
    }
    const [a] = await pe.prune(query, [sentences], { returnSentences: true });
    const [b] = await pe.prune(query, [doc], { returnSentences: true });
    expect(a).toEqual(b);
  });

  it('reproduces token granularity (predict_with_pruning)', async () => {
    const pairs = corpusPairs(20);
    pairs.push([pairs[0][0], longEnglishDocs()[0]]); // truncated to one window
    pairs.push([JA_QUERIES[0], JA_DOCS[1]]);
    for (const threshold of [undefined, 0.3]) {
      const got = await pe.predictWithPruning(pairs, { granularity: 'token', threshold });
      for (let i = 0; i < pairs.length; i++) {
        const r = await ref.processTokens(pairs[i][0], pairs[i][1], threshold);
        expect(Math.abs(got[i].rankingScore - r.rankingScore)).toBeLessThan(1e-5);
        expect(got[i].keptSpans).toEqual(r.keptSpans);
        expect(got[i].prunedDocument).toBe(r.prunedDocument);
        expect(got[i].tokensRemoved).toBeCloseTo(r.tokensRemoved, 9);
        expect(got[i].compressionRatio).toBeCloseTo(r.compressionRatio, 9);
        expect(got[i].sentences).toBeUndefined();
      }
    }
  });

  it('predict() is the one-block ranking score of the reference', async () => {
    const pairs = corpusPairs(30);
    pairs.push([pairs[0][0], longEnglishDocs()[1]]);
    const got = await pe.predict(pairs);
    for (let i = 0; i < pairs.length; i++) expect(Math.abs(got[i] - (await ref.predict(pairs[i][0], pairs[i][1])))).toBeLessThan(1e-5);
    // A document that fits one block: predict() == rankingScore (when the score is not zeroed).
    const pruned = await pe.predictWithPruning(pairs, { zeroScoreWhenEmpty: false });
    let oneBlock = 0;
    for (let i = 0; i < pairs.length; i++) {
      const tokens = (await ref.ids(pairs[i][0])).ids.length + (await ref.ids(pairs[i][1])).ids.length + ref.specials;
      if (tokens > pe.maxLength) continue;
      oneBlock++;
      expect(Math.abs(pruned[i].rankingScore - got[i])).toBeLessThan(1e-6);
    }
    expect(oneBlock).toBeGreaterThan(20);
  });
});

describe('PruningEncoder on a ModernBERT export (byte-level BPE, no token type input)', () => {
  // Made on the GPU machine with transformers 5.17 by scripts/pruning/gpu_modernbert_check.sh
  // (random ModernBERT, hidden 64, 2 layers, local attention 16) and export_pruning_onnx.py.
  const MB = path.join(FIXTURES, 'pruning-modernbert-tiny');

  it('matches the reference on English and Japanese documents, across blocks', async () => {
    const pe = await PruningEncoder.load(MB, { threads: 1, maxLength: 64 });
    const mref = await PruningReference.load(MB, 64);
    expect(pe.maxLength).toBe(64);
    expect(pe.threshold).toBeCloseTo(0.1, 9);
    // Pre-norm: the residual sums feed the next layer too and come out of the fused norm's second output.
    expect(pe.fusedLayerNorms).toBe(4);
    const pairs: Array<[string, string]> = [
      ...corpusPairs(12),
      ...JA_QUERIES.map((q, i) => [q, JA_DOCS[i]] as [string, string]),
    ];
    const got = await pe.predictWithPruning(pairs, { returnSentences: true });
    let worst = 0;
    let kept = 0;
    for (let i = 0; i < pairs.length; i++) {
      const r = await mref.process(pairs[i][0], pairs[i][1]);
      worst = Math.max(worst, expectParity(got[i], r));
      kept += r.sentences.filter((s) => s.kept).length;
    }
    expect(kept).toBeGreaterThan(0);
    console.log(`modernbert parity: max |diff| ${worst.toExponential(2)}`);
    pe.dispose();
    await mref.release();
  });

  it('fused norms, their sums handed on, give the very outputs of the graph as written', async () => {
    const fused = await PruningEncoder.load(MB, { threads: 1, maxLength: 64 });
    const plain = await PruningEncoder.load(MB, { threads: 1, maxLength: 64, fuseLayerNorm: false });
    expect(fused.fusedLayerNorms).toBe(4);
    expect(plain.fusedLayerNorms).toBe(0);
    const pairs = corpusPairs(8);
    const a = await plain.predictWithPruning(pairs, { returnSentences: true });
    expect(await fused.predictWithPruning(pairs, { returnSentences: true })).toEqual(a);
    expect(new Set(a.map((r) => r.rankingScore)).size).toBeGreaterThan(1);
    fused.dispose();
    plain.dispose();
  });
});

describe('PruningEncoder behaviour', () => {
  let pe: PruningEncoder;
  beforeAll(async () => {
    pe = await PruningEncoder.load(DIR, { threads: 1 });
  });
  afterAll(() => pe.dispose());

  it('applies thresholds and zeroScoreWhenEmpty', async () => {
    const [query, doc] = corpusPairs(1)[0];
    const [all] = await pe.prune(query, [doc], { threshold: 0, returnSentences: true });
    expect(all.prunedDocument).toBe(doc);
    expect(all.compressionRatio).toBe(0);
    expect(all.tokensRemoved).toBe(0);
    expect(all.keptSpans).toEqual([[0, doc.length]]);
    const [none] = await pe.prune(query, [doc], { threshold: 1 });
    expect(none).toMatchObject({ rankingScore: 0, prunedDocument: '', compressionRatio: 100, tokensRemoved: 1, keptSpans: [] });
    const [kept] = await pe.prune(query, [doc], { threshold: 1, zeroScoreWhenEmpty: false });
    expect(kept.rankingScore).toBeCloseTo(all.rankingScore, 6);
    expect(kept.rankingScore).toBeGreaterThan(0);
    // The load-time threshold becomes the default.
    const strict = await PruningEncoder.load(DIR, { threads: 1, threshold: 0.9 });
    expect(strict.threshold).toBe(0.9);
    const [s] = await strict.prune(query, [doc]);
    const [t] = await pe.prune(query, [doc], { threshold: 0.9 });
    expect(s).toEqual(t);
    strict.dispose();
  });

  it('handles empty documents and documents without a sentence boundary', async () => {
    const res = await pe.prune('what is it', ['', '   ', 'no boundary here at all', 'Hello.'], { returnSentences: true, threshold: 0 });
    expect(res[0]).toEqual({ rankingScore: 0, prunedDocument: '', compressionRatio: 0, tokensRemoved: 0, keptSpans: [], sentences: [] });
    expect(res[1]).toMatchObject({ rankingScore: 0, prunedDocument: '', compressionRatio: 100, tokensRemoved: 0 });
    expect(res[2].sentences!.map((s) => s.text)).toEqual(['no boundary here at all']);
    expect(res[2].prunedDocument).toBe('no boundary here at all');
    expect(res[3].rankingScore).toBeGreaterThan(0);
    const [tok] = await pe.prune('q', [''], { granularity: 'token' });
    expect(tok).toEqual({ rankingScore: 0, prunedDocument: '', compressionRatio: 0, tokensRemoved: 0, keptSpans: [] });
  });

  it('prune() equals predictWithPruning() and does not depend on batch size', async () => {
    const docs = [...corpusPairs(12).map((p) => p[1]), ...longEnglishDocs().slice(0, 3), ...JA_DOCS];
    const q = 'history of the city';
    const a = await pe.prune(q, docs, { returnSentences: true });
    const b = await pe.predictWithPruning(docs.map((d) => [q, d] as [string, string]), { returnSentences: true });
    const one = await PruningEncoder.load(DIR, { threads: 1, batchSize: 1 });
    const c = await one.prune(q, docs, { returnSentences: true });
    one.dispose();
    expect(b).toEqual(a);
    for (let i = 0; i < docs.length; i++) {
      expect(c[i].prunedDocument).toBe(a[i].prunedDocument);
      expect(Math.abs(c[i].rankingScore - a[i].rankingScore)).toBeLessThan(1e-5);
    }
  });

  it('reports UTF-16 spans for text outside the BMP', async () => {
    const doc = 'Emoji 👩‍👩‍👧 are fun. 東京は日本の首都です. The end.';
    const [r] = await pe.prune('emoji', [doc], { threshold: 0, returnSentences: true, language: 'en' });
    expect(r.sentences!.map((s) => s.text).join('')).toBe(doc);
    expect(r.keptSpans).toEqual([[0, doc.length]]);
  });

  it('refuses a query that leaves no room (QUERY_TOO_LONG)', async () => {
    const query = 'word '.repeat(300);
    const err = await pe.prune(query, ['doc']).catch((e) => e);
    expect(err).toBeInstanceOf(RangeError);
    expect(err.code).toBe('QUERY_TOO_LONG');
    await expect(pe.predict([[query, 'doc']])).rejects.toMatchObject({ code: 'QUERY_TOO_LONG' });
  });

  it('refuses dispose while a call runs (MODEL_BUSY), then disposes', async () => {
    const m = await PruningEncoder.load(DIR, { threads: 1 });
    const running = m.prune('query', longEnglishDocs());
    expect(() => m.dispose()).toThrow(expect.objectContaining({ code: 'MODEL_BUSY' }));
    await running;
    m.dispose();
    await expect(m.prune('a', ['b'])).rejects.toMatchObject({ code: 'DISPOSED' });
  });

  it('reports progress and can be aborted', async () => {
    const m = await PruningEncoder.load(DIR, { threads: 1, batchSize: 4, maxLength: 64 });
    const seen: number[] = [];
    await m.prune('q', longEnglishDocs(), { onProgress: (p) => seen.push(p.done) });
    expect(seen.length).toBeGreaterThan(1);
    const ac = new AbortController();
    const p = m.prune('q', Array.from({ length: 20 }, () => longEnglishDocs()).flat(), { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
    m.dispose();
  });

  it('refuses bad arguments with exact messages', async () => {
    await rejectsWith(pe.prune(1 as any, []), TypeError, 'Expected a string for query but received 1 of type number');
    // One document string is one document (issue 27); anything else that is not an array is refused.
    expect(await pe.prune('q', 'doc')).toEqual((await pe.prune('q', ['doc']))[0]);
    await rejectsWith(pe.prune('q', 7 as any), TypeError, 'Expected an array of documents for documents but received 7 of type number');
    await rejectsWith(pe.prune('q', [3 as any]), TypeError, 'Expected a string or an array of strings for documents[0] but received 3 of type number');
    await rejectsWith(pe.prune('q', [['a', 2 as any]]), TypeError, 'Expected a string for documents[0][1] but received 2 of type number');
    await rejectsWith(pe.predictWithPruning([['q']] as any), TypeError, 'Expected a [query, document] pair for pairs[0] but received an array of length 1 of type array');
    await rejectsWith(pe.prune('q', [], { threshold: 2 }), RangeError, 'Expected a number between 0 and 1 for threshold but received 2 of type number');
    await rejectsWith(pe.prune('q', [], { granularity: 'word' as any }), TypeError, "Expected one of 'sentence', 'token' for granularity but received \"word\" of type string");
    await rejectsWith(pe.prune('q', [], { language: 'fr' as any }), TypeError, "Expected one of 'en', 'ja', 'auto' for language but received \"fr\" of type string");
    await rejectsWith(pe.prune('q', [], { return_sentences: true } as any), TypeError, 'Unknown option return_sentences for prune options; did you mean returnSentences?');
    await rejectsWith(pe.predict([['a', 1]] as any), TypeError, 'Expected a string for pairs[0][1] but received 1 of type number');
    await rejectsWith(PruningEncoder.load(DIR, { max_length: 10 } as any), TypeError, 'Unknown option max_length for PruningEncoder.load options; did you mean maxLength?');
    await rejectsWith(PruningEncoder.load(DIR, { threshold: -1 }), RangeError, 'Expected a number between 0 and 1 for threshold but received -1 of type number');
    await expect(PruningEncoder.load(path.join(FIXTURES, 'bert-ce-tiny'))).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('gives the same ranking as a CrossEncoder over the same graph for one block', async () => {
    const ce = await CrossEncoder.load(DIR, { threads: 1, maxLength: 256 }).catch(() => undefined);
    if (!ce) return; // the CrossEncoder reads the first output (ranking_logits) when there is no 'logits'
    const pairs = corpusPairs(10);
    const a = await ce.predict(pairs);
    const b = await pe.predict(pairs);
    for (let i = 0; i < pairs.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-6);
    ce.dispose();
  });
});
