/**
 * The one place that loads and types the native addon. Every other file imports from here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { winnowError } from './errors';
import type { Precision } from './embeddings';

export interface NativeProgress {
  done: number;
  total: number;
}

export interface NativeCallOptions {
  onProgress?: (p: NativeProgress) => void;
  cancelToken?: unknown;
}

export interface NativeModelOptions {
  dir: string;
  ortLibrary: string;
  file?: string;
  device?: string;
  threads?: number;
  maxLength?: number;
  batchSize?: number;
  tokenBudget?: number;
  gpuMemLimit?: number;
  allowTf32?: boolean;
  fuseLayerNorm?: boolean;
  lengthBuckets?: boolean;
  fuseAttention?: boolean;
  prepackWeights?: boolean;
}

export interface NativeCrossEncoderInfo {
  numLabels: number;
  maxLength: number;
  modelMaxLength: number;
  device: string;
  onnxPath: string;
  fusedLayerNorms: number;
  fusedAttentions: number;
  activation: 'sigmoid' | 'softmax' | 'none';
}

/** What a transformer model has run since it loaded (see ModelCounters in queue.ts). */
export interface NativeBatchStats {
  batches: number;
  rows: number;
  tokens: number;
  paddedTokens: number;
  sequenceLengths: number[];
}

export interface NativeCrossEncoder {
  predict(firsts: string[], seconds: string[], opts?: NativeCallOptions): Promise<Float32Array>;
  score(query: string, documents: string[], opts?: NativeCallOptions): Promise<Float32Array>;
  info(): NativeCrossEncoderInfo;
  batchStats(): NativeBatchStats;
  dispose(): void;
  readonly inFlight: number;
}

// The tokenizer's result and options are declared once, with their docs, in tokenizer.ts.
export type NativeEncoding = import('./tokenizer').Encoding;

export type NativeEncodeOptions = import('./tokenizer').EncodeOptions;

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
  NativeTokenizer: { fromFile(path: string): Promise<NativeTokenizer>; fromJSON(json: string): Promise<NativeTokenizer> };
  newCancelToken(): unknown;
  cancel(token: unknown): void;
  ortInfo(libraryPath: string): { version: string; library: string; providers: string[] };
  simdLevel(): string;
  NativePruningEncoder: { load(opts: NativeModelOptions & { threshold?: number }): Promise<NativePruningEncoder> };
  NativeStaticModel: { load(opts: { dir: string; normalize?: boolean; threads?: number }): Promise<NativeStaticModel> };
  [key: string]: any;
}

/** File name of our private copy of ONNX Runtime (its SONAME is changed to match, see scripts/). */
export const ORT_LIBRARY_NAME = 'libwinnow_onnxruntime.so.1';

// The package root: two levels up from dist/<format>/, one from lib/ (tests run the sources).
const ROOT = [path.resolve(__dirname, '..', '..'), path.resolve(__dirname, '..')].find((d) => fs.existsSync(path.join(d, 'package.json'))) ?? path.resolve(__dirname, '..', '..');

let cached: { binding: NativeBinding; addonPath: string } | undefined;

/** The optional package that carries the addon for this platform (scripts/platform-package.mjs). */
export const PLATFORM_PACKAGE = `winnow-native-${process.platform}-${process.arch}`;

const ADDON_NAME = 'winnow-native.node';

const MUSL_HINT = ' This is a musl system (Alpine?): the prebuilt binaries need glibc 2.28 or later.';

/** Linux without glibc (Node's report names the glibc it runs on). Only asked on the way to an error. */
function isMusl(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
    return !report?.header?.glibcVersionRuntime;
  } catch {
    return false;
  }
}

/**
 * Where the addon may be, in order: WINNOW_ADDON alone when set; else a build from source in this package
 * (build/Release, `npm run build:native`), the platform package npm installed beside this one, and this
 * package's own prebuilds/<platform>-<arch>/ (a checkout after `npm run prebuild`).
 */
function addonCandidates(): string[] {
  if (process.env.WINNOW_ADDON) return [path.resolve(process.env.WINNOW_ADDON)];
  const out = [path.join(ROOT, 'build', 'Release', 'winnow.node')];
  try {
    out.push(path.join(path.dirname(require.resolve(`${PLATFORM_PACKAGE}/package.json`)), ADDON_NAME));
  } catch {
    out.push(`${PLATFORM_PACKAGE}/${ADDON_NAME} (package not installed)`);
  }
  out.push(path.join(ROOT, 'prebuilds', `${process.platform}-${process.arch}`, ADDON_NAME));
  return out;
}

