import { aborted } from './validate';
import { binding } from './native';
import type { NativeCallOptions } from './binding';
import type { Progress } from './types';
import { winnowError } from './errors';

export interface Counters {
  /** Calls waiting for a free slot. */
  queued: number;
  /** Calls running on native threads. */
  running: number;
}

/** counters() of CrossEncoder, SentenceEncoder and PruningEncoder: the call queue plus what has run. */
export interface ModelCounters extends Counters {
  /** Inference batches run since load (a batch split after an out-of-memory counts each part that ran). */
  batches: number;
  /** Rows (pairs, texts, pruning blocks) run. */
  rows: number;
  /** Real tokens run. */
  tokens: number;
  /** Rows × padded length summed over batches: what the device computed. tokens / paddedTokens is the padding efficiency. */
  paddedTokens: number;
  /** Distinct padded sequence lengths (tensor shapes) run, ascending; few with `lengthBuckets`. */
  sequenceLengths: number[];
  /** Batches that held rows of more than one call (`batchAcrossCalls`). */
  sharedBatches: number;
}

/** The counters of a transformer model: its queue plus the native batch statistics (zeros once disposed). */
export function modelCounters(queue: CallQueue, native: { batchStats(): ModelCountersNative } | undefined): ModelCounters {
  const stats = native?.batchStats() ?? { batches: 0, rows: 0, tokens: 0, paddedTokens: 0, sequenceLengths: [], sharedBatches: 0 };
  return { ...queue.counters(), ...stats };
}
type ModelCountersNative = Omit<ModelCounters, keyof Counters>;

export interface CallOptions {
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
}

/**
 * Per-model call queue: at most `concurrency` native calls run at once (one by default: a model
 * already uses every core it was given), the rest wait in order. Keeps libuv's pool free for the
 * rest of the process and makes back-pressure visible through counters().
 */
export class CallQueue {
  private running = 0;
  private waiting: Array<() => void> = [];
  constructor(public concurrency = 1) {}

  counters(): Counters {
    return { queued: this.waiting.length, running: this.running };
  }

  get busy(): boolean {
    return this.running > 0 || this.waiting.length > 0;
  }

  /**
   * Runs `start` when a slot is free; the caller's stack is attached to any rejection. An `onProgress` that throws
   * stops the native work (as an abort does) and the call rejects with what it threw, its own stack kept.
   */
  async run<T>(start: (native: NativeCallOptions) => Promise<T>, opts: CallOptions = {}): Promise<T> {
    const caller = new Error();
    const { signal } = opts;
    let progressFailure: { error: unknown } | undefined;
    try {
      if (signal?.aborted) throw aborted();
      if (this.running >= this.concurrency) {
        await new Promise<void>((resolve, reject) => {
          const go = () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          };
          const onAbort = () => {
            this.waiting = this.waiting.filter((w) => w !== go);
            reject(aborted());
          };
          this.waiting.push(go);
          signal?.addEventListener('abort', onAbort, { once: true });
        });
      }
      this.running++;
      try {
        const native: NativeCallOptions = {};
        const token = signal || opts.onProgress ? binding().newCancelToken() : undefined;
        if (token !== undefined) native.cancelToken = token;
        const userProgress = opts.onProgress;
        if (userProgress) {
          native.onProgress = (p) => {
            if (progressFailure) return;
            try {
              userProgress(p);
            } catch (e) {
              progressFailure = { error: e };
              binding().cancel(token);
            }
          };
        }
        let onAbort: (() => void) | undefined;
        if (signal) {
          onAbort = () => binding().cancel(token);
          signal.addEventListener('abort', onAbort, { once: true });
        }
        try {
          const result = await start(native);
          if (progressFailure) throw progressFailure.error;
          return result;
        } catch (e) {
          throw progressFailure ? progressFailure.error : e;
        } finally {
          if (onAbort) signal!.removeEventListener('abort', onAbort);
        }
      } finally {
        this.running--;
        const next = this.waiting.shift();
        if (next) next();
      }
    } catch (e) {
      if (progressFailure && e === progressFailure.error) throw e;
      // An aborted call keeps the signal's reason (AbortSignal.timeout()'s TimeoutError, abort(reason)) as its cause.
      if (signal?.aborted && e instanceof Error && (e as { code?: string }).code === 'ABORTED' && e.cause === undefined) {
        e.cause = signal.reason;
      }
      throw withCallerStack(e, caller);
    }
  }
}

/** Replaces a native error's stack (libuv frames) with the caller's own. */
export function withCallerStack(e: unknown, caller: Error): unknown {
  if (e instanceof Error && caller.stack) {
    const frames = caller.stack.split('\n').slice(1).join('\n');
    e.stack = `${e.name}: ${e.message}\n${frames}`;
  }
  return e;
}

export function refuseWhenBusy(queue: CallQueue, what: string): void {
  if (queue.busy) {
    const { queued, running } = queue.counters();
    throw winnowError('MODEL_BUSY', `cannot dispose ${what} while ${running} call(s) run and ${queued} wait; await them first`);
  }
}
