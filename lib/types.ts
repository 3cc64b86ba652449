/**
 * Types shared by the public classes and the native binding. Imports nothing, so any module can import it.
 */

/** How a cross-encoder's logits become scores. */
export type Activation = 'sigmoid' | 'softmax' | 'none';
/** Where a model runs: the CPU, the first or a numbered CUDA device, or CUDA when available. */
export type Device = 'cpu' | 'cuda' | 'auto' | `cuda:${number}`;

/** Typed arrays an embedding matrix can be stored in (float32, or quantised int8 / uint8 / packed bits). */
export type EmbeddingArray = Float32Array | Int8Array | Uint8Array;

export const PRECISIONS = ['float32', 'int8', 'uint8', 'binary', 'ubinary'] as const;

/** How the values are stored: float32, quantised per dimension (int8 / uint8), or packed sign bits (binary / ubinary). */
export type Precision = (typeof PRECISIONS)[number];

/** The precisions an array type can hold: Float32Array 'float32', Int8Array 'int8' / 'binary', Uint8Array 'uint8' / 'ubinary'. */
export type PrecisionOf<T extends EmbeddingArray> = T extends Float32Array
  ? 'float32'
  : T extends Int8Array
    ? 'int8' | 'binary'
    : T extends Uint8Array
      ? 'uint8' | 'ubinary'
      : Precision;


/** The values of `similarity_fn_name` in config_sentence_transformers.json. */
export type SimilarityFunction = 'cosine' | 'dot' | 'euclidean' | 'manhattan';
export const SIMILARITY_FUNCTIONS: readonly SimilarityFunction[] = ['cosine', 'dot', 'euclidean', 'manhattan'];

/** Progress of a long call: items done out of total. */
export interface Progress {
  done: number;
  total: number;
}

/** Which SIMD kernels Winnow's own code runs (pooling, static embeddings, layer norm): the best the CPU has, capped by WINNOW_SIMD. */
export type SimdLevel = 'avx512' | 'avx2' | 'neon' | 'scalar';

/** A tokenizer's output for one text or pair. */
export interface Encoding {
  ids: Int32Array;
  typeIds: Int32Array;
  attentionMask: Uint8Array;
  specialTokensMask: Uint8Array;
  /** [start, end) pairs in UTF-16 code units of the text each token came from; (0, 0) for added special tokens. */
  offsets: Uint32Array;
  /** 0 for the first text, 1 for the pair, null for special tokens. */
  sequenceIds: (0 | 1 | null)[];
  // The typed arrays of one encode / encodeBatch call are views into one shared ArrayBuffer
  // (`ids.buffer` is that buffer); `.slice()` one to keep it on its own.
  /** Windows cut off by truncation (with returnOverflowing). */
  overflowing?: Encoding[];
}

export interface EncodeOptions {
  /** Add the post-processor's special tokens ([CLS], [SEP], <s>, ...). Default true. */
  addSpecialTokens?: boolean;
  /** Truncate to this many tokens (special tokens included). Default: no truncation. */
  maxLength?: number;
  truncation?: 'longest_first' | 'only_first' | 'only_second';
  truncationSide?: 'left' | 'right';
  /** Overlap between overflowing windows, in tokens. */
  stride?: number;
  returnOverflowing?: boolean;
  /**
   * Pad (to padToLength, or in encodeBatch to the longest). Naming padToLength, padToMultipleOf or paddingSide
   * turns it on, as Hugging Face tokenizers' setPadding does; `false` with one of them is refused.
   */
  padding?: boolean;
  padToLength?: number;
  padToMultipleOf?: number;
  paddingSide?: 'left' | 'right';
}


/**
 * Load options that configure a transformer model's session, shared by the public classes and the native binding
 * (which receives them under the same names). Details: docs/api.md "Transformer load options".
 */
