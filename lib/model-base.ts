/**
 * What every model class shares: the native model, its call queue, `dispose()` and the DISPOSED check; and for the
 * transformer classes, the session's properties and `counters()` with batch statistics.
 */
import type { NativeBatchStats, NativeCallOptions, NativeSessionInfo } from './binding';
import * as v from './validate';
import { invalidArgument, invalidArgumentText, noConstructor, winnowError } from './errors';
import { CallOptions, CallQueue, Counters, ModelCounters, modelCounters, refuseWhenBusy, withCallerStack } from './queue';

interface NativeModel {
  dispose(): void;
}

export abstract class Model<N extends NativeModel> {
  protected native: N | undefined;
  protected readonly queue: CallQueue;
  readonly #className: string;  // names the class in errors ("this CrossEncoder has been disposed")

  protected constructor(native: N, concurrency: number, className: string) {
    noConstructor(native, className, `${className}.load(dir)`);
    this.native = native;
    this.queue = new CallQueue(concurrency);
    this.#className = className;
  }

  /** Calls waiting and running on this model. */
  counters(): Counters {
    return this.queue.counters();
  }

  /** Frees the model. Refused (MODEL_BUSY) while calls are queued or running. */
  dispose(): void {
    if (!this.native) return;
    refuseWhenBusy(this.queue, `the ${this.#className}`);
    this.native.dispose();
    this.native = undefined;
  }

  /** The native model for a new call; DISPOSED after dispose(). */
  protected alive(): N {
    if (!this.native) throw winnowError('DISPOSED', `this ${this.#className} has been disposed`);
    return this.native;
  }
}

interface NativeTransformer extends NativeModel {
  info(): NativeSessionInfo;
  countTokens(texts: string[], opts?: NativeCallOptions): Promise<Uint32Array>;
  saveOnnx(path: string): Promise<void>;
  batchStats(): NativeBatchStats;
}

/** CrossEncoder, SentenceEncoder and PruningEncoder: a model run by an ONNX Runtime session. */
export abstract class TransformerModel<N extends NativeTransformer> extends Model<N> {
  /** Effective maximum input length in tokens, special tokens included. */
  readonly maxLength: number;
  /** Device the model runs on ('cpu' or 'cuda:N'). */
  readonly device: string;
  /** The file the graph was made from: the ONNX file loaded, or the checkpoint a graph was built from. */
  readonly file: string;
  /**
   * What the graph was made from, relative to the model folder ('onnx/model.onnx', 'model.safetensors',
   * 'pytorch_model.bin', 'model.safetensors.index.json'), and whether Winnow built it from that checkpoint.
   */
  readonly source: { file: string; built: boolean };
  /** Residual Add + layer norm pairs fused at load (see the `fuseLayerNorm` option). */
  readonly fusedLayerNorms: number;
  /** Self-attention blocks fused into one ONNX Runtime attention op each at load (see the `fuseAttention` option). */
  readonly fusedAttentions: number;
  /** Linear layers running as int8 (see the `quantize` option; 0 without it, or for a file quantized already). */
  readonly quantizedMatMuls: number;
  /** Linear layers running as bf16 (see the `dtype` option; 0 without it, on CUDA, or for a file quantized already). */
  readonly bf16MatMuls: number;
  /**
   * Self-attention blocks whose two products run in bf16 (Winnow's `Attention` in a graph built from a checkpoint,
   * with `dtype: 'bf16'` or `quantize: 'int8'` on a CPU with bf16 instructions; 0 otherwise).
   */
  readonly bf16Attentions: number;

  protected constructor(native: N, concurrency: number, className: string) {
    super(native, concurrency, className);
    const info = native.info();
    this.maxLength = info.maxLength;
    this.device = info.device;
    this.file = info.onnxPath;
    this.source = Object.freeze({ file: info.source, built: info.built });
    this.fusedLayerNorms = info.fusedLayerNorms;
    this.fusedAttentions = info.fusedAttentions;
    this.quantizedMatMuls = info.quantizedMatMuls;
    this.bf16MatMuls = info.bf16MatMuls;
    this.bf16Attentions = info.bf16Attentions;
  }

  /**
   * Writes the graph Winnow built from the checkpoint to `path` as one ONNX file, every weight inside it (to inspect
   * it, or run it elsewhere). INVALID_ARGUMENT for a model loaded from an ONNX file (that file is the graph).
   */
  async saveOnnx(path: string): Promise<void> {
    const caller = new Error();
    if (typeof path !== 'string' || path.length === 0) throw invalidArgument('a file path', 'path', path);
    const native = this.alive();
    const info = native.info();
    if (!info.built) {
      throw withCallerStack(invalidArgumentText(`this model runs the ONNX file ${info.onnxPath}, not a graph built from a checkpoint: that file is the graph`, 'type'), caller);
    }
    try {
      await native.saveOnnx(path);
    } catch (e) {
      throw withCallerStack(e, caller);
    }
  }

  /**
   * Tokens in each text as this model's tokenizer splits it, special tokens not counted and nothing truncated (to
   * compare with maxLength). One text gives one count.
   */
  countTokens(texts: readonly string[], options?: { signal?: AbortSignal }): Promise<Uint32Array>;
  countTokens(text: string, options?: { signal?: AbortSignal }): Promise<number>;
  async countTokens(texts: readonly string[] | string, options?: { signal?: AbortSignal }): Promise<Uint32Array | number> {
    const o = v.optionsObject<CallOptions>(options, 'countTokens options', ['signal']);
    const list = typeof texts === 'string' ? [texts] : v.stringArray(texts, 'texts');
    const call: CallOptions = { signal: v.abortSignal(o.signal, 'signal') };
    const native = this.alive();
    const counts = await this.queue.run((n) => native.countTokens(list, n), call);
    return typeof texts === 'string' ? counts[0] : counts;
  }

  /** Calls waiting and running on this model, and what it has run since it loaded (batches, rows, padding, shapes). */
  override counters(): ModelCounters {
    return modelCounters(this.queue, this.native);
  }
}

/** Runs a native load; a failure carries the stack of `caller` (made where the user called load). */
export async function loadNative<T>(caller: Error, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (e) {
    throw withCallerStack(e, caller);
  }
}
