/** Typed arrays an embedding matrix can be stored in (float32, or quantised int8 / uint8 / packed bits). */
export type EmbeddingArray = Float32Array | Int8Array | Uint8Array;

/**
 * A row-major matrix of embeddings in one contiguous typed array: `rows × dim` values.
 * `row(i)` is a view (no copy).
 */
export class Embeddings<T extends EmbeddingArray = Float32Array> {
  constructor(
    /** All rows, back to back. */
    readonly data: T,
    readonly rows: number,
    /** Values per row (for 'binary' / 'ubinary' precision: bytes per row, dimensions / 8). */
    readonly dim: number,
  ) {
    if (data.length !== rows * dim) throw new RangeError(`embeddings: ${data.length} values is not ${rows} × ${dim}`);
  }

  /** Row `i` as a view into `data`. */
  row(i: number): T {
    if (!Number.isInteger(i) || i < 0 || i >= this.rows) throw new RangeError(`row ${i} is outside 0..${this.rows - 1}`);
    return this.data.subarray(i * this.dim, (i + 1) * this.dim) as T;
  }

  /** Rows as separate views. */
  toArray(): T[] {
    return Array.from({ length: this.rows }, (_, i) => this.row(i));
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this.toArray()[Symbol.iterator]();
  }
}
