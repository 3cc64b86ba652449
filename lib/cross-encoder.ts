import { binding, ortLibraryPath } from './native';
import type { NativeCrossEncoder } from './binding';
import type { Activation } from './types';
import type { CallOptions } from './queue';
import { TransformerModel, loadNative } from './model-base';
import { StreamOptions, streamChunkSize, streamChunks } from './stream';
import * as v from './validate';
import { TRANSFORMER_LOAD_OPTIONS, TransformerLoadOptions, transformerLoadOptions } from './model-options';
import { invalidArgument, invalidArgumentText } from './errors';
import { MAX_LENGTH_SETTING } from './tokenizer';


export interface CrossEncoderOptions extends TransformerLoadOptions {
  /** Longest pair in tokens, special tokens included. Default: the model's maximum (tokenizer_config / config). */
  maxLength?: number;
  /** Pairs per inference batch at most. Default 32 on CPU, 128 on GPU. */
  batchSize?: number;
  /** Overrides the activation from the model's config (sentence-transformers rules otherwise). */
  activation?: Activation;
  /** ONNX file inside the folder, e.g. 'model_quantized.onnx' (looked up in the folder, then in onnx/). */
  file?: string;
}

const LOAD_OPTIONS = [...TRANSFORMER_LOAD_OPTIONS, 'activation'] as const;
const LOADER: v.Loader = { name: 'CrossEncoder.load', options: LOAD_OPTIONS };

/** Per-call scores: the model's activation, another one, or the raw logits. */
interface ScoreModeOptions {
  /** This call's activation, overriding the model's (sentence-transformers' activation_fn). */
  activation?: Activation;
  /** The logits as the model outputs them, no activation (TEI's raw_scores); the same as activation 'none'. */
  rawScores?: boolean;
}

export interface PredictOptions extends CallOptions, ScoreModeOptions {
  /** Return one Float32Array of numLabels scores per pair (views into one array) instead of one flat array. */
  rows?: boolean;
}
const PREDICT_OPTIONS = ['signal', 'onProgress', 'activation', 'rawScores', 'rows'] as const;

export interface PredictStreamOptions extends StreamOptions, ScoreModeOptions {}
const PREDICT_STREAM_OPTIONS = ['chunkSize', 'signal', 'activation', 'rawScores'] as const;

/** How rank scores a document longer than fits beside the query in maxLength. */
export interface ChunkOptions {
  /** Tokens shared by neighbouring windows. Default 0. Must leave room: below maxLength − query tokens − special tokens. */
  overlap?: number;
  /** How a document's window scores (after the activation) combine. Default 'max'. */
  aggregate?: ChunkAggregate;
}
export type ChunkAggregate = 'max' | 'mean' | 'first';

/** Where a document object's text is: a field name (default 'text') or a function of the document. */
export type TextKey<D> = string | ((document: D) => string);

export interface RankOptions<D = string> extends CallOptions, ScoreModeOptions {
  /** Keep only the best `topK` results. */
  topK?: number;
  /** Include each document's text in its result. */
  returnDocuments?: boolean;
  /** For documents given as objects: the field holding the text to rank on, or a function returning it. Default 'text'. */
  textKey?: TextKey<D>;
  /**
   * Long documents: instead of truncating at maxLength, cut each into windows of the tokens that fit beside the
   * query (`true`: no overlap, best window), score every window in the same batches, and combine each document's.
   */
  chunk?: boolean | ChunkOptions;
}
const RANK_OPTIONS = ['topK', 'returnDocuments', 'textKey', 'chunk', 'activation', 'rawScores', 'signal', 'onProgress'] as const;

export interface RankResult {
  /** Position of the document in the input array. */
  index: number;
  score: number;
  /** The document's text (with returnDocuments). */
  text?: string;
}

/** A result of ranking document objects: the object itself comes back, unmodified. */
export interface RankedDocument<D> extends RankResult {
  document: D;
}

/** A (query, document) pair. From `map`, write `docs.map((d) => [query, d] as const)` to keep the tuple type. */
export type Pair = readonly [string, string];

/**
 * A cross-encoder reranker: scores (query, document) pairs with a sequence-classification model,
 * as sentence-transformers' CrossEncoder does.
 */
export class CrossEncoder extends TransformerModel<NativeCrossEncoder> {
  /** Number of output labels per pair. */
  readonly numLabels: number;
  /** Activation applied to the logits. */
  readonly activation: Activation;

  private constructor(native: NativeCrossEncoder, concurrency: number) {
    super(native, concurrency, 'CrossEncoder');
    const info = native.info();
    this.numLabels = info.numLabels;
    this.activation = info.activation;
  }

