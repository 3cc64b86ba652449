import { binding, ortLibraryPath } from './native';
import type { NativeSentenceEncoder } from './binding';
import type { CallOptions } from './queue';
import { TransformerModel, loadNative } from './model-base';
import { StreamOptions, streamChunkSize, streamChunks } from './stream';
import * as v from './validate';
import { TRANSFORMER_LOAD_OPTIONS, TransformerLoadOptions, transformerLoadOptions } from './model-options';
import { invalidArgument, invalidArgumentText } from './errors';
import { Embeddings } from './embeddings';
import { EmbeddingsLike, similarity, similarityPairwise } from './similarity';
import { PRECISIONS } from './types';
import type { EmbeddingArray, Precision, SimilarityFunction } from './types';

export interface SentenceEncoderOptions extends TransformerLoadOptions {
  /** Longest text in tokens, prompt and special tokens included; longer texts are cut on the right. Default: sentence_bert_config.json max_seq_length, else the model's maximum. */
  maxLength?: number;
  /** Texts per inference batch at most. Default 32 on CPU, 128 on GPU. */
  batchSize?: number;
  /** ONNX file inside the folder, e.g. 'model_quantized.onnx' (looked up in the folder, then in onnx/). */
  file?: string;
}

const LOAD_OPTIONS = [...TRANSFORMER_LOAD_OPTIONS] as const;
const LOADER: v.Loader = { name: 'SentenceEncoder.load', options: LOAD_OPTIONS };


/** The typed array each precision returns. */
export interface PrecisionArray {
  float32: Float32Array;
  int8: Int8Array;
  uint8: Uint8Array;
  binary: Int8Array;
  ubinary: Uint8Array;
}

export interface SentenceEncodeOptions<P extends Precision = Precision> extends CallOptions {
  /** A prompt name from config_sentence_transformers.json (e.g. 'query'), else a literal prefix (e.g. 'query: '). Default: the config's default_prompt_name. '' = none. */
  prompt?: string;
  /** L2-normalise (after `dimensions`). Default: true when modules.json has a Normalize module. */
  normalize?: boolean;
  /** Matryoshka truncation: keep the first `dimensions` values. */
  dimensions?: number;
  /** Output precision, as sentence-transformers' quantize_embeddings. Default 'float32'. */
  precision?: P;
  /** int8 / uint8 calibration: per-dimension minimums then maximums (2 × dimensions values). Default: this call's own embeddings. */
  ranges?: Float32Array | readonly [ArrayLike<number>, ArrayLike<number>];
}
const ENCODE_OPTIONS = ['prompt', 'normalize', 'dimensions', 'precision', 'ranges', 'signal', 'onProgress'] as const;

export type SentenceEncodeStreamOptions = Omit<SentenceEncodeOptions, 'onProgress'> & StreamOptions;
const ENCODE_STREAM_OPTIONS = ['prompt', 'normalize', 'dimensions', 'precision', 'ranges', 'signal', 'chunkSize'] as const;

/**
 * Transformer sentence embeddings (E5, BGE, GTE, MiniLM, ...) with sentence-transformers'
 * SentenceTransformer.encode semantics.
 */
export class SentenceEncoder extends TransformerModel<NativeSentenceEncoder> {
  /** Embedding size (before `dimensions`). */
  readonly dim: number;
  /** Named prompts from config_sentence_transformers.json. */
  readonly prompts: Readonly<Record<string, string>>;
  /** The prompt used when `prompt` is not given, or null. */
  readonly defaultPromptName: string | null;
  /** How `similarity` compares embeddings: config_sentence_transformers.json's `similarity_fn_name`, else 'cosine'. */
  readonly similarityFnName: SimilarityFunction;
  /** Pooling in use: 'mean', 'cls', 'max', 'lasttoken', 'weightedmean', 'mean_sqrt_len' (joined by '+' when several), or 'graph' when the ONNX file outputs sentence_embedding. */
  readonly pooling: string;
  /** Whether embeddings are normalised by default (a Normalize module is present). */
  readonly normalize: boolean;

