import { invalidArgument } from './errors';
import type { EmbeddingArray, Precision, PrecisionOf } from './types';


/**
 * A row-major matrix of embeddings in one contiguous typed array: `rows × dim` values.
 * `row(i)` is a view (no copy).
 */
export class Embeddings<T extends EmbeddingArray = Float32Array, P extends Precision = PrecisionOf<T>> {
  /** How `data` stores the embeddings ('binary' / 'ubinary': 8 dimensions per byte). */
  readonly precision: P;

  constructor(
    /** All rows, back to back. */
    readonly data: T,
    readonly rows: number,
    /** Values per row (for 'binary' / 'ubinary' precision: bytes per row, dimensions / 8). */
    readonly dim: number,
    /** Default: what the array type says (Float32Array 'float32', Int8Array 'int8', Uint8Array 'uint8'). */
    precision?: P & PrecisionOf<T>,
  ) {
    if (!(data instanceof Float32Array || data instanceof Int8Array || data instanceof Uint8Array))
      throw invalidArgument('a Float32Array, Int8Array or Uint8Array', 'data', data);
    if (!Number.isInteger(rows) || rows < 0) throw invalidArgument('a non-negative integer', 'rows', rows, 'range');
    if (!Number.isInteger(dim) || dim < 0) throw invalidArgument('a non-negative integer', 'dim', dim, 'range');
    if (data.length !== rows * dim) throw invalidArgument(`${rows} × ${dim} = ${rows * dim} values`, 'data', data, 'range');
    const natural: Precision = data instanceof Float32Array ? 'float32' : data instanceof Int8Array ? 'int8' : 'uint8';
    const fits: Record<Precision, boolean> = {
      float32: natural === 'float32',
      int8: natural === 'int8',
      uint8: natural === 'uint8',
      binary: natural === 'int8',
      ubinary: natural === 'uint8',
    };
    if (precision !== undefined && !fits[precision]) throw invalidArgument(`the precision of a ${data.constructor.name}`, 'precision', precision);
    this.precision = (precision ?? natural) as P;
  }

  /** Row `i` as a view into `data`. */
  row(i: number): T {
    if (typeof i !== 'number' || !Number.isInteger(i)) throw invalidArgument('an integer row index', 'i', i);
    if (i < 0 || i >= this.rows) throw invalidArgument(`a row index from 0 to ${this.rows - 1}`, 'i', i, 'range');
    return this.data.subarray(i * this.dim, (i + 1) * this.dim) as T;
  }

  /** Rows as separate views. */
  toArray(): T[] {
    return Array.from({ length: this.rows }, (_, i) => this.row(i));
  }

  /** Rows as plain arrays of numbers (for JSON, or APIs that take number[][]). */
  toArrays(): number[][] {
    return Array.from({ length: this.rows }, (_, i) => Array.from(this.row(i)));
  }

  /** `JSON.stringify(embeddings)` gives the rows as arrays of numbers. */
  toJSON(): number[][] {
    return this.toArrays();
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this.toArray()[Symbol.iterator]();
  }
}
