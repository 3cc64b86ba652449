import * as os from 'node:os';
import type { NativeModelOptions } from './binding';
import type { SessionLoadOptions } from './types';
import { resolveModelDir } from './hub-cache';
import * as v from './validate';

/**
 * The most native threads a `threads` option may ask for: four per hardware thread, and 256 at most. More never
 * makes CPU-bound work faster (ONNX Runtime's threads even spin while they wait), and a process limit on threads
 * then fails the load.
 */
export const MAX_THREADS = Math.min(256, 4 * Math.max(1, os.availableParallelism?.() ?? os.cpus().length));

/** A `threads` option: an integer from 1 to MAX_THREADS (RangeError INVALID_ARGUMENT beyond). */
export function threadCount(value: unknown, option = 'threads'): number | undefined {
  return v.positiveInt(value, option, MAX_THREADS);
}

/** Load options every ONNX transformer class shares (CrossEncoder, SentenceEncoder, PruningEncoder). */
export interface TransformerLoadOptions extends SessionLoadOptions {
  /**
   * When the first argument of `load` is a hub id (`'org/name'`) rather than a folder: the branch, tag or commit of
   * the snapshot to take from the local Hugging Face cache. Default 'main'.
   */
  revision?: string;
  /** Native calls allowed to run at once on this model. Default 1 (the rest queue). */
  concurrency?: number;
}

export const TRANSFORMER_LOAD_OPTIONS = [
  'maxLength', 'batchSize', 'tokenBudget', 'threads', 'device', 'file', 'concurrency', 'gpuMemLimit', 'allowTf32', 'fuseLayerNorm',
  'lengthBuckets', 'fuseAttention', 'prepackWeights', 'revision', 'mecabDictionary',
] as const satisfies readonly (keyof TransformerLoadOptions)[];
// Every option of the interface is in the list (a compile error names the one missing).
const ALL_LISTED: Exclude<keyof TransformerLoadOptions, (typeof TRANSFORMER_LOAD_OPTIONS)[number]> extends never ? true : never = true;
void ALL_LISTED;

/** Validates the shared options; `ortLibrary` is filled in by the caller just before loading. */
export function transformerLoadOptions(dir: unknown, o: TransformerLoadOptions): { native: NativeModelOptions; concurrency: number } {
  return {
    native: {
      dir: resolveModelDir(v.directory(dir), v.str(o.revision, 'revision')),
      ortLibrary: '',
      maxLength: v.positiveInt(o.maxLength, 'maxLength', 1 << 20),
      batchSize: v.positiveInt(o.batchSize, 'batchSize', 1 << 16),
      tokenBudget: v.positiveInt(o.tokenBudget, 'tokenBudget'),
      threads: threadCount(o.threads),
      device: v.device(o.device),
      file: v.str(o.file, 'file'),
      gpuMemLimit: v.positiveInt(o.gpuMemLimit, 'gpuMemLimit'),
      allowTf32: v.bool(o.allowTf32, 'allowTf32'),
      fuseLayerNorm: v.bool(o.fuseLayerNorm, 'fuseLayerNorm'),
      lengthBuckets: v.bool(o.lengthBuckets, 'lengthBuckets'),
      fuseAttention: v.bool(o.fuseAttention, 'fuseAttention'),
      prepackWeights: v.bool(o.prepackWeights, 'prepackWeights'),
      mecabDictionary: v.mecabDictionary(o.mecabDictionary),
    },
    concurrency: v.positiveInt(o.concurrency, 'concurrency', 64) ?? 1,
  };
}
