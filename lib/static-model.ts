import { binding } from './native';
import type { NativeStaticModel } from './binding';
import type { CallOptions } from './queue';
import { Model, loadNative } from './model-base';
import { resolveModelDir } from './hub-cache';
import { threadCount } from './model-options';
import * as v from './validate';
import { Embeddings } from './embeddings';

export interface StaticModelOptions {
  /** When `load` is given a hub id (`'minishlab/potion-base-8M'`): the branch, tag or commit to take from the local Hugging Face cache. Default 'main'. */
  revision?: string;
  /** Overrides config.json `normalize` (or, without it, the presence of a Normalize module). */
  normalize?: boolean;
  /** Native threads per call. Default: one per hardware thread. */
  threads?: number;
  /** Native calls allowed to run at once on this model. Default 1 (the rest queue). */
  concurrency?: number;
}
const LOAD_OPTIONS = ['normalize', 'threads', 'concurrency', 'revision'] as const;
const LOADER: v.Loader = { name: 'StaticModel.load', options: LOAD_OPTIONS };

export interface StaticEncodeOptions extends CallOptions {
  /** Tokens kept per text (after a cut to maxLength × median token length characters). Default 512; null: no truncation. */
  maxLength?: number | null;
  /** Texts per native work item (progress and cancellation granularity). Default 1024. */
  batchSize?: number;
}
const ENCODE_OPTIONS = ['maxLength', 'batchSize', 'signal', 'onProgress'] as const;
const SYNC_OPTIONS = ['maxLength', 'batchSize'] as const;

/** Data type of the embedding table as stored (and kept) in memory. */
export type StaticDType = 'float32' | 'float16' | 'bfloat16' | 'int8';

/**
 * Model2Vec static embeddings (minishlab/potion-*, sentence-transformers StaticEmbedding): tokenize,
 * look up rows of the memory-mapped table, average, as model2vec's `StaticModel.encode` does.
 */
export class StaticModel extends Model<NativeStaticModel> {
  /** Values per embedding. */
  readonly dim: number;
  /** Tokens in the tokenizer's vocabulary (added tokens included). */
  readonly vocabSize: number;
  /** Whether embeddings are L2-normalised. */
  readonly normalize: boolean;
  /** The table's dtype as stored in the file. */
  readonly dtype: StaticDType;
  /** Median vocabulary token length in characters (the character cut is maxLength × this). */
  readonly medianTokenLength: number;
  /** The safetensors file that was loaded. */
  readonly file: string;

  private constructor(native: NativeStaticModel, concurrency: number) {
    super(native, concurrency, 'StaticModel');
    const info = native.info();
    this.dim = info.dim;
    this.vocabSize = info.vocabSize;
    this.normalize = info.normalize;
    this.dtype = info.dtype;
    this.medianTokenLength = info.medianTokenLength;
    this.file = info.safetensorsPath;
  }

  /** Loads a Model2Vec folder (model.safetensors, tokenizer.json, config.json) or a sentence-transformers StaticEmbedding folder. */
  static async load(dir: string, options?: StaticModelOptions): Promise<StaticModel> {
    const caller = new Error();
    const o = v.optionsObject<StaticModelOptions>(options, 'StaticModel.load options', LOAD_OPTIONS);
    const opts = {
      dir: resolveModelDir(v.directory(dir), v.str(o.revision, 'revision')),
      normalize: v.bool(o.normalize, 'normalize'),
      threads: threadCount(o.threads),
    };
    const concurrency = v.positiveInt(o.concurrency, 'concurrency', 64) ?? 1;
    return loadNative(caller, async () => {
      const native = await binding().NativeStaticModel.load(opts);
      return new StaticModel(native, concurrency);
    });
  }

