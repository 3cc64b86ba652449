/**
 * sentence-transformers' similarity functions (`SentenceTransformer.similarity` / `similarity_pairwise`,
 * `util.cos_sim`, `dot_score`, `euclidean_sim`, `manhattan_sim` and their pairwise forms), on Winnow's
 * embeddings, in native SIMD code (native/core/pooling): dot products as float32 register chains (the lanes
 * summed in float64), norms and distances in float64; one thread per core on large calls.
 */
import { getHeapStatistics } from 'node:v8';
import { Embeddings } from './embeddings';
import { SIMILARITY_FUNCTIONS } from './types';
import type { EmbeddingArray, SimilarityFunction } from './types';
import { invalidArgument, invalidArgumentText } from './errors';
import { binding } from './native';
import { threadCount } from './model-options';
import { CallOptions, CallQueue } from './queue';
import { abortSignal, arrayLength, func, MAX_RESULT_VALUES, optionsObject, positiveInt } from './validate';


/** One vector (a typed array or an array of numbers), an array of vectors, or an Embeddings matrix of one value per dimension. */
export type EmbeddingsLike = Embeddings<EmbeddingArray> | EmbeddingArray | readonly number[] | readonly ArrayLike<number>[];


/** A matrix argument: its rows as one float32 buffer (read in place when it already is one), count and width. */
interface Matrix {
  data: Float32Array;
  rows: number;
  dim: number;
}

/** A typed array of numbers (not a DataView, not BigInt64Array / BigUint64Array, whose values are bigints). */
function isNumberView(value: unknown): value is ArrayLike<number> {
  return ArrayBuffer.isView(value) && !(value instanceof DataView) && !(value instanceof BigInt64Array) && !(value instanceof BigUint64Array);
}

/** Whether every element of an array is a number, read by index (a hole is not one), stopping at the first that is not. */
function allNumbers(value: readonly unknown[], option: string): boolean {
  const n = arrayLength(value, 'numbers', option);
  for (let i = 0; i < n; i++) if (typeof value[i] !== 'number') return false;
  return true;
}

function matrixOf(value: unknown, option: string): Matrix {
  if (value instanceof Embeddings) {
    // Packed bits are 8 dimensions per byte: their bytes read as values would give a number without meaning.
    // int8 / uint8 rows hold one value per dimension and are read as those values.
    if (value.precision === 'binary' || value.precision === 'ubinary') {
      throw invalidArgumentText(
        `Expected embeddings with one value per dimension for ${option} but received Embeddings of precision '${value.precision}' (8 dimensions packed per byte: compare them by Hamming distance, or compare the float32 embeddings)`,
      );
    }
    const data = value.data instanceof Float32Array ? value.data : Float32Array.from(value.data);
    return { data, rows: value.rows, dim: value.dim };
  }
  if (isNumberView(value)) {
    return { data: value instanceof Float32Array ? value : Float32Array.from(value), rows: 1, dim: value.length };
  }
  if (!Array.isArray(value)) throw invalidArgument('an Embeddings, a typed array (one vector) or an array of vectors', option, value);
  // Every element is checked, by index, before anything is sized from the array's length: a sparse array or a
  // Proxy can report billions, and a hole is refused like any other non-vector.
  const count = arrayLength(value, 'vectors', option);
  // An array of numbers is one vector (as sentence-transformers' cos_sim takes a 1-D list).
  if (count > 0 && typeof value[0] === 'number') {
    for (let i = 1; i < count; i++) if (typeof value[i] !== 'number') throw invalidArgument('a number', `${option}[${i}]`, value[i]);
    return { data: Float32Array.from(value as number[]), rows: 1, dim: count };
  }
  const rows: ArrayLike<number>[] = [];
  let dim = 0;
  for (let i = 0; i < count; i++) {
    const r: unknown = value[i];
    if (!(isNumberView(r) || (Array.isArray(r) && allNumbers(r, `${option}[${i}]`)))) throw invalidArgument('a vector (typed array or array of numbers)', `${option}[${i}]`, r);
    if (i === 0) dim = r.length;
    else if (r.length !== dim) throw invalidArgument(`a vector of ${dim} values (the length of the first)`, `${option}[${i}]`, r, 'range');
    rows.push(r);
  }
  const data = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => data.set(r, i * dim));
  return { data, rows: rows.length, dim };
}