function loadBinding(): { binding: NativeBinding; addonPath: string } {
  if (cached) return cached;
  const candidates = addonCandidates();
  const addonPath = candidates.find((c) => fs.existsSync(c));
  if (!addonPath) {
    const why =
      process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64')
        ? isMusl()
          ? MUSL_HINT
          : ` npm installs ${PLATFORM_PACKAGE} as an optional dependency: check that it was not skipped (--omit=optional, --no-optional, or a lockfile made on another platform; \`npm install ${PLATFORM_PACKAGE}\` adds it).`
        : ' Prebuilt binaries cover linux-x64 and linux-arm64 (glibc).';
    throw winnowError(
      'NATIVE_LOAD_FAILED',
      `Winnow's native addon was not found for ${process.platform}-${process.arch} (Node ${process.versions.node}). ` +
        `Tried ${candidates.join(', ')}.${why} Elsewhere build from source with \`npm run build:native\` ` +
        '(needs cmake, a C++20 compiler, libutf8proc-dev, libpcre2-dev, nlohmann-json3-dev and patchelf).',
    );
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const binding = require(addonPath) as NativeBinding;
    cached = { binding, addonPath };
    return cached;
  } catch (e) {
    const hint = isMusl() ? MUSL_HINT : '';
    throw winnowError('NATIVE_LOAD_FAILED', `Winnow's native addon at ${addonPath} failed to load: ${(e as Error).message}.${hint}`);
  }
}

export function binding(): NativeBinding {
  return loadBinding().binding;
}

/**
 * The ONNX Runtime library Winnow loads: WINNOW_ORT_LIBRARY if set, else the copy shipped beside the addon.
 */
export function ortLibraryPath(): string {
  const fromEnv = process.env.WINNOW_ORT_LIBRARY;
  if (fromEnv) return fromEnv;
  // With the optional CUDA package installed, its core (CPU and CUDA in one library) serves every
  // model: one process can hold only one ONNX Runtime.
  const cuda = cudaPackageCore();
  if (cuda) return cuda;
  const { addonPath } = loadBinding();
  const candidate = path.join(path.dirname(addonPath), ORT_LIBRARY_NAME);
  if (!fs.existsSync(candidate)) {
    throw winnowError(
      'ORT_LOAD_FAILED',
      `ONNX Runtime library not found beside the addon (${candidate}). Reinstall winnow-native, or set WINNOW_ORT_LIBRARY to a libonnxruntime.so of version 1.29 or later.`,
    );
  }
  return candidate;
}

/** Name of the optional package that carries the CUDA build of ONNX Runtime. */
export const CUDA_PACKAGE = `winnow-native-cuda-${process.platform}-${process.arch}`;

function cudaPackageCore(): string | undefined {
  if (process.env.WINNOW_DISABLE_CUDA_PACKAGE === '1') return undefined;
  let pkg: { coreLibrary(): string } | undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    pkg = require(CUDA_PACKAGE);
  } catch {
    return undefined;
  }
  try {
    return pkg!.coreLibrary();
  } catch (e) {
    throw winnowError('ORT_LOAD_FAILED', `${CUDA_PACKAGE} is installed but incomplete: ${(e as Error).message}`);
  }
}

/** Version of ONNX Runtime in use, its path, and the execution providers it was built with. */
/** Which SIMD kernels Winnow's own code runs (pooling, static embeddings, layer norm): the best the CPU has, capped by WINNOW_SIMD. */
export type SimdLevel = 'avx512' | 'avx2' | 'neon' | 'scalar';

export function runtimeInfo(): { version: string; library: string; providers: string[]; addon: string; simd: SimdLevel } {
  const info = binding().ortInfo(ortLibraryPath());
  return { ...info, addon: loadBinding().addonPath, simd: binding().simdLevel() as SimdLevel };
}

// ---- PruningEncoder (issue #6) ----

export interface NativePruningEncoderInfo {
  maxLength: number;
  modelMaxLength: number;
  threshold: number;
  device: string;
  onnxPath: string;
  fusedLayerNorms: number;
  fusedAttentions: number;
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
  process(queries: string[], queryOf: number[], documents: Array<string | string[]>, opts?: NativePruneOptions): Promise<NativePruneResult[]>;
  predict(firsts: string[], seconds: string[], opts?: NativeCallOptions): Promise<Float32Array>;
  info(): NativePruningEncoderInfo;
  batchStats(): NativeBatchStats;
  dispose(): void;
  readonly inFlight: number;
}

// ---- SentenceEncoder (issue #5) ----

export interface NativeSentenceEncoderInfo {
  dim: number;
  maxLength: number;
  modelMaxLength: number;
  device: string;
  onnxPath: string;
  fusedLayerNorms: number;
  fusedAttentions: number;
  pooling: string;
  poolingFromConfig: boolean;
  includePrompt: boolean;
  normalize: boolean;
  lowerCase: boolean;
  output: string;
  prompts: Record<string, string>;
  defaultPromptName: string | null;
  similarityFnName: import('./similarity').SimilarityFunction;
}

export interface NativeSentenceEncodeParams {
  prompt?: string;
  normalize?: boolean;
  dimensions?: number;
  precision?: Precision;
  ranges?: Float32Array;
}

export interface NativeSentenceEncoder {
  encode(
    texts: string[],
    params: NativeSentenceEncodeParams,
    opts?: NativeCallOptions,
  ): Promise<{ data: Float32Array | Int8Array | Uint8Array; rows: number; dim: number }>;
  info(): NativeSentenceEncoderInfo;
  batchStats(): NativeBatchStats;
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