  /** Embeds texts on native threads: one contiguous `texts.length × dim` matrix, in input order; one text (a string) gives its embedding alone. */
  encode(text: string, options?: StaticEncodeOptions): Promise<Float32Array>;
  encode(texts: readonly string[], options?: StaticEncodeOptions): Promise<Embeddings>;
  async encode(texts: readonly string[] | string, options?: StaticEncodeOptions): Promise<Embeddings | Float32Array> {
    const o = v.optionsObject<StaticEncodeOptions>(options, 'encode options', ENCODE_OPTIONS, LOADER);
    v.checkResultSize(texts, this.dim, 'encode the texts in smaller batches');
    const list = typeof texts === 'string' ? [texts] : v.stringArray(texts, 'texts');
    const native = this.alive();
    const opts = encodeOptions(o);
    const data = await this.queue.run((n) => native.encode(list, opts, n), callOptions(o));
    return typeof texts === 'string' ? data : new Embeddings(data, list.length, this.dim);
  }

  /** encode() on the calling thread, for a handful of short texts on a hot path. */
  encodeSync(text: string, options?: Omit<StaticEncodeOptions, 'signal' | 'onProgress'>): Float32Array;
  encodeSync(texts: readonly string[], options?: Omit<StaticEncodeOptions, 'signal' | 'onProgress'>): Embeddings;
  encodeSync(texts: readonly string[] | string, options?: Omit<StaticEncodeOptions, 'signal' | 'onProgress'>): Embeddings | Float32Array {
    const o = v.optionsObject<StaticEncodeOptions>(options, 'encodeSync options', SYNC_OPTIONS, LOADER);
    v.checkResultSize(texts, this.dim, 'encode the texts in smaller batches');
    const list = typeof texts === 'string' ? [texts] : v.stringArray(texts, 'texts');
    const native = this.alive();
    const data = native.encodeSync(list, encodeOptions(o));
    return typeof texts === 'string' ? data : new Embeddings(data, list.length, this.dim);
  }

  /** Per-token vectors: for each text a `tokens × dim` array of (mapped, weighted) table rows, not normalised. */
  async encodeAsSequence(texts: readonly string[], options?: StaticEncodeOptions): Promise<Float32Array[]> {
    const o = v.optionsObject<StaticEncodeOptions>(options, 'encodeAsSequence options', ENCODE_OPTIONS, LOADER);
    const list = v.stringArray(texts, 'texts');
    const native = this.alive();
    const opts = encodeOptions(o);
    return this.queue.run((n) => native.encodeAsSequence(list, opts, n), callOptions(o));
  }

  /** Tokens each text contributes (after the character cut, unknown-token removal and maxLength): tokenization only. */
  countTokens(text: string, options?: StaticEncodeOptions): Promise<number>;
  countTokens(texts: readonly string[], options?: StaticEncodeOptions): Promise<Uint32Array>;
  async countTokens(texts: readonly string[] | string, options?: StaticEncodeOptions): Promise<Uint32Array | number> {
    const o = v.optionsObject<StaticEncodeOptions>(options, 'countTokens options', ENCODE_OPTIONS, LOADER);
    const list = typeof texts === 'string' ? [texts] : v.stringArray(texts, 'texts');
    const native = this.alive();
    const opts = encodeOptions(o);
    const counts = await this.queue.run((n) => native.countTokens(list, opts, n), callOptions(o));
    return typeof texts === 'string' ? counts[0] : counts;
  }
}

function encodeOptions(o: Partial<StaticEncodeOptions>): { maxLength: number; batchSize: number } {
  // The native side takes 0 for "no truncation" (model2vec's max_length=None).
  const maxLength = o.maxLength === null ? 0 : (v.positiveInt(o.maxLength, 'maxLength', 1 << 24) ?? 512);
  return { maxLength, batchSize: v.positiveInt(o.batchSize, 'batchSize', 1 << 24) ?? 1024 };
}

function callOptions(o: Partial<StaticEncodeOptions>): CallOptions {
  return { signal: v.abortSignal(o.signal, 'signal'), onProgress: v.func(o.onProgress, 'onProgress') as CallOptions['onProgress'] };
}
