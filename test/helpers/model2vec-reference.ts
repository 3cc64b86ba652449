// Independent reference for Model2Vec static embeddings, written without looking at Winnow's code:
// a tiny safetensors reader, f16 / bf16 decoding in JS, Hugging Face `tokenizers` (Rust) for
// tokenization, and model2vec's StaticModel.encode algorithm:
//   median_token_length = int(np.median([len(t) for t in vocab sorted by id]))   (len: code points)
//   text[:max_length * median]  -> encode(add_special_tokens=False) -> drop unk ids -> ids[:max_length]
//   rows = E[mapping[id] if mapping else id] * (weights[id] if weights else 1); mean; / (||x|| + 1e-32) if normalize
// Accumulates in float64.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tokenizer as HfTokenizer } from 'tokenizers';

export interface RefTensor {
  dtype: string;
  shape: number[];
  values: Float64Array; // decoded to float64 (ints included)
}

export function readSafetensors(file: string): Record<string, RefTensor> {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, any>;
  const base = 8 + n;
  const out: Record<string, RefTensor> = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [b, e] = t.data_offsets as [number, number];
    const bytes = buf.subarray(base + b, base + e);
    const count = (t.shape as number[]).reduce((a: number, x: number) => a * x, 1);
    const values = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      switch (t.dtype) {
        case 'F32': values[i] = bytes.readFloatLE(i * 4); break;
        case 'F64': values[i] = bytes.readDoubleLE(i * 8); break;
        case 'F16': values[i] = f16(bytes.readUInt16LE(i * 2)); break;
        case 'BF16': values[i] = bf16(bytes.readUInt16LE(i * 2)); break;
        case 'I8': values[i] = bytes.readInt8(i); break;
        case 'I32': values[i] = bytes.readInt32LE(i * 4); break;
        case 'I64': values[i] = Number(bytes.readBigInt64LE(i * 8)); break;
        default: throw new Error(`reference: dtype ${t.dtype} not handled`);
      }
    }
    out[name] = { dtype: t.dtype, shape: t.shape, values };
  }
  return out;
}

export function f16(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

export function bf16(b: number): number {
  const f = new Float32Array(1);
  new Uint32Array(f.buffer)[0] = b << 16;
  return f[0];
}

export class Model2VecReference {
  private constructor(
    readonly tok: HfTokenizer,
    readonly table: RefTensor,
    readonly dim: number,
    readonly weights: Float64Array | undefined,
    readonly mapping: Float64Array | undefined,
    readonly unkId: number | undefined,
    readonly medianTokenLength: number,
    readonly normalize: boolean,
  ) {}

  static load(dir: string, normalizeOverride?: boolean): Model2VecReference {
    let folder = dir;
    if (!fs.existsSync(path.join(dir, 'model.safetensors'))) folder = path.join(dir, '0_StaticEmbedding');
    const tensors = readSafetensors(path.join(folder, 'model.safetensors'));
    const table = tensors.embeddings ?? tensors['embedding.weight'];
    const tokPath = fs.existsSync(path.join(folder, 'tokenizer.json')) ? path.join(folder, 'tokenizer.json') : path.join(dir, 'tokenizer.json');
    const tok = HfTokenizer.fromFile(tokPath);
    const vocab = tok.getVocab(true);
    const json = JSON.parse(fs.readFileSync(tokPath, 'utf8'));
    const unkToken = json.model?.unk_token;
    const unkId = typeof unkToken === 'string' ? vocab[unkToken] : undefined;
    const lengths = Object.entries(vocab)
      .sort((a, b) => a[1] - b[1])
      .map(([t]) => [...t].length)
      .sort((a, b) => a - b);
    const mid = lengths.length >> 1;
    const median = Math.trunc(lengths.length % 2 ? lengths[mid] : (lengths[mid - 1] + lengths[mid]) / 2);
    const cfgPath = path.join(dir, 'config.json');
    const cfg = fs.existsSync(cfgPath) ? JSON.parse(fs.readFileSync(cfgPath, 'utf8')) : {};
    const normalize = normalizeOverride ?? cfg.normalize ?? false;
    return new Model2VecReference(tok, table, table.shape[1], tensors.weights?.values, tensors.mapping?.values, unkId, median, normalize);
  }

  /** model2vec's StaticModel.tokenize for one text (maxLength null = no truncation). */
  async tokenize(text: string, maxLength: number | null = 512): Promise<number[]> {
    if (maxLength !== null) text = [...text].slice(0, maxLength * this.medianTokenLength).join('');
    const enc = await this.tok.encode(text, null, { addSpecialTokens: false });
    let ids = Array.from(enc.getIds());
    if (this.unkId !== undefined) ids = ids.filter((id) => id !== this.unkId);
    if (maxLength !== null) ids = ids.slice(0, maxLength);
    return ids;
  }

  /** The (mapped, weighted) table row of a token. */
  row(id: number): Float64Array {
    const r = this.mapping ? this.mapping[id] : id;
    const w = this.weights ? this.weights[id] : 1;
    const out = new Float64Array(this.dim);
    for (let d = 0; d < this.dim; d++) out[d] = this.table.values[r * this.dim + d] * w;
    return out;
  }

  async encodeOne(text: string, maxLength: number | null = 512): Promise<Float64Array> {
    const ids = await this.tokenize(text, maxLength);
    const out = new Float64Array(this.dim);
    if (ids.length === 0) return out;
    for (const id of ids) {
      const r = this.row(id);
      for (let d = 0; d < this.dim; d++) out[d] += r[d];
    }
    for (let d = 0; d < this.dim; d++) out[d] /= ids.length;
    if (this.normalize) {
      let n = 0;
      for (let d = 0; d < this.dim; d++) n += out[d] * out[d];
      n = Math.sqrt(n) + 1e-32;
      for (let d = 0; d < this.dim; d++) out[d] /= n;
    }
    return out;
  }

  async encode(texts: string[], maxLength: number | null = 512): Promise<Float64Array[]> {
    const out: Float64Array[] = [];
    for (const t of texts) out.push(await this.encodeOne(t, maxLength));
    return out;
  }
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  if (aa === 0 && bb === 0) return 1; // both zero vectors: identical
  return ab / Math.sqrt(aa * bb);
}

export function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
