// What the routes and the jobs ask of a model, over the public API: scores, rankings, embeddings, pruning, token
// counts. Shared by lib/server and lib/cli so that both give the library's own results.
import { CrossEncoder, PruningEncoder, SentenceEncoder, StaticModel } from '../index';
import type { EncodeBatchOptions, Encoding, PruneResult, RankResult, Tokenizer } from '../index';
import type { ServedModel } from './models';
import { HttpError } from './http-error';

/** Scores of (query, document) pairs in input order, with the model's activation or, `raw`, without it. */
export async function scorePairs(m: ServedModel, pairs: ReadonlyArray<readonly [string, string]>, raw: boolean, signal?: AbortSignal): Promise<Float32Array> {
  if (m.model instanceof PruningEncoder) {
    if (raw) throw new HttpError('Validation', `raw_scores is not available for the pruning model "${m.name}"`, 422);
    return m.model.predict(pairs, { signal });
  }
  if (!(m.model instanceof CrossEncoder)) throw new HttpError('Validation', `model "${m.name}" does not score pairs`, 422);
  return m.model.predict(pairs, { signal, rawScores: raw });
}

/** Every document scored against the query, best first (ties: lower index first), as `CrossEncoder.rank`. */
export async function rank(m: ServedModel, query: string, documents: readonly string[], raw: boolean, signal?: AbortSignal): Promise<RankResult[]> {
  if (m.model instanceof CrossEncoder) return m.model.rank(query, documents, { signal, rawScores: raw });
  const scores = await scorePairs(m, documents.map((d) => [query, d] as const), raw, signal);
  return Array.from(scores.keys()).sort((i, j) => scores[j] - scores[i] || i - j).map((index) => ({ index, score: scores[index] }));
}

export interface EmbedOptions {
  normalize?: boolean;
  dimensions?: number;
  /** A prompt name from the model's config (TEI's `prompt_name`). */
  promptName?: string;
  signal?: AbortSignal;
}

/** Embeddings of `texts` as float32 rows (views into one buffer). */
export async function embed(m: ServedModel, texts: readonly string[], o: EmbedOptions): Promise<Float32Array[]> {
  if (m.model instanceof SentenceEncoder) {
    if (o.promptName !== undefined && !(o.promptName in m.model.prompts)) {
      throw new HttpError('Validation', `prompt_name "${o.promptName}" is not one of the model's prompts (${Object.keys(m.model.prompts).join(', ') || 'it has none'})`, 422);
    }
    if (o.dimensions !== undefined && o.dimensions > m.model.dim) {
      throw new HttpError('Validation', `dimensions ${o.dimensions} is more than the model's ${m.model.dim}`, 422);
    }
    const e = await m.model.encode(texts, { normalize: o.normalize, dimensions: o.dimensions, prompt: o.promptName, signal: o.signal });
    return e.toArray();
  }
  if (m.model instanceof StaticModel) {
    if (o.promptName !== undefined) throw new HttpError('Validation', `model "${m.name}" (a static model) has no prompts`, 422);
    if (o.dimensions !== undefined && o.dimensions > m.model.dim) {
      throw new HttpError('Validation', `dimensions ${o.dimensions} is more than the model's ${m.model.dim}`, 422);
    }
    const normalize = o.normalize ?? m.model.normalize;
    if (!normalize && m.model.normalize) {
      throw new HttpError('Validation', `model "${m.name}" normalizes its embeddings itself (config.json normalize): normalize: false is not available`, 422);
    }
    const alreadyNormal = o.dimensions === undefined && m.model.normalize;
    const rows = (await m.model.encode(texts, { signal: o.signal })).toArray();
    // Matryoshka truncation then L2 normalisation, as SentenceEncoder's `dimensions` does.
    return rows.map((r) => {
      const cut = o.dimensions === undefined ? r : r.subarray(0, o.dimensions);
      if (!normalize || alreadyNormal) return cut;
      let s = 0;
      for (const x of cut) s += x * x;
      const n = Math.sqrt(s);
      return n > 0 ? cut.map((x) => x / n) : cut;
    });
  }
  throw new HttpError('Validation', `model "${m.name}" is not an embedding model`, 422);
}

