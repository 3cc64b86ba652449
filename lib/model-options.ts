import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import type { NativeModelOptions } from './binding';
import { invalidArgument, invalidArgumentText, winnowError } from './errors';
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
  /**
   * Calls handed to the native core at once on this model (the rest wait in order). Default 64 when calls batch
   * across calls, 1 otherwise.
   */
  concurrency?: number;
  /**
   * Concurrent calls on this model share length-sorted batches (each call still gets its own results, progress and
   * cancellation; a lone call runs the batches it would run alone). Default true; false runs each call's own batches,
   * `concurrency` calls side by side.
   */
  batchAcrossCalls?: boolean;
}

export const TRANSFORMER_LOAD_OPTIONS = [
  'maxLength', 'batchSize', 'tokenBudget', 'threads', 'device', 'file', 'concurrency', 'gpuMemLimit', 'allowTf32', 'fuseLayerNorm',
  'lengthBuckets', 'fuseAttention', 'prepackWeights', 'revision', 'source', 'adapter', 'mecabDictionary', 'batchAcrossCalls',
  'quantize', 'kernels', 'dtype',
] as const satisfies readonly (keyof TransformerLoadOptions)[];
// Every option of the interface is in the list (a compile error names the one missing).
const ALL_LISTED: Exclude<keyof TransformerLoadOptions, (typeof TRANSFORMER_LOAD_OPTIONS)[number]> extends never ? true : never = true;
void ALL_LISTED;

/**
 * The model folder and adapter of a load: `dir` resolved (a hub id from the local cache), and when `dir` is a peft
 * adapter folder (adapter_config.json, no config.json), its base model from base_model_name_or_path (a local path,
 * or a hub id in the cache) with `dir` as the adapter.
 */
function modelAndAdapter(dir: string, adapterOption: string | undefined): { dir: string; adapter: string | undefined } {
  let adapter = adapterOption === undefined ? undefined : resolveModelDir(adapterOption, undefined);
  if (!existsSync(join(dir, 'adapter_config.json')) || existsSync(join(dir, 'config.json'))) return { dir, adapter };
  if (adapter !== undefined) {
    throw invalidArgumentText(`${dir} is itself a peft adapter (adapter_config.json, no config.json): pass its base model as the folder, or the adapter alone`, 'type');
  }
  let config: { base_model_name_or_path?: unknown; revision?: unknown };
  try {
    config = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
  } catch (e) {
    throw winnowError('CONFIG_INVALID', `${join(dir, 'adapter_config.json')} is not valid JSON: ${(e as Error).message}`);
  }
  const base = config?.base_model_name_or_path;
  if (typeof base !== 'string' || base.length === 0) {
    throw winnowError('CONFIG_INVALID', `${join(dir, 'adapter_config.json')} names no base_model_name_or_path: pass the base model's folder and { adapter: '${dir}' }`);
  }
  // peft's revision is the base model's (AutoPeftModel loads the base at it); it applies to hub ids only.
  const revision = typeof config.revision === 'string' && config.revision !== '' && !existsSync(base) ? config.revision : undefined;
  const resolved = resolveModelDir(base, revision);
  if (!existsSync(resolved)) {
    throw winnowError('MODEL_NOT_FOUND', `the adapter ${dir} is for ${base}, which is neither a folder nor a hub id in the local Hugging Face cache: pass the base model's folder and { adapter: '${dir}' }`);
  }
  return { dir: resolved, adapter: dir };
}

function quantizeOption(q: unknown): 'int8' | undefined {
  if (q === undefined || q === false) return undefined;
  if (q !== 'int8') throw invalidArgument("'int8' or false", 'quantize', q);
  return q;
}

function dtypeOption(d: unknown, quantize: unknown): 'fp32' | 'bf16' | undefined {
  const dtype = v.oneOf(d, 'dtype', ['fp32', 'bf16'] as const);
  // Both would claim the same linear layers.
  if (dtype === 'bf16' && quantizeOption(quantize) === 'int8')
    throw invalidArgument("'fp32' or no dtype with quantize: 'int8'", 'dtype', d);
  return dtype;
}

/** Validates the shared options; `ortLibrary` is filled in by the caller just before loading. */
export function transformerLoadOptions(dir: unknown, o: TransformerLoadOptions): { native: NativeModelOptions; concurrency: number } {
  const where = modelAndAdapter(resolveModelDir(v.directory(dir), v.str(o.revision, 'revision')),
    o.adapter === undefined ? undefined : v.directory(o.adapter, 'adapter'));
  const batchAcrossCalls = v.bool(o.batchAcrossCalls, 'batchAcrossCalls') ?? true;
  return {
    native: {
      dir: where.dir,
      ortLibrary: '',
      maxLength: v.positiveInt(o.maxLength, 'maxLength', 1 << 20),
      batchSize: v.positiveInt(o.batchSize, 'batchSize', 1 << 16),
      tokenBudget: v.positiveInt(o.tokenBudget, 'tokenBudget'),
      threads: threadCount(o.threads),
      device: v.device(o.device),
      file: v.str(o.file, 'file'),
      source: v.oneOf(o.source, 'source', ['auto', 'onnx', 'checkpoint'] as const),
      adapter: where.adapter,
      gpuMemLimit: v.positiveInt(o.gpuMemLimit, 'gpuMemLimit'),
      allowTf32: v.bool(o.allowTf32, 'allowTf32'),
      fuseLayerNorm: v.bool(o.fuseLayerNorm, 'fuseLayerNorm'),
      lengthBuckets: v.bool(o.lengthBuckets, 'lengthBuckets'),
      fuseAttention: v.bool(o.fuseAttention, 'fuseAttention'),
      quantize: quantizeOption(o.quantize),
      dtype: dtypeOption(o.dtype, o.quantize),
      kernels: v.oneOf(o.kernels, 'kernels', ['winnow', 'onnxruntime'] as const),
      prepackWeights: v.bool(o.prepackWeights, 'prepackWeights'),
      mecabDictionary: v.mecabDictionary(o.mecabDictionary),
      batchAcrossCalls,
    },
    concurrency: v.positiveInt(o.concurrency, 'concurrency', 64) ?? (batchAcrossCalls ? 64 : 1),
  };
}