  private constructor(native: NativeSentenceEncoder, concurrency: number) {
    super(native, concurrency, 'SentenceEncoder');
    const info = native.info();
    this.dim = info.dim;
    this.prompts = Object.freeze({ ...info.prompts });
    this.defaultPromptName = info.defaultPromptName;
    this.similarityFnName = info.similarityFnName;
    this.pooling = info.pooling;
    this.normalize = info.normalize;
  }

  /** Loads a sentence-transformers folder (modules.json, 1_Pooling/, config.json, tokenizer.json, model.onnx or onnx/*.onnx). */
  static async load(dir: string, options?: SentenceEncoderOptions): Promise<SentenceEncoder> {
    const caller = new Error();
    const o = v.optionsObject<SentenceEncoderOptions>(options, 'SentenceEncoder.load options', LOAD_OPTIONS);
    const { native: shared, concurrency } = transformerLoadOptions(dir, o);
    const opts = { ...shared };
    return loadNative(caller, async () => {
      opts.ortLibrary = ortLibraryPath();
      const native = await binding().NativeSentenceEncoder.load(opts);
      return new SentenceEncoder(native, concurrency);
    });
  }

  /**
   * Embeds `texts` in input order; one text (a string) gives its embedding alone. Texts longer than maxLength tokens are truncated (as
   * sentence-transformers does). Quantised precisions return Int8Array / Uint8Array rows. The result's type follows
   * `precision` when it is a constant (float32 without it); a precision only known at run time gives the union.
   */
  encode(text: string, options?: SentenceEncodeOptions<'float32'>): Promise<Float32Array>;
  encode<P extends Precision>(text: string, options: SentenceEncodeOptions<P> & { precision: P }): Promise<PrecisionArray[P]>;
  encode(text: string, options?: SentenceEncodeOptions): Promise<EmbeddingArray>;
  encode(texts: readonly string[], options?: SentenceEncodeOptions<'float32'>): Promise<Embeddings<Float32Array, 'float32'>>;
  encode<P extends Precision>(texts: readonly string[], options: SentenceEncodeOptions<P> & { precision: P }): Promise<Embeddings<PrecisionArray[P], P>>;
  encode(texts: readonly string[], options?: SentenceEncodeOptions): Promise<Embeddings<EmbeddingArray>>;
  async encode(texts: readonly string[] | string, options?: SentenceEncodeOptions): Promise<Embeddings<EmbeddingArray> | EmbeddingArray> {
    const o = v.optionsObject<SentenceEncodeOptions>(options, 'encode options', ENCODE_OPTIONS, LOADER);
    v.checkResultSize(texts, this.dim, 'encode the texts in smaller batches'); // the float32 rows come first, whatever dimensions / precision
    const one = typeof texts === 'string'; // one text, one row (sentence-transformers' 1-D result)
    const list = one ? [texts] : v.stringArray(texts, 'texts');
    const prompt = this.checkPrompt(v.str(o.prompt, 'prompt'));
    const normalize = v.bool(o.normalize, 'normalize');
    const dimensions = v.positiveInt(o.dimensions, 'dimensions', this.dim);
    const precision = v.oneOf(o.precision, 'precision', PRECISIONS) ?? 'float32';
    const ranges = quantizationRanges(o.ranges, dimensions ?? this.dim, precision);
    const call: CallOptions = { signal: v.abortSignal(o.signal, 'signal'), onProgress: v.func(o.onProgress, 'onProgress') as CallOptions['onProgress'] };
    const native = this.alive();
    const params = { prompt, normalize, dimensions, precision, ranges };
    const r = await this.queue.run((n) => native.encode(list, params, n), call);
    const embeddings = new Embeddings(r.data as EmbeddingArray, r.rows, r.dim, precision);
    return one ? embeddings.row(0) : embeddings;
  }

