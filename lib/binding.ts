/**
 * The native addon's whole surface, typed: what lib/native.ts loads and the public classes call. Types only;
 * imports nothing but the shared types.
 */
import type { Encoding, EncodeOptions, Precision, Progress, SessionLoadOptions, SimdLevel, SimilarityFunction } from './types';

export type NativeProgress = Progress;

export interface NativeCallOptions {
  onProgress?: (p: NativeProgress) => void;
  cancelToken?: unknown;
}

/** What a transformer class's native load takes: the public session options, checked, plus where to find things. */
export type NativeModelOptions = SessionLoadOptions & {
  dir: string;
  ortLibrary: string;
  batchAcrossCalls?: boolean;
};

/** What every transformer model's info() has: its session and lengths. */
export interface NativeSessionInfo {
  maxLength: number;
  modelMaxLength: number;
  device: string;
  onnxPath: string;
  /** What the graph was made from, relative to the folder ("onnx/model.onnx", "model.safetensors", ...). */
  source: string;
  /** Whether the graph was built from a checkpoint. */
  built: boolean;
  fusedLayerNorms: number;
  fusedAttentions: number;
  quantizedMatMuls: number;
  bf16MatMuls: number;
  bf16Attentions: number;
}

export interface NativeCrossEncoderInfo extends NativeSessionInfo {
  numLabels: number;
  activation: 'sigmoid' | 'softmax' | 'none';
}

/** What a transformer model has run since it loaded (see ModelCounters in queue.ts). */
export interface NativeBatchStats {
  batches: number;
  rows: number;
  tokens: number;
  paddedTokens: number;
  sequenceLengths: number[];
  sharedBatches: number;
}

/** A call's activation, overriding the model's ('none': the raw logits); undefined: the model's own. */
export interface NativeScoreOptions extends NativeCallOptions {
  activation?: 'sigmoid' | 'softmax' | 'none';
}

export interface NativeCrossEncoder {
  predict(firsts: string[], seconds: string[], opts?: NativeScoreOptions): Promise<Float32Array>;
  /** With `chunk`, documents longer than fit beside the query are scored in windows and aggregated. */
  score(query: string, documents: string[], opts?: NativeScoreOptions & { chunk?: { overlap: number; aggregate: 'max' | 'mean' | 'first' } }): Promise<Float32Array>;
  countTokens(texts: string[], opts?: NativeCallOptions): Promise<Uint32Array>;
  info(): NativeCrossEncoderInfo;
  batchStats(): NativeBatchStats;
  /** The built graph, weights inline, written to `path` (models built from a checkpoint). */
  saveOnnx(path: string): Promise<void>;
  dispose(): void;
  readonly inFlight: number;
}

export type NativeEncoding = Encoding;
export type NativeEncodeOptions = EncodeOptions;

export interface NativeTokenizer {
  encode(text: string, pair: string | null, opts?: NativeEncodeOptions): NativeEncoding;
  encodeBatch(texts: string[], pairs: string[] | null, opts?: NativeEncodeOptions & { threads?: number }, call?: NativeCallOptions): Promise<NativeEncoding[]>;
  decode(ids: Int32Array, skipSpecialTokens: boolean): string;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  vocabSize(): number;
  numSpecialTokensToAdd(pair: boolean): number;
  dispose(): void;
}

export interface NativeBinding {
  NativeCrossEncoder: { load(opts: NativeModelOptions & { activation?: string }): Promise<NativeCrossEncoder> };
  NativeTokenizer: {
    fromFile(path: string): Promise<NativeTokenizer>;
    fromJSON(json: string): Promise<NativeTokenizer>;
    load(dir: string, options: { mecabDictionary?: string }): Promise<NativeTokenizer>;
  };
  newCancelToken(): unknown;
  cancel(token: unknown): void;
  ortInfo(libraryPath: string): { version: string; library: string; providers: string[] };
  simdLevel(): SimdLevel;
  operatorKernels(): Record<string, string>;
  NativePruningEncoder: { load(opts: NativeModelOptions & { threshold?: number }): Promise<NativePruningEncoder> };
  NativeSentenceEncoder: NativeSentenceEncoderClass;
  NativeStaticModel: { load(opts: { dir: string; normalize?: boolean; threads?: number }): Promise<NativeStaticModel> };
  /**
   * [n, m] (or [n] when pairwise) similarities of float32 rows a [n, dim] and b [m, dim], written into `out` (allocated
   * by the caller, where a failed allocation is a thrown error); fn indexes SIMILARITY_FUNCTIONS.
   */
  similarity(a: Float32Array, n: number, b: Float32Array, m: number, dim: number, fn: number, pairwise: boolean, threads: number, out: Float32Array): void;
  /** Top-k rows of c for each row of q, [n, min(k, m)] each, best first. */
  semanticSearch(
    q: Float32Array, n: number, c: Float32Array, m: number, dim: number, fn: number, k: number, chunk: number, threads: number,
    call?: NativeCallOptions,
  ): Promise<{ index: Int32Array; score: Float32Array }>;
}