  /** Loads a model folder laid out as on the Hugging Face hub (config.json, tokenizer.json, model.onnx or onnx/*.onnx). */
  static async load(dir: string, options?: CrossEncoderOptions): Promise<CrossEncoder> {
    const caller = new Error();
    const o = v.optionsObject<CrossEncoderOptions>(options, 'CrossEncoder.load options', LOAD_OPTIONS);
    const { native: shared, concurrency } = transformerLoadOptions(dir, o);
    const opts = { ...shared, activation: v.oneOf(o.activation, 'activation', ['sigmoid', 'softmax', 'none'] as const) };
    return loadNative(caller, async () => {
      opts.ortLibrary = ortLibraryPath();
      const native = await binding().NativeCrossEncoder.load(opts);
      return new CrossEncoder(native, concurrency);
    });
  }

  /**
   * Scores pairs. Returns pairs.length × numLabels scores in input order (row-major), or with `rows` one
   * Float32Array of numLabels scores per pair. One pair alone (`predict([query, document])`) gives its numLabels
   * scores, as sentence-transformers' predict does for a single pair.
   * Only the second text of a pair is truncated; a first text that does not fit alone is QUERY_TOO_LONG.
   */
  predict(pairs: ReadonlyArray<Pair>, options: PredictOptions & { rows: true }): Promise<Float32Array[]>;
  predict(pairs: ReadonlyArray<Pair> | Pair, options?: PredictOptions): Promise<Float32Array>;
  async predict(pairs: ReadonlyArray<Pair> | Pair, options?: PredictOptions): Promise<Float32Array | Float32Array[]> {
    if (typeof pairs === 'string' && Array.isArray(options)) {
      throw invalidArgumentText('predict() takes [query, document] pairs: to score documents against one query, did you mean rank(query, documents)?');
    }
    const o = v.optionsObject<PredictOptions>(options, 'predict options', PREDICT_OPTIONS, LOADER);
    const single = Array.isArray(pairs) && pairs.length === 2 && typeof pairs[0] === 'string' && typeof pairs[1] === 'string';
    const [a, b] = v.pairArrays(single ? [pairs] : pairs, 'pairs');
    const rows = v.bool(o.rows, 'rows') ?? false;
    const call: CallOptions = { signal: v.abortSignal(o.signal, 'signal'), onProgress: v.func(o.onProgress, 'onProgress') as CallOptions['onProgress'] };
    const activation = scoreMode(o);
    const native = this.alive();
    const scores = await this.queue.run((n) => native.predict(a, b, { ...n, activation }), call);
    if (!rows) return scores;
    const k = this.numLabels;
    return Array.from({ length: scores.length / k }, (_, i) => scores.subarray(i * k, (i + 1) * k));
  }

  /**
   * Scores a stream of pairs (an iterable or async iterable, e.g. read from a file) and yields one result per pair in
   * input order: the score (one-label models) or a Float32Array of numLabels scores. Pairs go to `predict` in chunks
   * of `chunkSize` (default 1024), the next chunk read and scored while the current one's results are consumed, so
   * memory stays bounded whatever the input's length.
   */
  async *predictStream(pairs: Iterable<Pair> | AsyncIterable<Pair>, options?: PredictStreamOptions): AsyncGenerator<number | Float32Array> {
    const o = v.optionsObject<PredictStreamOptions>(options, 'predictStream options', PREDICT_STREAM_OPTIONS, LOADER);
    const chunkSize = streamChunkSize(o.chunkSize);
    const signal = v.abortSignal(o.signal, 'signal');
    const mode = { activation: o.activation, rawScores: o.rawScores };
    const k = this.numLabels;
    yield* streamChunks(pairs, chunkSize, signal, (chunk, s) => this.predict(chunk, { ...mode, signal: s }), function* (scores: Float32Array) {
      for (let i = 0; i < scores.length / k; i++) yield k === 1 ? scores[i] : scores.subarray(i * k, (i + 1) * k);
    });
  }

