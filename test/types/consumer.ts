// Compiled (never run) by test/types.test.ts with tsc --strict: what a TypeScript user writes must type-check, and
// each `@ts-expect-error` line is a mistake the declarations must catch (tsc fails on an unused one).
import {
  CrossEncoder, Embeddings, PruningEncoder, SentenceEncoder, Tokenizer, isWinnowError, similarity,
  type Progress, type WinnowErrorCode,
} from '../../lib/index';
import { enqueueScoreJob, runScoreWorker, scoreJobStatus, waitForScoreJob, type ScoreJobStatus } from '../../lib/score-queue';

declare const enc: SentenceEncoder;
declare const tok: Tokenizer;
declare const quantize: boolean;

export async function precisions(): Promise<void> {
  const f: Embeddings<Float32Array> = await enc.encode(['a']);
  const i8: Embeddings<Int8Array> = await enc.encode(['a'], { precision: 'int8' });
  const u8: Embeddings<Uint8Array> = await enc.encodeQuery(['a'], { precision: 'ubinary' });
  const d: Embeddings<Float32Array> = await enc.encodeDocument(['a'], { prompt: 'passage: ' });
  // A precision known only at run time: the union, never a promise of Int8Array.
  const either = await enc.encode(['a'], { precision: quantize ? 'int8' : undefined });
  // @ts-expect-error Float32Array | Int8Array is not Int8Array
  const wrong: Int8Array = either.data;
  void [f, i8, u8, d, wrong];
}

export async function batches(): Promise<void> {
  await tok.encodeBatch(['a', 'b']);
  await tok.encodeBatch([['q', 'd']]);
  // @ts-expect-error texts and pairs are not mixed in one call
  await tok.encodeBatch(['a', ['q', 'd']]);
  const seq: (0 | 1 | null)[] = tok.encode('a', 'b').sequenceIds;
  void seq;
}

declare const pe: PruningEncoder;
export async function pruning(docs: string[]): Promise<void> {
  const [r] = await pe.prune('q', docs, { returnSentences: true });
  const kept: boolean = r.sentences[0].kept; // present with returnSentences at sentence granularity
  const [t] = await pe.prune('q', docs, { returnSentences: true, granularity: 'token' });
  // @ts-expect-error no sentences at token granularity
  const none: boolean = t.sentences[0].kept;
  void [kept, none];
}

declare const ce: CrossEncoder;
export async function reranking(docs: string[]): Promise<void> {
  const withText = await ce.rank('q', docs, { returnDocuments: true, topK: 3 });
  const first: string = withText[0].text; // present with returnDocuments: true
  const plain = await ce.rank('q', docs);
  // @ts-expect-error text is optional without returnDocuments
  const maybe: string = plain[0].text;
  await ce.predict(docs.map((d) => ['q', d] as const));
  void [first, maybe];
}

export async function errors(): Promise<void> {
  try {
    await CrossEncoder.load('/nope', { onProgress: undefined } as never);
  } catch (e) {
    if (isWinnowError(e)) {
      const code: WinnowErrorCode = e.code;
      // @ts-expect-error not one of the codes
      if (e.code === 'MODEL_NOT_FOUN') return;
      void code;
    }
  }
  const report = (p: Progress): number => p.done / p.total;
  void report;
  void similarity([1, 0], [[1, 0]]);
}

declare const packed: Embeddings<Int8Array, 'binary'>;
declare const anyPrecision: Embeddings<import('../../lib/index').EmbeddingArray>;
export async function precisionTypes(): Promise<void> {
  // The precision follows the array type.
  new Embeddings(new Int8Array(2), 1, 2, 'binary');
  // @ts-expect-error a Float32Array holds float32 rows only
  new Embeddings(new Float32Array(2), 1, 2, 'int8');
  // @ts-expect-error a Uint8Array holds uint8 or ubinary rows, not binary
  new Embeddings(new Uint8Array(2), 1, 2, 'binary');
  const b = await enc.encode(['a'], { precision: 'binary' });
  const p: 'binary' = b.precision;
  // Packed bits are refused at run time (INVALID_ARGUMENT), not by the types: a signature that refused them at
  // compile time (tried) also refused generic wrappers like the one below.
  void [packed, anyPrecision];
  similarity(anyPrecision, anyPrecision);
  similarity(await enc.encode(['a'], { precision: 'int8' }), await enc.encode(['a']), 'dot');
  void p;
}

// Generic code over embeddings passes them on unchanged.
export function scoreAll<T extends import('../../lib/index').EmbeddingArray>(q: Embeddings<T>, d: Embeddings<T>): Float32Array[] {
  return similarity(q, d);
}
export function scoreAny<T extends import('../../lib/index').EmbeddingsLike>(q: T, d: T): Float32Array[] {
  return similarity(q, d, 'dot');
}

export async function issue27(): Promise<void> {
  // Document objects come back typed; strings give no document.
  const docs = [{ id: 1, text: 'a', meta: { lang: 'en' } }];
  const [best] = await ce.rank('q', docs, { topK: 1 });
  const id: number = best.document.id;
  const lang: string = best.document.meta.lang;
  const byFn = await ce.rank('q', [{ body: ['x'] }], { textKey: (d) => d.body[0] });
  const many: number = (await ce.rankMany(['q1', 'q2'], ['a', 'b']))[1][0].score;
  const [plain] = await ce.rank('q', ['a']);
  // @ts-expect-error a string document has no document field
  const none = plain.document;
  const rows: Float32Array[] = await ce.predict([['q', 'd']], { rows: true });
  const flat: Float32Array = await ce.predict(['q', 'd'], { rawScores: true });
  // One text, one row; one document, one result; one text, one count.
  const row: Float32Array = await enc.encode('a');
  const qrow: Int8Array = await enc.encodeQuery('a', { precision: 'int8' });
  const one: number = (await pe.prune('q', 'doc')).rankingScore;
  const count: number = await ce.countTokens('a');
  const counts: Uint32Array = await enc.countTokens(['a', 'b']);
  const json: number[][] = (await enc.encode(['a'])).toArrays();
  void [id, lang, byFn, many, none, rows, flat, row, qrow, one, count, counts, json];
}

// winnow-native/queue: typed options and results.
export async function queued(): Promise<void> {
  const { jobId } = await enqueueScoreJob('redis://127.0.0.1:6379', 'model', { input: 'pairs.jsonl', chunkSize: 512, rawScores: true });
  // @ts-expect-error chunkSize is a number
  await enqueueScoreJob('redis://127.0.0.1:6379', 'model', { chunkSize: '512' });
  const worker = await runScoreWorker('redis://127.0.0.1:6379', 'model', { threads: 2, lockDuration: 10_000 });
  const refused: number = worker.counters().refused;
  const s: ScoreJobStatus = await scoreJobStatus('redis://127.0.0.1:6379', jobId);
  // @ts-expect-error 'done' is not a state
  const done: boolean = s.state === 'done';
  const r = await waitForScoreJob('redis://127.0.0.1:6379', jobId, { output: 'scores.jsonl', onProgress: (p) => void p.lines.done });
  const firstBad: number | undefined = r.malformed.lines[0]?.line;
  await worker.close();
  void [refused, done, firstBad];
}