// ---- PruningEncoder (issue #6) ----

export interface NativePruningEncoderInfo extends NativeSessionInfo {
  threshold: number;
}

/** One document's result; spans are flat UTF-16 [start, end) pairs into the document (sentences.join('') when pre-split). */
export interface NativePruneResult {
  score: number;
  tokensTotal: number;
  tokensKept: number;
  keptSpans: Uint32Array;
  sentenceSpans?: Uint32Array;
  sentenceProbs?: Float32Array;
  sentenceKept?: Uint8Array;
}

export interface NativePruneOptions extends NativeCallOptions {
  threshold?: number;
  granularity?: 'sentence' | 'token';
  language?: 'en' | 'ja' | 'auto';
  zeroScoreWhenEmpty?: boolean;
}

export interface NativePruningEncoder {
  countTokens(texts: string[], opts?: NativeCallOptions): Promise<Uint32Array>;
  process(queries: string[], queryOf: number[], documents: Array<string | string[]>, opts?: NativePruneOptions): Promise<NativePruneResult[]>;
  predict(firsts: string[], seconds: string[], opts?: NativeCallOptions): Promise<Float32Array>;
  info(): NativePruningEncoderInfo;
  batchStats(): NativeBatchStats;
  /** The built graph, weights inline, written to `path` (models built from a checkpoint). */
  saveOnnx(path: string): Promise<void>;
  dispose(): void;
  readonly inFlight: number;
}

// ---- SentenceEncoder (issue #5) ----

export interface NativeSentenceEncoderInfo extends NativeSessionInfo {
  dim: number;
  pooling: string;
  poolingFromConfig: boolean;
  includePrompt: boolean;
  normalize: boolean;
  lowerCase: boolean;
  output: string;
  prompts: Record<string, string>;
  defaultPromptName: string | null;
  similarityFnName: SimilarityFunction;
}

export interface NativeSentenceEncodeParams {
  prompt?: string;
  normalize?: boolean;
  dimensions?: number;
  precision?: Precision;
  ranges?: Float32Array;
}

export interface NativeSentenceEncoder {
  countTokens(texts: string[], opts?: NativeCallOptions): Promise<Uint32Array>;
  encode(
    texts: string[],
    params: NativeSentenceEncodeParams,
    opts?: NativeCallOptions,
  ): Promise<{ data: Float32Array | Int8Array | Uint8Array; rows: number; dim: number }>;
  info(): NativeSentenceEncoderInfo;
  batchStats(): NativeBatchStats;
  /** The built graph, weights inline, written to `path` (models built from a checkpoint). */
  saveOnnx(path: string): Promise<void>;
  dispose(): void;
  readonly inFlight: number;
}

export interface NativeSentenceEncoderClass {
  load(opts: NativeModelOptions): Promise<NativeSentenceEncoder>;
}

// ---- StaticModel (issue #4) ----

export interface NativeStaticModelInfo {
  dim: number;
  vocabSize: number;
  rows: number;
  dtype: 'float32' | 'float16' | 'bfloat16' | 'int8';
  normalize: boolean;
  medianTokenLength: number;
  threads: number;
  weights: boolean;
  mapping: boolean;
  safetensorsPath: string;
  tokenizerPath: string;
  simd: string;
}

/** maxLength 0 = no truncation. */
export interface NativeStaticEncodeParams {
  maxLength: number;
  batchSize: number;
}

export interface NativeStaticModel {
  encode(texts: string[], params: NativeStaticEncodeParams, opts?: NativeCallOptions): Promise<Float32Array>;
  encodeSync(texts: string[], params: NativeStaticEncodeParams): Float32Array;
  encodeAsSequence(texts: string[], params: NativeStaticEncodeParams, opts?: NativeCallOptions): Promise<Float32Array[]>;
  countTokens(texts: string[], params: NativeStaticEncodeParams, opts?: NativeCallOptions): Promise<Uint32Array>;
  info(): NativeStaticModelInfo;
  dispose(): void;
  readonly inFlight: number;
}
