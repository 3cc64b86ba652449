import { binding, ortLibraryPath } from './native';
import type { NativeCrossEncoder } from './binding';
import type { Activation } from './types';
import type { CallOptions } from './queue';
import { TransformerModel, loadNative } from './model-base';
import * as v from './validate';
import { TRANSFORMER_LOAD_OPTIONS, TransformerLoadOptions, transformerLoadOptions } from './model-options';
import { invalidArgument, invalidArgumentText } from './errors';


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

export interface PredictOptions extends CallOptions {}
const PREDICT_OPTIONS = ['signal', 'onProgress'] as const;

export interface RankOptions extends CallOptions {
  /** Keep only the best `topK` results. */
  topK?: number;
  /** Include each document's text in its result. */
  returnDocuments?: boolean;
}
const RANK_OPTIONS = ['topK', 'returnDocuments', 'signal', 'onProgress'] as const;

export interface RankResult {
  /** Position of the document in the input array. */
  index: number;
  score: number;
  /** The document (with returnDocuments). */
  text?: string;
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
   * Scores pairs. Returns pairs.length × numLabels scores in input order (row-major).
   * Only the second text of a pair is truncated; a first text that does not fit alone is QUERY_TOO_LONG.
   */
  async predict(pairs: ReadonlyArray<Pair>, options?: PredictOptions): Promise<Float32Array> {
    const o = v.optionsObject<PredictOptions>(options, 'predict options', PREDICT_OPTIONS, LOADER);
    const [a, b] = v.pairArrays(pairs, 'pairs');
    const call: CallOptions = { signal: v.abortSignal(o.signal, 'signal'), onProgress: v.func(o.onProgress, 'onProgress') as CallOptions['onProgress'] };
    const native = this.alive();
    return this.queue.run((n) => native.predict(a, b, n), call);
  }

  /** Scores every document against the query (tokenized once) and returns them best first. */
  rank(query: string, documents: readonly string[], options: RankOptions & { returnDocuments: true }): Promise<Array<RankResult & { text: string }>>;
  rank(query: string, documents: readonly string[], options?: RankOptions): Promise<RankResult[]>;
  async rank(query: string, documents: readonly string[], options?: RankOptions): Promise<RankResult[]> {
    const o = v.optionsObject<RankOptions>(options, 'rank options', RANK_OPTIONS, LOADER);
    if (typeof query !== 'string') throw invalidArgument('a string', 'query', query);
    const docs = v.stringArray(documents, 'documents');
    const topK = v.positiveInt(o.topK, 'topK');
    const returnDocuments = v.bool(o.returnDocuments, 'returnDocuments') ?? false;
    const call: CallOptions = { signal: v.abortSignal(o.signal, 'signal'), onProgress: v.func(o.onProgress, 'onProgress') as CallOptions['onProgress'] };
    const native = this.alive();
    if (this.numLabels !== 1) {
      throw invalidArgumentText(`rank() needs a model with one output label; this one has ${this.numLabels}. Use predict().`, 'range');
    }
    const scores = await this.queue.run((n) => native.score(query, docs as string[], n), call);
    const order = Array.from(scores.keys()).sort((i, j) => scores[j] - scores[i] || i - j);
    const kept = topK === undefined ? order : order.slice(0, topK);
    return kept.map((index) => (returnDocuments ? { index, score: scores[index], text: docs[index] } : { index, score: scores[index] }));
  }
}