  /**
   * Embeds a stream of texts (an iterable or async iterable) and yields one embedding per text in input order. Texts
   * go to `encode` in chunks of `chunkSize` (default 1024), the next chunk read and embedded while the current one's
   * rows are consumed, so memory stays bounded whatever the input's length. Options as `encode`, without onProgress.
   */
  async *encodeStream(texts: Iterable<string> | AsyncIterable<string>, options?: SentenceEncodeStreamOptions): AsyncGenerator<EmbeddingArray> {
    const o = v.optionsObject<SentenceEncodeStreamOptions>(options, 'encodeStream options', ENCODE_STREAM_OPTIONS, LOADER);
    const { chunkSize, signal, ...rest } = o;
    const size = streamChunkSize(chunkSize);
    // int8 / uint8 rows are quantized with ranges taken from the call's own embeddings unless given: per chunk they
    // would differ from chunk to chunk.
    if ((rest.precision === 'int8' || rest.precision === 'uint8') && rest.ranges === undefined) {
      throw invalidArgumentText(`encodeStream with precision '${rest.precision}' needs the quantization ranges (option ranges): computed per chunk they would differ between chunks`, 'type');
    }
    yield* streamChunks(texts, size, v.abortSignal(signal, 'signal'), (chunk, s) => this.encode(chunk, { ...rest, signal: s }),
      (e: Embeddings<EmbeddingArray>) => e.toArray());
  }

  /**
   * `encode` for search queries (sentence-transformers' encode_query): without a `prompt` option, the
   * config's prompt named 'query' when it has one, else as `encode` (the default prompt).
   */
  encodeQuery(text: string, options?: SentenceEncodeOptions<'float32'>): Promise<Float32Array>;
  encodeQuery<P extends Precision>(text: string, options: SentenceEncodeOptions<P> & { precision: P }): Promise<PrecisionArray[P]>;
  encodeQuery(text: string, options?: SentenceEncodeOptions): Promise<EmbeddingArray>;
  encodeQuery(texts: readonly string[], options?: SentenceEncodeOptions<'float32'>): Promise<Embeddings<Float32Array, 'float32'>>;
  encodeQuery<P extends Precision>(texts: readonly string[], options: SentenceEncodeOptions<P> & { precision: P }): Promise<Embeddings<PrecisionArray[P], P>>;
  encodeQuery(texts: readonly string[], options?: SentenceEncodeOptions): Promise<Embeddings<EmbeddingArray>>;
  encodeQuery(texts: readonly string[] | string, options?: SentenceEncodeOptions): Promise<Embeddings<EmbeddingArray> | EmbeddingArray> {
    return this.encode(texts as readonly string[], this.withPrompt(options, ['query']));
  }

  /**
   * `encode` for documents (sentence-transformers' encode_document): without a `prompt` option, the first of
   * the config's prompts named 'document', 'passage', 'corpus', else as `encode` (the default prompt).
   */
  encodeDocument(text: string, options?: SentenceEncodeOptions<'float32'>): Promise<Float32Array>;
  encodeDocument<P extends Precision>(text: string, options: SentenceEncodeOptions<P> & { precision: P }): Promise<PrecisionArray[P]>;
  encodeDocument(text: string, options?: SentenceEncodeOptions): Promise<EmbeddingArray>;
  encodeDocument(texts: readonly string[], options?: SentenceEncodeOptions<'float32'>): Promise<Embeddings<Float32Array, 'float32'>>;
  encodeDocument<P extends Precision>(texts: readonly string[], options: SentenceEncodeOptions<P> & { precision: P }): Promise<Embeddings<PrecisionArray[P], P>>;
  encodeDocument(texts: readonly string[], options?: SentenceEncodeOptions): Promise<Embeddings<EmbeddingArray>>;
  encodeDocument(texts: readonly string[] | string, options?: SentenceEncodeOptions): Promise<Embeddings<EmbeddingArray> | EmbeddingArray> {
    return this.encode(texts as readonly string[], this.withPrompt(options, ['document', 'passage', 'corpus']));
  }