  /**
   * Scores every document against the query (tokenized once) and returns them best first. Documents are strings,
   * or objects whose text is at `textKey` (default 'text'); each result of an object carries it back as `document`.
   */
  rank(query: string, documents: readonly string[], options: RankOptions & { returnDocuments: true }): Promise<Array<RankResult & { text: string }>>;
  rank(query: string, documents: readonly string[], options?: RankOptions): Promise<RankResult[]>;
  rank<D extends object>(query: string, documents: readonly D[], options: RankOptions<D> & { returnDocuments: true }): Promise<Array<RankedDocument<D> & { text: string }>>;
  rank<D extends object>(query: string, documents: readonly D[], options?: RankOptions<D>): Promise<Array<RankedDocument<D>>>;
  async rank(query: string, documents: readonly unknown[], options?: RankOptions<any>): Promise<Array<RankResult | RankedDocument<unknown>>> {
    const o = v.optionsObject<RankOptions<any>>(options, 'rank options', RANK_OPTIONS, LOADER);
    if (typeof query !== 'string') throw invalidArgument('a string', 'query', query);
    const { texts: docs, objects } = documentTexts(documents, o.textKey);
    const topK = v.positiveInt(o.topK, 'topK');
    const returnDocuments = v.bool(o.returnDocuments, 'returnDocuments') ?? false;
    const chunk = chunkOptions(o.chunk);
    const activation = scoreMode(o);
    const call: CallOptions = { signal: v.abortSignal(o.signal, 'signal'), onProgress: v.func(o.onProgress, 'onProgress') as CallOptions['onProgress'] };
    const native = this.alive();
    if (this.numLabels !== 1) {
      throw invalidArgumentText(`rank() needs a model with one output label; this one has ${this.numLabels}. Use predict().`, 'range');
    }
    const scores = await this.queue.run((n) => native.score(query, docs, { ...n, activation, chunk }), call);
    const order = Array.from(scores.keys()).sort((i, j) => scores[j] - scores[i] || i - j);
    const kept = topK === undefined ? order : order.slice(0, topK);
    return kept.map((index) => {
      const r: RankResult & { document?: unknown } = { index, score: scores[index] };
      if (returnDocuments) r.text = docs[index];
      if (objects) r.document = documents[index];
      return r;
    });
  }

  /** `rank` for several queries over the same documents: one result list per query, in query order. */
  rankMany(queries: readonly string[], documents: readonly string[], options?: RankOptions): Promise<RankResult[][]>;
  rankMany<D extends object>(queries: readonly string[], documents: readonly D[], options?: RankOptions<D>): Promise<Array<Array<RankedDocument<D>>>>;
  async rankMany(queries: readonly string[], documents: readonly any[], options?: RankOptions<any>): Promise<unknown[][]> {
    const list = v.stringArray(queries, 'queries');
    return Promise.all(list.map((q) => this.rank(q, documents, options)));
  }
}

/** The activation a call asks for (activation, or rawScores as 'none'), undefined for the model's own. */
function scoreMode(o: Partial<ScoreModeOptions>): Activation | undefined {
  const activation = v.oneOf(o.activation, 'activation', ['sigmoid', 'softmax', 'none'] as const);
  const raw = v.bool(o.rawScores, 'rawScores');
  if (raw && activation !== undefined && activation !== 'none') {
    throw invalidArgument("'none' or no activation (rawScores is true)", 'activation', activation);
  }
  return raw ? 'none' : activation;
}

/** The chunk option as the native score takes it: undefined (off) or { overlap, aggregate }. */
function chunkOptions(value: unknown): { overlap: number; aggregate: ChunkAggregate } | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return { overlap: 0, aggregate: 'max' };
  const c = v.optionsObject<ChunkOptions>(value, 'chunk', ['overlap', 'aggregate']);
  const overlap = v.nonNegativeInt(c.overlap, 'chunk.overlap') ?? 0;
  if (overlap > MAX_LENGTH_SETTING) throw invalidArgument(`an integer between 0 and ${MAX_LENGTH_SETTING}`, 'chunk.overlap', overlap, 'range');
  return { overlap, aggregate: v.oneOf(c.aggregate, 'chunk.aggregate', ['max', 'mean', 'first'] as const) ?? 'max' };
}

/**
 * The texts to rank: the documents themselves when they are strings, else each object's text at `textKey`
 * (checked element by element, as v.stringArray does). Mixed strings and objects are refused.
 */
function documentTexts(documents: unknown, textKey: unknown): { texts: string[]; objects: boolean } {
  if (!Array.isArray(documents)) throw invalidArgument('an array of strings or of document objects', 'documents', documents);
  const n = v.arrayLength(documents, 'documents', 'documents');
  const objects = n > 0 && typeof documents[0] === 'object' && documents[0] !== null;
  if (textKey !== undefined && typeof textKey !== 'string' && typeof textKey !== 'function') {
    throw invalidArgument('a field name or a function', 'textKey', textKey);
  }
  if (!objects) {
    if (textKey !== undefined && n > 0) throw invalidArgument('document objects (textKey is given)', 'documents[0]', documents[0]);
    return { texts: v.stringArray(documents, 'documents'), objects: false };
  }
  const key = (textKey ?? 'text') as string | ((d: unknown) => unknown);
  const texts: string[] = [];
  for (let i = 0; i < n; i++) {
    const d: unknown = documents[i];
    if (typeof d !== 'object' || d === null) throw invalidArgument('a document object (documents[0] is one)', `documents[${i}]`, d);
    const text = typeof key === 'function' ? key(d) : (d as Record<string, unknown>)[key];
    if (typeof text !== 'string') {
      throw invalidArgument('a string', typeof key === 'function' ? `textKey(documents[${i}])` : `documents[${i}].${key}`, text);
    }
    texts.push(text);
  }
  return { texts, objects: true };
}
