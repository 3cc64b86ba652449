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
 * the chunk and its own AbortSignal.
 */
export async function* streamChunks<T, R, O>(
  source: Iterable<T> | AsyncIterable<T>,
  chunkSize: number,
  signal: AbortSignal | undefined,
  run: (chunk: T[], signal: AbortSignal | undefined) => Promise<R>,
  split: (result: R, chunk: T[]) => Iterable<O>,
): AsyncGenerator<O> {
  const it = iteratorOf(source);
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
    const p = chunk.length > 0 ? run(chunk, signal) : Promise.resolve(undefined as R);
    p.catch(() => {}); // awaited below; a failure must not surface as an unhandled rejection meanwhile
    return { chunk, p };
  };
  let current = start(await read());
  try {
    while (current.chunk.length > 0) {
      const next = done ? start([]) : start(await read());
      const result = await current.p;
      yield* split(result, current.chunk);
      current = next;
    }
  } finally {
    if (!done) await (it as AsyncIterator<T>).return?.();
  }
}
