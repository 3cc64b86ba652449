// Per-request timings TEI reports (te_request_queue_duration, _tokenization_duration, _inference_duration): the
// seconds a request's model calls waited in their model's call queue, ran, and the seconds the server tokenized.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AnyModel } from './models';

/** What one request spent, in seconds; `calls` model calls and `tokenizations` tokenizer calls of its own. */
export class RequestTiming {
  queue = 0;
  inference = 0;
  tokenization = 0;
  calls = 0;
  tokenizations = 0;

  /** Runs the server's own tokenization (`/tokenize`, `max_tokens_per_doc`, length checks, usage), timed. */
  async tokenize<T>(work: () => Promise<T>): Promise<T> {
    const started = process.hrtime.bigint();
    try {
      return await work();
    } finally {
      this.tokenization += seconds(started);
      this.tokenizations++;
    }
  }
}

const current = new AsyncLocalStorage<RequestTiming>();

/** Runs `work` with `timing` collecting the model calls it makes. */
export function withTiming<T>(timing: RequestTiming, work: () => Promise<T>): Promise<T> {
  return current.run(timing, work);
}

type Start = (native: unknown) => Promise<unknown>;
type QueueRun = (start: Start, ...rest: unknown[]) => Promise<unknown>;
const timed = new WeakSet<object>();

/**
 * Times the calls made on `model` for the request they run for. The library does not report when a call leaves its
 * model's queue, but its queue runs a call by invoking the start function it was given: that moment splits the wait
 * from the run. Idempotent; calls made outside a request are not timed.
 */
export function timeCalls(model: AnyModel): void {
  const queue = (model as unknown as { queue?: { run?: QueueRun } }).queue;
  if (!queue || typeof queue.run !== 'function' || timed.has(queue)) return;
  timed.add(queue);
  const run = queue.run.bind(queue);
  queue.run = (start, ...rest) => {
    const timing = current.getStore();
    if (!timing) return run(start, ...rest);
    const entered = process.hrtime.bigint();
    return run((native) => {
      const started = process.hrtime.bigint();
      timing.queue += Number(started - entered) / 1e9;
      timing.calls++;
      return start(native).finally(() => {
        timing.inference += seconds(started);
      });
    }, ...rest);
  };
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}
