import { binding, ortLibraryPath } from './native';
import type { NativePruneResult, NativePruningEncoder } from './binding';
import type { CallOptions } from './queue';
import { TransformerModel, loadNative } from './model-base';
import * as v from './validate';
import { TRANSFORMER_LOAD_OPTIONS, TransformerLoadOptions, transformerLoadOptions } from './model-options';
import { invalidArgument } from './errors';

export type PruningGranularity = 'sentence' | 'token';
export type PruningLanguage = 'en' | 'ja' | 'auto';

export interface PruningEncoderOptions extends TransformerLoadOptions {
  /** Longest block in tokens, special tokens included. Default: winnow_pruning.json's max_length, else the model's maximum. */
  maxLength?: number;
  /** Blocks per inference batch at most. Default 32 on CPU, 128 on GPU. */
  batchSize?: number;
  /** ONNX file inside the folder. Default: winnow_pruning.json's model, else model.onnx. */
  file?: string;
  /** Default sentence keep threshold. Default: winnow_pruning.json's threshold, else 0.1. */
  threshold?: number;
}
const LOAD_OPTIONS = [...TRANSFORMER_LOAD_OPTIONS, 'threshold'] as const;
const LOADER: v.Loader = { name: 'PruningEncoder.load', options: LOAD_OPTIONS };

export interface PruneOptions extends CallOptions {
  /** Keep a sentence (token) when its keep probability exceeds this. Default: the model's threshold (sentence), 0.5 (token). */
  threshold?: number;
  /** 'sentence' (OpenProvence process(), default) or 'token' (sentence-transformers predict_with_pruning). */
  granularity?: PruningGranularity;
  /** Sentence-splitting rules. Default 'auto' (per document, by kana share). */
  language?: PruningLanguage;
  /** Include every sentence with its probability. Default false. */
  returnSentences?: boolean;
  /** Report rankingScore 0 when nothing is kept. Default true. */
  zeroScoreWhenEmpty?: boolean;
}
const PRUNE_OPTIONS = ['threshold', 'granularity', 'language', 'returnSentences', 'zeroScoreWhenEmpty', 'signal', 'onProgress'] as const;

export interface PrunedSentence {
  text: string;
  probability: number;
  kept: boolean;
}

export interface PruneResult {
  /** sigmoid(ranking logit): the best block of the document; 0 when nothing is kept (zeroScoreWhenEmpty). */
  rankingScore: number;
  /** The kept text: kept sentences concatenated (sentence granularity), kept token runs joined by ' ' (token). */
  prunedDocument: string;
  /** Percentage (0-100) of the document's UTF-16 characters removed. */
  compressionRatio: number;
  /** Fraction (0-1) of the document's tokens removed. */
  tokensRemoved: number;
  /** Kept ranges [start, end) in UTF-16 units of the document (of sentences.join('') for pre-split input). */
  keptSpans: Array<[number, number]>;
  /** Every sentence (returnSentences, sentence granularity only). */
  sentences?: PrunedSentence[];
}

/** Options that return every sentence (returnSentences with sentence granularity, the default). */
type SentencesOptions = PruneOptions & { returnSentences: true; granularity?: 'sentence' };
/** A result with its sentences present. */
export type PruneResultWithSentences = PruneResult & { sentences: PrunedSentence[] };

export interface PruningPredictOptions extends CallOptions {}
const PREDICT_OPTIONS = ['signal', 'onProgress'] as const;

type Doc = string | string[];

function documentValue(value: unknown, option: string): Doc {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return v.stringArray(value, option);
  throw invalidArgument('a string or an array of strings', option, value);
}

function threshold(value: unknown, option = 'threshold'): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || Number.isNaN(value)) throw invalidArgument('a number between 0 and 1', option, value);
  if (value < 0 || value > 1) throw invalidArgument('a number between 0 and 1', option, value, 'range');
  return value;
}