  /** Every row of `a` against every row of `b` with the model's `similarityFnName` (sentence-transformers' similarity): result[i][j]. */
  similarity(a: EmbeddingsLike, b: EmbeddingsLike): Float32Array[] {
    return similarity(a, b, this.similarityFnName);
  }

  /** Row i of `a` against row i of `b` with the model's `similarityFnName` (similarity_pairwise). */
  similarityPairwise(a: EmbeddingsLike, b: EmbeddingsLike): Float32Array {
    return similarityPairwise(a, b, this.similarityFnName);
  }

  /**
   * A prompt that is a bare word ('query', 'passage') must name one of the config's prompts: as a literal prefix it
   * would be glued to every text ('queryhow tall...'), which is never what was meant (sentence-transformers refuses
   * an unknown prompt_name too). Literal prefixes end in a space or punctuation ('query: ').
   */
  private checkPrompt(prompt: string | undefined): string | undefined {
    if (prompt === undefined || !/^[\p{L}\p{N}_-]+$/u.test(prompt) || Object.prototype.hasOwnProperty.call(this.prompts, prompt)) return prompt;
    const names = Object.keys(this.prompts);
    const expected = names.length
      ? `one of this model's prompt names (${names.map((n) => `'${n}'`).join(', ')}) or a literal prefix such as '${prompt}: '`
      : `a literal prefix such as '${prompt}: ' (this model's config names no prompts)`;
    throw invalidArgument(expected, 'prompt', prompt, 'range');
  }

  private withPrompt<O extends SentenceEncodeOptions<any>>(options: O | undefined, names: readonly string[]): O | undefined {
    if (options != null && (typeof options !== 'object' || options.prompt !== undefined)) return options; // encode checks it
    const name = names.find((n) => Object.prototype.hasOwnProperty.call(this.prompts, n));
    return name === undefined ? options : ({ ...options, prompt: name } as O);
  }
}

/** Checks `ranges` and flattens it to mins then maxes. */
function quantizationRanges(value: unknown, dims: number, precision: Precision): Float32Array | undefined {
  if (value === undefined) return undefined;
  const what = `a Float32Array of ${2 * dims} values or [mins, maxes] of ${dims} numbers each`;
  let flat: Float32Array;
  if (value instanceof Float32Array) {
    flat = value;
  } else if (Array.isArray(value) && value.length === 2 && value.every((r) => r != null && typeof r === 'object' && typeof (r as ArrayLike<number>).length === 'number')) {
    const [lo, hi] = value as [ArrayLike<number>, ArrayLike<number>];
    if (lo.length !== dims || hi.length !== dims) throw invalidArgument(what, 'ranges', value, 'range');
    flat = new Float32Array(2 * dims);
    [lo, hi].forEach((r, k) => {
      for (let i = 0; i < dims; i++) if (typeof r[i] !== 'number') throw invalidArgument('a number', `ranges[${k}][${i}]`, r[i]);
    });
    flat.set(Array.from(lo), 0);
    flat.set(Array.from(hi), dims);
  } else {
    throw invalidArgument(what, 'ranges', value);
  }
  if (flat.length !== 2 * dims) throw invalidArgument(what, 'ranges', value, 'range');
  if (precision !== 'int8' && precision !== 'uint8') throw invalidArgument("'int8' or 'uint8' (ranges is given)", 'precision', precision);
  const bad = flat.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) {
    const where = value instanceof Float32Array ? `ranges[${bad}]` : `ranges[${bad < dims ? 0 : 1}][${bad % dims}]`;
    throw invalidArgument('a finite number', where, value instanceof Float32Array ? value[bad] : (value as ArrayLike<number>[])[bad < dims ? 0 : 1][bad % dims], 'range');
  }
  return flat;
}
