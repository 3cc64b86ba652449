/**
 * sentence-transformers' similarity functions (`SentenceTransformer.similarity` / `similarity_pairwise`,
 * `util.cos_sim`, `dot_score`, `euclidean_sim`, `manhattan_sim` and their pairwise forms), on Winnow's
 * embeddings, in native SIMD code (native/core/pooling): sums in float64, each result rounded once to float32.
 */
import { Embeddings, EmbeddingArray } from './embeddings';
import { invalidArgument } from './errors';
import { binding } from './native';

/** The values of `similarity_fn_name` in config_sentence_transformers.json. */
export type SimilarityFunction = 'cosine' | 'dot' | 'euclidean' | 'manhattan';
export const SIMILARITY_FUNCTIONS: readonly SimilarityFunction[] = ['cosine', 'dot', 'euclidean', 'manhattan'];

/** One vector, an array of vectors, or an Embeddings matrix. */
export type EmbeddingsLike = Embeddings<EmbeddingArray> | EmbeddingArray | readonly ArrayLike<number>[];

function rowsOf(value: unknown, option: string): ArrayLike<number>[] {
  const expected = 'an Embeddings, a typed array (one vector) or an array of vectors';
  let rows: ArrayLike<number>[];
  if (value instanceof Embeddings) rows = value.toArray();
  else if (ArrayBuffer.isView(value) && !(value instanceof DataView)) rows = [value as unknown as ArrayLike<number>];
  else if (Array.isArray(value)) rows = value as ArrayLike<number>[];
  else throw invalidArgument(expected, option, value);
  rows.forEach((r, i) => {
    const ok = ArrayBuffer.isView(r) ? !(r instanceof DataView) && !(r instanceof BigInt64Array) && !(r instanceof BigUint64Array) : Array.isArray(r) && r.every((x) => typeof x === 'number');
    if (!ok) throw invalidArgument('a vector (typed array or array of numbers)', `${option}[${i}]`, r);
  });
  return rows;
}

function sameDim(a: ArrayLike<number>[], b: ArrayLike<number>[]): number {
  const dim = a.length ? a[0].length : b.length ? b[0].length : 0;
  for (const [rows, option] of [[a, 'a'], [b, 'b']] as const) {
    rows.forEach((r, i) => {
      if (r.length !== dim) throw invalidArgument(`a vector of ${dim} values (the length of the first)`, `${option}[${i}]`, r, 'range');
    });
  }
  return dim;
}

/** The rows back to back in one Float32Array: an Embeddings' own float32 data or one vector as they are, else a copy. */
function packed(value: unknown, rows: ArrayLike<number>[], dim: number): Float32Array {
  if (value instanceof Embeddings && value.data instanceof Float32Array && value.dim === dim) return value.data;
  if (value instanceof Float32Array) return value;
  const out = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => out.set(r, i * dim));
  return out;
}

function run(a: unknown, b: unknown, fn: unknown, pairwise: boolean): { out: Float32Array; n: number; m: number } {
  const f = checkFn(fn);
  const ra = rowsOf(a, 'a');
  const rb = rowsOf(b, 'b');
  if (pairwise && ra.length !== rb.length) throw invalidArgument(`${ra.length} vectors (as many as a)`, 'b', b, 'range');
  const d = sameDim(ra, rb);
  // Native SIMD kernels (fp64 sums), on this thread.
  const out: Float32Array = binding().similarity(packed(a, ra, d), ra.length, packed(b, rb, d), rb.length, d, SIMILARITY_FUNCTIONS.indexOf(f), pairwise);
  return { out, n: ra.length, m: rb.length };
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
export function similarity(a: EmbeddingsLike, b: EmbeddingsLike, fn: SimilarityFunction = 'cosine'): Float32Array[] {
  const { out, n, m } = run(a, b, fn, false);
  return Array.from({ length: n }, (_, i) => out.subarray(i * m, (i + 1) * m));
}

/** Row i of `a` against row i of `b` (same number of rows). Default 'cosine'. */
export function similarityPairwise(a: EmbeddingsLike, b: EmbeddingsLike, fn: SimilarityFunction = 'cosine'): Float32Array {
  return run(a, b, fn, true).out;
}