/**
 * A Provence-style pruning reranker: scores (query, document) pairs and removes the document's
 * sentences that do not help answer the query, as OpenProvence's process() does.
 */
export class PruningEncoder extends TransformerModel<NativePruningEncoder> {
  /** Default sentence keep threshold. */
  readonly threshold: number;

  private constructor(native: NativePruningEncoder, concurrency: number) {
    super(native, concurrency, 'PruningEncoder');
    const info = native.info();
    this.threshold = info.threshold;
  }

  /** Loads a folder made by scripts/pruning/export_pruning_onnx.py (model.onnx, config.json, tokenizer.json, winnow_pruning.json). */
  static async load(dir: string, options?: PruningEncoderOptions): Promise<PruningEncoder> {
    const caller = new Error();
    const o = v.optionsObject<PruningEncoderOptions>(options, 'PruningEncoder.load options', LOAD_OPTIONS);
    const { native: shared, concurrency } = transformerLoadOptions(dir, o);
    const opts = { ...shared, threshold: threshold(o.threshold) };
    return loadNative(caller, async () => {
      opts.ortLibrary = ortLibraryPath();
      const native = await binding().NativePruningEncoder.load(opts);
      return new PruningEncoder(native, concurrency);
    });
  }

  /** Prunes each pair's document (a string, or its sentences as string[]) against its query. Results in input order. */
  predictWithPruning(pairs: ReadonlyArray<readonly [string, Doc]>, options: SentencesOptions): Promise<PruneResultWithSentences[]>;
  predictWithPruning(pairs: ReadonlyArray<readonly [string, Doc]>, options?: PruneOptions): Promise<PruneResult[]>;
  async predictWithPruning(pairs: ReadonlyArray<readonly [string, Doc]>, options?: PruneOptions): Promise<PruneResult[]> {
    const o = v.optionsObject<PruneOptions>(options, 'predictWithPruning options', PRUNE_OPTIONS, LOADER);
    if (!Array.isArray(pairs)) throw invalidArgument('an array of [query, document] pairs', 'pairs', pairs);
    // Element by element, growing the arrays as it goes (see v.stringArray): nothing is sized from pairs.length.
    const queries: string[] = [];
    const index = new Map<string, number>();
    const queryOf: number[] = [];
    const docs: Doc[] = [];
    const n = v.arrayLength(pairs, '[query, document] pairs', 'pairs');
    for (let i = 0; i < n; i++) {
      const p: unknown = pairs[i];
      if (!Array.isArray(p) || p.length !== 2) throw invalidArgument('a [query, document] pair', `pairs[${i}]`, p);
      const [query, doc]: unknown[] = [p[0], p[1]];
      if (typeof query !== 'string') throw invalidArgument('a string', `pairs[${i}][0]`, query);
      docs.push(documentValue(doc, `pairs[${i}][1]`));
      let q = index.get(query);
      if (q === undefined) {
        q = queries.length;
        queries.push(query);
        index.set(query, q);
      }
      queryOf.push(q);
    }
    return this.run(queries, queryOf, docs, o);
  }

  /** Prunes many documents against one query (tokenized once). Same results as predictWithPruning. A single document string gives its result alone. */
  prune(query: string, document: string, options: SentencesOptions): Promise<PruneResultWithSentences>;
  prune(query: string, document: string, options?: PruneOptions): Promise<PruneResult>;
  prune(query: string, documents: readonly Doc[], options: SentencesOptions): Promise<PruneResultWithSentences[]>;
  prune(query: string, documents: readonly Doc[], options?: PruneOptions): Promise<PruneResult[]>;
  async prune(query: string, documents: readonly Doc[] | string, options?: PruneOptions): Promise<PruneResult[] | PruneResult> {
    const o = v.optionsObject<PruneOptions>(options, 'prune options', PRUNE_OPTIONS, LOADER);
    if (typeof query !== 'string') throw invalidArgument('a string', 'query', query);
    if (typeof documents === 'string') return (await this.run([query], [0], [documents], o))[0]; // one document, one result
    if (!Array.isArray(documents)) throw invalidArgument('an array of documents', 'documents', documents);
    // Checked element by element before anything is sized from the array (see v.stringArray); holes are refused.
    const docs: Doc[] = [];
    const n = v.arrayLength(documents, 'documents', 'documents');
    for (let i = 0; i < n; i++) docs.push(documentValue(documents[i], `documents[${i}]`));
    return this.run([query], new Array<number>(docs.length).fill(0), docs, o);
  }