export interface SessionLoadOptions {
  /** Longest input in tokens, special tokens included. Default: the model's maximum. */
  maxLength?: number;
  /** Rows per inference batch at most. Default 32 on CPU, 128 on GPU. */
  batchSize?: number;
  /** Padded tokens per batch at most. Default 1024 on CPU; on GPU 32768, or batchSize × maxLength when batchSize is given and that is more. */
  tokenBudget?: number;
  /** Threads for ONNX Runtime and tokenization. Default: one per core. */
  threads?: number;
  /** Execution device. Default 'cpu'. */
  device?: Device;
  /** ONNX file inside the folder, e.g. 'model_quantized.onnx' (looked up in the folder, then in onnx/). */
  file?: string;
  /**
   * Where the graph comes from. 'auto' (default): the folder's ONNX file when it has one, else a graph built at load
   * from its checkpoint (config.json + model.safetensors, sharded safetensors or pytorch_model.bin). 'onnx' /
   * 'checkpoint': only that one.
   */
  source?: 'auto' | 'onnx' | 'checkpoint';
  /**
   * A peft LoRA adapter (a folder with adapter_config.json, or a hub id in the local cache) merged into the
   * checkpoint's weights at load. Implies building from the checkpoint.
   */
  adapter?: string;
  /** CUDA arena limit in bytes. */
  gpuMemLimit?: number;
  /** CUDA: allow TF32 matmuls for fp32 models (faster; scores drift about 1e-3 from the CPU). Default false. */
  allowTf32?: boolean;
  /**
   * Fuse each residual Add + layer norm when loading: on the CPU into Winnow's own operator, which gives the file's
   * very floats, faster. Default (unset): CPU sessions. `true`: every device (int8 scores may move where ONNX
   * Runtime's SkipLayerNormalization is used). `false`: load the file as written.
   */
  fuseLayerNorm?: boolean;
  /** Pad each batch to a bucketed length so the device sees few shapes. Default (unset): on a GPU only. */
  lengthBuckets?: boolean;
  /**
   * Rewrite each BERT-style self-attention block at load into one ONNX Runtime attention op, kept only if it
   * reproduces the file on a probe batch. Default (unset): float graphs on the CPU with blocks narrower than 768.
   * `true`: any width, every device, int8 graphs too. `false`: never.
   */
  fuseAttention?: boolean;
  /**
   * `'int8'`: CPU sessions run every linear layer of the encoder as int8 (weights quantized per output column at
   * load, activations per tensor at run time); the embeddings and the task head stay float32. A file already
   * quantized (model_quantized.onnx) is loaded as it is. Default (unset) or `false`: the graph's own precision.
   */
  quantize?: 'int8' | false;
  /**
   * `'bf16'`: CPU sessions run every linear layer of the encoder through Winnow's bf16 matrix product (weights
   * rounded to bfloat16 once at load, activations per block at run time, sums in float32; AMX-BF16 or AVX512-BF16);
   * the embeddings and the task head stay float32. A CPU with neither fails the load with `BF16_UNAVAILABLE`. Not
   * with `quantize: 'int8'`. Ignored on CUDA, as `quantize` is. Default (unset) or `'fp32'`: the graph's own precision.
   */
  dtype?: 'fp32' | 'bf16';
  /**
   * Graphs Winnow builds from a checkpoint, CPU sessions: `'winnow'` (the default) writes them with Winnow's own
   * fused CPU operators where it has them (com.winnow domain; never in a saved graph); `'onnxruntime'` writes only
   * standard and ONNX Runtime operators, as an exported file has. ONNX files are loaded as written either way.
   */
  kernels?: 'winnow' | 'onnxruntime';
  /**
   * CPU: let ONNX Runtime keep a packed copy of every weight matrix (the default, `true`). `false`: no copy, so
   * processes that load the same file share its weights, for somewhat fewer pairs/s. No effect on CUDA.
   */
  prepackWeights?: boolean;
  /**
   * A compiled MeCab dictionary folder (holding sys.dic) for a model whose tokenizer is a BertJapaneseTokenizer
   * with MeCab words. Default: WINNOW_MECAB_DICDIR, then the dictionary the model names, looked for where Python
   * packages and Debian put them (docs/api.md "Tokenizer.load").
   */
  mecabDictionary?: string;
}