/**
 * The most scores one `similarity` call returns: one Float32Array holds them all (16 GiB of float32). Beyond it,
 * semanticSearch keeps only the top k per query, a chunk at a time.
 */
const MAX_SIMILARITY_SCORES = MAX_RESULT_VALUES;

/** Bytes of JavaScript heap one semanticSearch hit ({ index, score } in its array) takes. */
const HIT_BYTES = 64;

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(bytes < 10 * 2 ** 30 ? 2 : 0)} GiB`;
}

/**
 * The result of a similarity call, allocated here before any work: refused (RangeError INVALID_ARGUMENT) above
 * MAX_SIMILARITY_SCORES, and when the allocation itself fails (JavaScript's allocation throws where the
 * addon's would end the process).
 */
function resultArray(n: number, m: number, pairwise: boolean): Float32Array {
  const size = pairwise ? n : n * m;
  const what = pairwise ? `${n} scores` : `${n} × ${m} = ${size} scores`;
  const advice = 'compare fewer rows per call, or use semanticSearch (the top k per query, a chunk of the corpus at a time) for large corpora';
  if (size > MAX_SIMILARITY_SCORES) {
    throw invalidArgumentText(`The result would hold ${what} (${gib(size * 4)} of float32), more than the ${MAX_SIMILARITY_SCORES} one call returns: ${advice}`, 'range');
  }
  try {
    return new Float32Array(size);
  } catch {
    throw invalidArgumentText(`The result would hold ${what} (${gib(size * 4)} of float32), more memory than could be allocated: ${advice}`, 'range');
  }
}

/** Options of `similarity` and `similarityPairwise`. */
export interface SimilarityOptions {
  /**
   * Native threads that share a large call (from about 4 M multiply-adds and 512 rows of `b`, or pairs), in
   * slices of `b`'s rows. Default: one per core. The call stays synchronous; results do not depend on it.
   */
  threads?: number;
}

function run(a: unknown, b: unknown, fn: unknown, pairwise: boolean, options: unknown): { out: Float32Array; n: number; m: number } {
  const f = checkFn(fn);
  const o = optionsObject<SimilarityOptions>(options, 'similarity options', ['threads']);
  const threads = threadCount(o.threads) ?? 0;
  const x = matrixOf(a, 'a');
  const y = matrixOf(b, 'b');
  if (pairwise && x.rows !== y.rows) throw invalidArgument(`${x.rows} vectors (as many as a)`, 'b', b, 'range');
  if (x.rows > 0 && y.rows > 0 && x.dim !== y.dim) {
    throw invalidArgument(`vectors of ${x.dim} values (the length of a's)`, 'b', b, 'range');
  }
  const out = resultArray(x.rows, y.rows, pairwise);
  // Native SIMD kernels, writing into `out`; the calling thread waits for the pool's.
  binding().similarity(x.data, x.rows, y.data, y.rows, x.rows > 0 ? x.dim : y.dim, SIMILARITY_FUNCTIONS.indexOf(f), pairwise, threads, out);
  return { out, n: x.rows, m: y.rows };
}

function checkFn(fn: unknown): SimilarityFunction {
  if (!SIMILARITY_FUNCTIONS.includes(fn as SimilarityFunction)) throw invalidArgument(`one of ${SIMILARITY_FUNCTIONS.map((f) => `'${f}'`).join(', ')}`, 'fn', fn);
  return fn as SimilarityFunction;
}

/**
 * Every row of `a` against every row of `b`: result[i][j] (one Float32Array per row of `a`, views into one
 * buffer). Higher is more similar for every function: euclidean and manhattan are negated distances, as in
 * sentence-transformers. Default 'cosine'.
 */
export function similarity(a: EmbeddingsLike, b: EmbeddingsLike, fn: SimilarityFunction = 'cosine', options?: SimilarityOptions): Float32Array[] {
  const { out, n, m } = run(a, b, fn, false, options);
  return Array.from({ length: n }, (_, i) => out.subarray(i * m, (i + 1) * m));
}