  /** Ranking only, CrossEncoder-compatible: sigmoid scores, one block per pair, the document truncated to maxLength. */
  async predict(pairs: ReadonlyArray<readonly [string, string]>, options?: PruningPredictOptions): Promise<Float32Array> {
    const o = v.optionsObject<PruningPredictOptions>(options, 'predict options', PREDICT_OPTIONS, LOADER);
    const [a, b] = v.pairArrays(pairs, 'pairs');
    const call: CallOptions = { signal: v.abortSignal(o.signal, 'signal'), onProgress: v.func(o.onProgress, 'onProgress') as CallOptions['onProgress'] };
    const native = this.alive();
    return this.queue.run((n) => native.predict(a, b, n), call);
  }

  private async run(queries: string[], queryOf: number[], docs: Doc[], o: Partial<PruneOptions>): Promise<PruneResult[]> {
    const opts = {
      threshold: threshold(o.threshold),
      granularity: v.oneOf(o.granularity, 'granularity', ['sentence', 'token'] as const) ?? 'sentence',
      language: v.oneOf(o.language, 'language', ['en', 'ja', 'auto'] as const) ?? 'auto',
      zeroScoreWhenEmpty: v.bool(o.zeroScoreWhenEmpty, 'zeroScoreWhenEmpty') ?? true,
    };
    const returnSentences = v.bool(o.returnSentences, 'returnSentences') ?? false;
    const call: CallOptions = { signal: v.abortSignal(o.signal, 'signal'), onProgress: v.func(o.onProgress, 'onProgress') as CallOptions['onProgress'] };
    const native = this.alive();
    const raw = await this.queue.run((n) => native.process(queries, queryOf, docs, { ...opts, ...n }), call);
    return raw.map((r, i) => toResult(r, docs[i], opts.granularity, returnSentences));
  }
}

function toResult(r: NativePruneResult, doc: Doc, granularity: PruningGranularity, returnSentences: boolean): PruneResult {
  const text = typeof doc === 'string' ? doc : doc.join('');
  const keptSpans: Array<[number, number]> = [];
  const pieces: string[] = [];
  let kept = 0;
  for (let k = 0; k < r.keptSpans.length; k += 2) {
    const s = r.keptSpans[k];
    const e = r.keptSpans[k + 1];
    keptSpans.push([s, e]);
    pieces.push(text.slice(s, e));
    kept += e - s;
  }
  const prunedDocument = granularity === 'token' ? pieces.join(' ') : pieces.join('');
  const result: PruneResult = {
    rankingScore: r.score,
    prunedDocument,
    compressionRatio: text.length === 0 ? 0 : (100 * (text.length - kept)) / text.length,
    tokensRemoved: r.tokensTotal === 0 ? 0 : (r.tokensTotal - r.tokensKept) / r.tokensTotal,
    keptSpans,
  };
  if (returnSentences && granularity === 'sentence') {
    const sentences: PrunedSentence[] = [];
    const spans = r.sentenceSpans;
    if (spans && r.sentenceProbs && r.sentenceKept) {
      for (let s = 0; s < r.sentenceProbs.length; s++)
        sentences.push({ text: text.slice(spans[2 * s], spans[2 * s + 1]), probability: r.sentenceProbs[s], kept: r.sentenceKept[s] === 1 });
    }
    result.sentences = sentences;
  }
  return result;
}
