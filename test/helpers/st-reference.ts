// Independent reference for sentence embeddings: Hugging Face `tokenizers` (Rust) + onnxruntime-node,
// one text per run, and sentence-transformers' Pooling / Normalize / quantize_embeddings written out
// here in plain JS (float64 accumulation). No Winnow code involved.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { Tokenizer as HfTokenizer } from 'tokenizers';

export type RefMode = 'cls' | 'max' | 'mean' | 'mean_sqrt_len' | 'weightedmean' | 'lasttoken';

export interface RefOptions {
  maxLength: number;
  /** Pooling modes, concatenated in this order (sentence-transformers' order: cls, max, mean, mean_sqrt_len, weightedmean, lasttoken). */
  modes: RefMode[];
  normalize: boolean;
  /** Prefix added to every text. */
  prompt?: string;
  /** sentence-transformers' include_prompt (default true). */
  includePrompt?: boolean;
  /** Matryoshka truncation before normalising. */
  dimensions?: number;
  file?: string;
  /** The ONNX file to run, when it is not in the folder. */
  onnxPath?: string;
  /** Use the graph's `sentence_embedding` output instead of pooling. */
  graphOutput?: boolean;
}

function toInt64(a: number[]): BigInt64Array {
  return BigInt64Array.from(a.map((x) => BigInt(x)));
}

function pool(h: Float32Array, mask: number[], seq: number, dim: number, mode: RefMode): number[] {
  const out = new Array<number>(dim).fill(0);
  if (mode === 'cls') {
    for (let j = 0; j < dim; j++) out[j] = h[j];
    return out;
  }
  if (mode === 'max') {
    out.fill(-Infinity);
    for (let i = 0; i < seq; i++) for (let j = 0; j < dim; j++) out[j] = Math.max(out[j], mask[i] ? h[i * dim + j] : -1e9);
    return out;
  }
  if (mode === 'lasttoken') {
    let last = -1;
    for (let i = 0; i < seq; i++) if (mask[i]) last = i;
    if (last >= 0) for (let j = 0; j < dim; j++) out[j] = h[last * dim + j];
    return out;
  }
  // mean, mean_sqrt_len, weightedmean
  let weightSum = 0;
  for (let i = 0; i < seq; i++) {
    const w = mask[i] ? (mode === 'weightedmean' ? i + 1 : 1) : 0;
    weightSum += w;
    for (let j = 0; j < dim; j++) out[j] += w * h[i * dim + j];
  }
  const denom = mode === 'mean_sqrt_len' ? Math.sqrt(Math.max(weightSum, 1e-9)) : Math.max(weightSum, 1e-9);
  return out.map((x) => x / denom);
}

export function l2normalize(v: number[]): number[] {
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return v.map((x) => x / Math.max(n, 1e-12));
}

export async function referenceEmbeddings(dir: string, texts: string[], opts: RefOptions): Promise<number[][]> {
  const tok = HfTokenizer.fromFile(path.join(dir, 'tokenizer.json'));
  tok.setTruncation(opts.maxLength);
  let onnx = opts.onnxPath ?? path.join(dir, 'onnx', opts.file ?? 'model.onnx');
  if (!fs.existsSync(onnx)) onnx = path.join(dir, opts.file ?? 'model.onnx');
  const session = await ort.InferenceSession.create(onnx, { intraOpNumThreads: 1 });
  const prompt = opts.prompt ?? '';
  let promptLength = 0;
  if (prompt && opts.includePrompt === false) promptLength = (await tok.encode(prompt, null)).getIds().length - 1;
  const out: number[][] = [];
  for (const text of texts) {
    const e = await tok.encode(prompt + text, null);
    const ids = e.getIds();
    const n = ids.length;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', toInt64(ids), [1, n]),
      attention_mask: new ort.Tensor('int64', toInt64(e.getAttentionMask()), [1, n]),
    };
    if (session.inputNames.includes('token_type_ids')) feeds.token_type_ids = new ort.Tensor('int64', toInt64(e.getTypeIds()), [1, n]);
    const res = await session.run(feeds);
    let v: number[];
    if (opts.graphOutput) {
      v = Array.from(res.sentence_embedding.data as Float32Array);
    } else {
      const hidden = (res.last_hidden_state ?? res.token_embeddings) as ort.Tensor;
      const dim = hidden.dims[2];
      const mask = e.getAttentionMask().map((m, i) => (i < promptLength ? 0 : m));
      v = opts.modes.flatMap((m) => pool(hidden.data as Float32Array, mask, n, dim, m));
    }
    if (opts.dimensions) v = v.slice(0, opts.dimensions);
    out.push(opts.normalize ? l2normalize(v) : v);
  }
  await session.release();
  return out;
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

// ---- sentence_transformers.quantization.quantize_embeddings, in float32 arithmetic like numpy ----

const f = Math.fround;

/** [mins, maxes] per dimension over the rows. */
export function ranges(rows: ArrayLike<number>[]): [number[], number[]] {
  const dim = rows[0].length;
  const lo = Array.from({ length: dim }, (_, d) => Math.min(...rows.map((r) => r[d])));
  const hi = Array.from({ length: dim }, (_, d) => Math.max(...rows.map((r) => r[d])));
  return [lo, hi];
}

/** (emb - starts) / steps (- 128), truncated toward zero as numpy's astype does. */
export function quantize8(rows: ArrayLike<number>[], kind: 'int8' | 'uint8', given?: [ArrayLike<number>, ArrayLike<number>]): number[][] {
  const [lo, hi] = given ?? ranges(rows);
  const steps = Array.from({ length: lo.length }, (_, d) => f(f(f(hi[d]) - f(lo[d])) / 255));
  return rows.map((r) =>
    Array.from({ length: lo.length }, (_, d) => {
      let q = f(f(f(r[d]) - f(lo[d])) / steps[d]);
      if (kind === 'int8') q = f(q - 128);
      const [min, max] = kind === 'int8' ? [-128, 127] : [0, 255];
      return Math.min(max, Math.max(min, Math.trunc(q))) + 0; // + 0: no -0
    }),
  );
}

/** np.packbits(emb > 0) per row (MSB first), minus 128 for 'binary'. */
export function quantizeBits(rows: ArrayLike<number>[], kind: 'binary' | 'ubinary'): number[][] {
  return rows.map((r) => {
    const bytes: number[] = [];
    for (let b = 0; b < Math.ceil(r.length / 8); b++) {
      let v = 0;
      for (let k = 0; k < 8; k++) if (b * 8 + k < r.length && r[b * 8 + k] > 0) v |= 0x80 >> k;
      bytes.push(kind === 'binary' ? v - 128 : v);
    }
    return bytes;
  });
}