/** Pruning of each document against the query, in input order. */
export async function prune(m: ServedModel, query: string, documents: readonly string[], o: { threshold?: number; granularity?: 'sentence' | 'token'; language?: 'en' | 'ja' | 'auto'; returnSentences?: boolean; signal?: AbortSignal }): Promise<PruneResult[]> {
  if (!(m.model instanceof PruningEncoder)) throw new HttpError('Validation', `model "${m.name}" is not a pruning model`, 422);
  return m.model.prune(query, documents, o);
}

/** Pruning of (query, document) pairs, in input order (one call for the lot). */
export async function prunePairs(m: ServedModel, pairs: ReadonlyArray<readonly [string, string]>, o: { threshold?: number; granularity?: 'sentence' | 'token'; signal?: AbortSignal }): Promise<PruneResult[]> {
  if (!(m.model instanceof PruningEncoder)) throw new HttpError('Validation', `model "${m.name}" is not a pruning model`, 422);
  return m.model.predictWithPruning(pairs, o);
}

/** Tokens each input takes (special tokens included, truncated at the model's maximum unless `truncate` is false). */
export async function tokenCounts(m: ServedModel, inputs: ReadonlyArray<string | readonly [string, string]>, truncate: boolean, prefix = '', signal?: AbortSignal): Promise<number[]> {
  const options = truncate ? { maxLength: m.maxLength, signal } : { signal };
  const enc = await encodeMixed(m.tokenizer, inputs.map((x) => (typeof x === 'string' ? prefix + x : x)), options);
  return enc.map((e) => e.ids.length);
}

/**
 * Encodings of texts and pairs in input order: the texts in one call, the pairs in another (a text is never sent
 * as the pair [text, ''], which would add a separator).
 */
export async function encodeMixed(tokenizer: Tokenizer, inputs: ReadonlyArray<string | readonly [string, string]>, options: EncodeBatchOptions): Promise<Encoding[]> {
  const singles: number[] = [];
  const pairs: number[] = [];
  inputs.forEach((x, i) => (typeof x === 'string' ? singles : pairs).push(i));
  const [a, b] = await Promise.all([
    singles.length > 0 ? tokenizer.encodeBatch(singles.map((i) => inputs[i] as string), options) : [],
    pairs.length > 0 ? tokenizer.encodeBatch(pairs.map((i) => inputs[i] as readonly [string, string]), options) : [],
  ]);
  const out = new Array<Encoding>(inputs.length);
  singles.forEach((i, k) => (out[i] = a[k]));
  pairs.forEach((i, k) => (out[i] = b[k]));
  return out;
}

/** TEI's check when truncation is off: 413 for an input longer than the model's maximum. */
export async function checkLengths(m: ServedModel, inputs: ReadonlyArray<string | readonly [string, string]>, prefix = '', signal?: AbortSignal): Promise<void> {
  const counts = await tokenCounts(m, inputs, false, prefix, signal);
  const longest = Math.max(...counts);
  if (longest > m.maxLength) {
    throw new HttpError('Validation', `\`inputs\` must have less than ${m.maxLength} tokens. Given: ${longest} (send truncate: true to truncate)`);
  }
}

/** Each document cut to its first `n` tokens (no special tokens), at the end of the last token kept; tokenized off the event loop. */
export async function cutToTokens(m: ServedModel, texts: readonly string[], n: number, signal?: AbortSignal): Promise<string[]> {
  const encodings = await m.tokenizer.encodeBatch(texts, { addSpecialTokens: false, maxLength: n, signal });
  return texts.map((text, i) => {
    const e = encodings[i];
    return e.ids.length < n ? text : text.slice(0, e.offsets[2 * e.ids.length - 1]);
  });
}