/** Row i of `a` against row i of `b` (same number of rows). Default 'cosine'. */
export function similarityPairwise(a: EmbeddingsLike, b: EmbeddingsLike, fn: SimilarityFunction = 'cosine', options?: SimilarityOptions): Float32Array {
  return run(a, b, fn, true, options).out;
}

/** One hit of `semanticSearch`: the corpus row and its score. */
export interface SearchHit {
  /** Row of the corpus (sentence-transformers' `corpus_id`). */
  index: number;
  score: number;
}

export interface SemanticSearchOptions extends CallOptions {
  /** Hits per query, best first. Default 10 (fewer when the corpus is smaller). */
  topK?: number;
  /** Default 'cosine' (sentence-transformers' `score_function=cos_sim`). */
  fn?: SimilarityFunction;
  /** Corpus rows between progress reports and `signal` checks. Default 100,000. (Scores are kept about 64K at a time per thread whatever it is.) */
  corpusChunkSize?: number;
  /** Native threads that share each chunk (slices of at least 256 rows). Default: one per core. Results do not depend on it. */
  threads?: number;
}

// semanticSearch calls belong to no model: they run side by side, each on a native worker thread.
const searches = new CallQueue(Number.MAX_SAFE_INTEGER);

/**
 * sentence-transformers' `util.semantic_search`: for each query row, the `topK` corpus rows with the highest
 * `fn` scores, best first (equal scores: lower index first). Runs off the event loop, in native code (the
 * `similarity` kernels and a heap per query), a chunk of the corpus at a time; `signal` and `onProgress`
 * (corpus rows done) as for every long call. The arrays must not change until the promise settles.
 */
export async function semanticSearch(queries: EmbeddingsLike, corpus: EmbeddingsLike, options?: SemanticSearchOptions): Promise<SearchHit[][]> {
  const o = optionsObject<SemanticSearchOptions>(options, 'semanticSearch options', ['topK', 'fn', 'corpusChunkSize', 'threads', 'signal', 'onProgress']);
  const topK = positiveInt(o.topK, 'topK') ?? 10;
  const chunk = positiveInt(o.corpusChunkSize, 'corpusChunkSize') ?? 100_000;
  const threads = threadCount(o.threads) ?? 0;
  const f = checkFn(o.fn ?? 'cosine');
  const call: CallOptions = { signal: abortSignal(o.signal, 'signal'), onProgress: func(o.onProgress, 'onProgress') as CallOptions['onProgress'] };
  const q = matrixOf(queries, 'queries');
  const c = matrixOf(corpus, 'corpus');
  if (q.rows > 0 && c.rows > 0 && q.dim !== c.dim) throw invalidArgument(`vectors of ${q.dim} values (the length of the queries')`, 'corpus', corpus, 'range');
  const dim = q.rows > 0 ? q.dim : c.dim;
  // The hits come back as one { index, score } object each: refuse, before any work, a result the heap cannot hold.
  const hits = q.rows * Math.min(topK, c.rows);
  const heap = getHeapStatistics().heap_size_limit;
  if (hits * HIT_BYTES > heap || hits > MAX_SIMILARITY_SCORES) {
    throw invalidArgumentText(
      `The result would hold ${q.rows} × ${Math.min(topK, c.rows)} = ${hits} hits (about ${gib(hits * HIT_BYTES)} of JavaScript objects), more than this process's heap limit of ${gib(heap)}: search fewer queries per call, or lower topK`,
      'range',
    );
  }
  const r: { index: Int32Array; score: Float32Array } = await searches.run(
    (native) => binding().semanticSearch(q.data, q.rows, c.data, c.rows, dim, SIMILARITY_FUNCTIONS.indexOf(f), topK, chunk, threads, native),
    call,
  );
  const k = Math.min(topK, c.rows);
  return Array.from({ length: q.rows }, (_, i) => Array.from({ length: k }, (_, j) => ({ index: r.index[i * k + j], score: r.score[i * k + j] })));
}
