import * as os from 'node:os';
import type { NativeModelOptions } from './native';
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
export interface TransformerLoadOptions {
  /**
   * When the first argument of `load` is a hub id (`'org/name'`) rather than a folder: the branch, tag or commit of
   * the snapshot to take from the local Hugging Face cache. Default 'main'.
   */
  revision?: string;
  /** Longest input in tokens, special tokens included. Default: the model's maximum. */
  maxLength?: number;
  /** Rows per inference batch at most. Default 32 on CPU, 128 on GPU. */
  batchSize?: number;
  /** Padded tokens per batch at most. Default 1024 on CPU; on GPU 32768, or batchSize × maxLength when batchSize is given and that is more. */
  tokenBudget?: number;
  /** Threads for ONNX Runtime and tokenization. Default: one per core. */
  threads?: number;
  /** Execution device. Default 'cpu'. */
  device?: 'cpu' | 'cuda' | 'auto' | `cuda:${number}`;
  /** ONNX file inside the folder, e.g. 'model_quantized.onnx' (looked up in the folder, then in onnx/). */
  file?: string;
  /** Native calls allowed to run at once on this model. Default 1 (the rest queue). */
  concurrency?: number;
  /** CUDA arena limit in bytes. */
  gpuMemLimit?: number;
  /** CUDA: allow TF32 matmuls for fp32 models (faster; scores drift about 1e-3 from the CPU). Default false. */
  allowTf32?: boolean;
  /**
   * Fuse each residual Add + layer norm when loading. CPU sessions get Winnow's own operator, which does ONNX
   * Runtime's LayerNormalization arithmetic bit for bit but vectorized across rows (AVX-512 / AVX2 / SSE2 / NEON, chosen at
   * run time): the scores are the very floats of the file as written, int8 files included, and faster (MiniLM
   * int8 about 30 %). Float16 norms and CUDA sessions get ONNX Runtime's SkipLayerNormalization (float scores
   * within ~3e-6). Default (unset): CPU sessions (CUDA sessions load the file as written until the rewrite is
   * measured on a GPU). `true`: every device; where SkipLayerNormalization lands in an int8 graph, a norm output
   * 1e-7 off can round to another int8 step, so scores move (up to 3.5e-2 measured). `false`: load the file as
   * written. Nothing is fused when nothing matches or ONNX Runtime refuses the result (one tiny run at load checks
   * it).
   */
  fuseLayerNorm?: boolean;
  /**
   * Pad each batch to a bucketed length (a multiple of 16 up to 128 tokens, of 32 up to 256, of 64 beyond,
   * capped at the model's maximum) so the device sees few distinct shapes: ONNX Runtime's CUDA provider
   * then reuses its kernel choices and memory blocks from batch to batch. Default (unset): on a GPU only
   * (on the CPU the extra padding is pure cost). Scores do not depend on it beyond float rounding.
   */
  lengthBuckets?: boolean;
  /**
   * Rewrite each BERT-style self-attention block (heads split by Reshape + Transpose, Softmax(QKᵀ·scale +
   * padding mask)·V, heads merged) at load into ONNX Runtime's Attention op, with the Q, K, V weights packed into
   * one matrix (MultiHeadAttention when the projections cannot be packed), the padding given as each row's
   * length. Kept only if it gives the same outputs as the file as written on a padded probe batch at load
   * (otherwise `fusedAttentions` is 0). Unset: float graphs on the CPU, blocks narrower than 768 (about 5 % faster
   * for MiniLM- and e5-small-sized models, unchanged for base-sized ones; loading takes longer); CUDA sessions keep
   * the graph as written until measured on a GPU. `true`: any width, every device, and int8 graphs (on the CPU kept
   * only when bit-identical to the graph as written on the probe batch, but no faster; on CUDA only when
   * `fuseLayerNorm` is true too). `false`: never.
   */
  fuseAttention?: boolean;
  /**
   * CPU: let ONNX Runtime keep a packed copy of every weight matrix for its matrix kernels (the default, `true`).
   * `false`: no copy; the weights stay only in the model file, which is mapped, so every process that loads the
   * same file shares one copy in the page cache, and the matrices are packed on each call instead (measured
   * 5–7 % fewer pairs/s; memory of its own after load: bge-reranker-base shape 357 → 30 MiB, bge-reranker-v2-m3
   * shape 1,191 → 34 MiB). For services that run one model in several processes. No effect on CUDA.
   */
  prepackWeights?: boolean;
}

export const TRANSFORMER_LOAD_OPTIONS = [
  'maxLength', 'batchSize', 'tokenBudget', 'threads', 'device', 'file', 'concurrency', 'gpuMemLimit', 'allowTf32', 'fuseLayerNorm',
  'lengthBuckets', 'fuseAttention', 'prepackWeights', 'revision',
] as const;

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
    },
    concurrency: v.positiveInt(o.concurrency, 'concurrency', 64) ?? 1,
  };
}
