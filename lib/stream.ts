/**
 * Streaming over the batch calls: items from an iterable or async iterable are taken `chunkSize` at a time, each
 * chunk is one library call, and results come out one per item in input order. The next chunk is read and started
 * while the current one's results are consumed, so at most two chunks are held at once whatever the input's size.
 */
import { invalidArgument } from './errors';
import * as v from './validate';

export const DEFAULT_STREAM_CHUNK = 1024;
const MAX_STREAM_CHUNK = 1 << 20;

export interface StreamOptions {
  /** Items per library call. Default 1024. */
  chunkSize?: number;
  /** Stops the stream: the running chunk is aborted and the generator throws ABORTED. */
  signal?: AbortSignal;
}

export function streamChunkSize(value: unknown): number {
  return v.positiveInt(value, 'chunkSize', MAX_STREAM_CHUNK) ?? DEFAULT_STREAM_CHUNK;
}

function iteratorOf<T>(source: Iterable<T> | AsyncIterable<T>): Iterator<T> | AsyncIterator<T> {
  if (source != null && typeof (source as AsyncIterable<T>)[Symbol.asyncIterator] === 'function') {
    return (source as AsyncIterable<T>)[Symbol.asyncIterator]();
  }
  if (source != null && typeof (source as Iterable<T>)[Symbol.iterator] === 'function' && typeof source !== 'string') {
    return (source as Iterable<T>)[Symbol.iterator]();
  }
  throw invalidArgument('an iterable or async iterable', 'input', source);
}

/**
 * Runs `run` over consecutive chunks of `source` and yields `split(result, chunk)`'s items in order. `run` receives
 * the chunk and the stream's own AbortSignal (aborted with the caller's `signal`, and when the consumer stops early,
 * so that the chunk read ahead does not run on, keeping the model busy).
 */
export async function* streamChunks<T, R, O>(
  source: Iterable<T> | AsyncIterable<T>,
  chunkSize: number,
  signal: AbortSignal | undefined,
  run: (chunk: T[], signal: AbortSignal | undefined) => Promise<R>,
  split: (result: R, chunk: T[]) => Iterable<O>,
): AsyncGenerator<O> {
  const it = iteratorOf(source);
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  if (signal?.aborted) stop.abort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  let done = false;
  const read = async (): Promise<T[]> => {
    const chunk: T[] = [];
    while (!done && chunk.length < chunkSize) {
      const r = await it.next();
      if (r.done) done = true;
      else chunk.push(r.value);
    }
    return chunk;
  };
  const start = (chunk: T[]) => {
    const p = chunk.length > 0 ? run(chunk, stop.signal) : Promise.resolve(undefined as R);
    p.catch(() => {}); // awaited below; a failure must not surface as an unhandled rejection meanwhile
    return { chunk, p };
  };
  let current = start(await read());
  let next: typeof current | undefined;
  try {
    while (current.chunk.length > 0) {
      next = done ? start([]) : start(await read());
      const result = await current.p;
      yield* split(result, current.chunk);
      current = next;
      next = undefined;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (current.chunk.length > 0 || next) {
      // Stopped early (break, or an error): the chunks still running are aborted and waited for, so the model is
      // idle again when the loop has left.
      stop.abort();
      await Promise.allSettled([current.p, next?.p]);
    }
    if (!done) await (it as AsyncIterator<T>).return?.();
  }
}
