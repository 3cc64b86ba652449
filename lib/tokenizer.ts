import { binding } from './native';
import type { NativeEncoding, NativeTokenizer } from './binding';
import type { Encoding, EncodeOptions } from './types';
import { CallOptions, CallQueue, withCallerStack } from './queue';
import * as v from './validate';
import { invalidArgument, winnowError, noConstructor } from './errors';
import { resolveModelDir } from './hub-cache';
import { threadCount } from './model-options';
import { statSync } from 'node:fs';
import { join } from 'node:path';

const ENCODE_OPTIONS = [
  'addSpecialTokens', 'maxLength', 'truncation', 'truncationSide', 'stride', 'returnOverflowing',
  'padding', 'padToLength', 'padToMultipleOf', 'paddingSide',
] as const;

/**
 * The native side hands `sequenceIds` over as an Int8Array (-1 for special tokens): converting it here, in
 * JavaScript, is several times cheaper than building the array element by element through N-API.
 */
function finishEncoding(e: NativeEncoding): Encoding {
  const raw = e.sequenceIds as unknown as Int8Array;
  const seq: (0 | 1 | null)[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) seq[i] = raw[i] < 0 ? null : (raw[i] as 0 | 1);
  e.sequenceIds = seq;
  if (e.overflowing) for (const o of e.overflowing) finishEncoding(o);
  return e;
}

/** Tokenizer.load options. */
export interface TokenizerLoadOptions {
  /** A compiled MeCab dictionary folder (holding sys.dic), for BertJapaneseTokenizer folders. */
  mecabDictionary?: string;
}

/** encodeBatch options: the encode options, cancellation, and how many native threads share the texts. */
export interface EncodeBatchOptions extends EncodeOptions, CallOptions {
  /** Native threads that share the texts. Default: one per core. Results do not depend on it. */
  threads?: number;
}

/**
 * Largest maxLength, stride, padToLength and padToMultipleOf (tokens), as the native side bounds them (docs/api.md,
 * Limits): far above any model's context, small enough that padding to it cannot exhaust memory.
 */
export const MAX_LENGTH_SETTING = 1_048_576;

function checkEncodeOptions(options: unknown, where: string, extra: readonly string[] = []): EncodeOptions {
  const o = v.optionsObject<EncodeOptions>(options, where, [...ENCODE_OPTIONS, 'signal', 'onProgress', ...extra]);
  v.bool(o.addSpecialTokens, 'addSpecialTokens');
  v.positiveInt(o.maxLength, 'maxLength', MAX_LENGTH_SETTING);
  v.oneOf(o.truncation, 'truncation', ['longest_first', 'only_first', 'only_second'] as const);
  v.oneOf(o.truncationSide, 'truncationSide', ['left', 'right'] as const);
  if ((v.nonNegativeInt(o.stride, 'stride') ?? 0) > MAX_LENGTH_SETTING)
    throw invalidArgument(`an integer between 0 and ${MAX_LENGTH_SETTING}`, 'stride', o.stride, 'range');
  v.bool(o.returnOverflowing, 'returnOverflowing');
  v.bool(o.padding, 'padding');
  v.positiveInt(o.padToLength, 'padToLength', MAX_LENGTH_SETTING);
  v.positiveInt(o.padToMultipleOf, 'padToMultipleOf', MAX_LENGTH_SETTING);
  v.oneOf(o.paddingSide, 'paddingSide', ['left', 'right'] as const);
  const named = (['padToLength', 'padToMultipleOf', 'paddingSide'] as const).find((k) => o[k] !== undefined);
  if (named && o.padding === false) throw invalidArgument(`true or no padding option (${named} is given)`, 'padding', o.padding, 'range');
  return named && o.padding === undefined ? { ...o, padding: true } : o;
}

/** Token ids as the Int32Array the native decoder reads: an Int32Array as it is, else integers checked and copied. */
function idArray(ids: unknown, option: string): Int32Array {
  if (ids instanceof Int32Array) return ids;
  const integerView = ArrayBuffer.isView(ids) && !(ids instanceof DataView) && !(ids instanceof Float32Array) &&
    !(ids instanceof Float64Array) && !(ids instanceof BigInt64Array) && !(ids instanceof BigUint64Array);
  if (!integerView && !Array.isArray(ids)) throw invalidArgument('an array of token ids (integers)', option, ids);
  if (Array.isArray(ids)) v.arrayLength(ids, 'token ids', option);
  const list = ids as ArrayLike<unknown>;
  for (let i = 0; i < list.length; i++) {
    const id = list[i];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < -2147483648 || id > 2147483647)
      throw invalidArgument('a token id (a 32-bit integer)', `${option}[${i}]`, id);
  }
  return Int32Array.from(list as ArrayLike<number>);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** A Hugging Face tokenizer.json, run by Winnow's C++ tokenizer (ids and offsets identical to `tokenizers`). */
export class Tokenizer {
  private readonly queue = new CallQueue(1);
  private native: NativeTokenizer | undefined;
  private constructor(native: NativeTokenizer) {
    noConstructor(native, 'Tokenizer', 'Tokenizer.load(dir), Tokenizer.fromFile(path) or Tokenizer.fromPretrained(dir)');
    this.native = native;
  }

  static async fromFile(path: string): Promise<Tokenizer> {
    const caller = new Error();
    if (typeof path !== 'string' || path.length === 0) throw invalidArgument('a file path', 'path', path);
    if (isDirectory(path)) {
      throw withCallerStack(winnowError('IO_ERROR', `${path} is a folder, not a tokenizer.json file: pass ${join(path, 'tokenizer.json')}, or the folder to Tokenizer.fromPretrained`), caller);
    }
    try {
      return new Tokenizer(await binding().NativeTokenizer.fromFile(path));
    } catch (e) {
      throw withCallerStack(e, caller);
    }
  }

  /**
   * The tokenizer of a model folder: its tokenizer.json when it has one, otherwise built from the files the model
   * ships (vocab.txt, vocab.json + merges.txt, a sentencepiece model, or vocab.txt + MeCab for a
   * BertJapaneseTokenizer), as tokenizer_config.json's tokenizer_class names them (docs/api.md "Tokenizer.load").
   * `mecabDictionary`: a compiled MeCab dictionary folder for BertJapaneseTokenizer (default: WINNOW_MECAB_DICDIR,
   * then the dictionary the model names, where Python packages and Debian put it).
   */
  static async load(dir: string, options?: TokenizerLoadOptions): Promise<Tokenizer> {
    const caller = new Error();
    const folder = v.directory(dir);
    const o = v.optionsObject<TokenizerLoadOptions>(options, 'Tokenizer.load options', ['mecabDictionary'] as const);
    const mecabDictionary = v.mecabDictionary(o.mecabDictionary);
    try {
      return new Tokenizer(await binding().NativeTokenizer.load(folder, { mecabDictionary }));
    } catch (e) {
      throw withCallerStack(e, caller);
    }
  }

  /**
   * Tokenizer.load of a model folder, or of a hub id (`'bert-base-uncased'`, `'BAAI/bge-reranker-base'`) already in
   * the local Hugging Face cache (`revision`: branch, tag or commit; default 'main'), as `tokenizers`'
   * `Tokenizer.fromPretrained` names it. Never downloads.
   */
  static async fromPretrained(dirOrId: string, options?: { revision?: string } & TokenizerLoadOptions): Promise<Tokenizer> {
    const caller = new Error();
    if (typeof dirOrId !== 'string' || dirOrId.length === 0) throw invalidArgument('a model folder path or hub id', 'dirOrId', dirOrId);
    const o = v.optionsObject<{ revision?: string } & TokenizerLoadOptions>(options, 'Tokenizer.fromPretrained options', ['revision', 'mecabDictionary'] as const);
    let dir: string;
    try {
      dir = resolveModelDir(dirOrId, v.str(o.revision, 'revision'));
    } catch (e) {
      throw withCallerStack(e, caller);
    }
    return Tokenizer.load(dir, { mecabDictionary: o.mecabDictionary });
  }

  static async fromJSON(json: string): Promise<Tokenizer> {
    const caller = new Error();
    if (typeof json !== 'string') throw invalidArgument('a JSON string', 'json', json);
    try {
      return new Tokenizer(await binding().NativeTokenizer.fromJSON(json));
    } catch (e) {
      throw withCallerStack(e, caller);
    }
  }

  /** Encodes one text or pair synchronously. */
  encode(text: string, pair?: string | null, options?: EncodeOptions): Encoding {
    if (typeof text !== 'string') throw invalidArgument('a string', 'text', text);
    if (pair !== undefined && pair !== null && typeof pair !== 'string') throw invalidArgument('a string or null', 'pair', pair);
    const o = checkEncodeOptions(options, 'encode options');
    return finishEncoding(this.alive().encode(text, pair ?? null, o));
  }

  /** Encodes many texts (or [text, pair] tuples) on native threads (`threads`, default one per core), off the event loop. */
  async encodeBatch(inputs: readonly string[] | ReadonlyArray<readonly [string, string]>, options?: EncodeBatchOptions): Promise<Encoding[]> {
    const o = checkEncodeOptions(options, 'encodeBatch options', ['threads']) as EncodeBatchOptions;
    threadCount(o.threads);
    if (!Array.isArray(inputs)) throw invalidArgument('an array of strings or [string, string] pairs', 'inputs', inputs);
    const isPairs = inputs.length > 0 && Array.isArray(inputs[0]);
    let texts: string[];
    let pairs: string[] | null = null;
    if (isPairs) [texts, pairs] = v.pairArrays(inputs, 'inputs');
    else texts = v.stringArray(inputs, 'inputs');
    const { signal, onProgress, ...encodeOpts } = o;
    const native = this.alive();
    const encodings = (await this.queue.run((n) => native.encodeBatch(texts, pairs, encodeOpts, n), {
      signal: v.abortSignal(signal, 'signal'),
      onProgress: v.func(onProgress, 'onProgress') as CallOptions['onProgress'],
    })) as NativeEncoding[];
    for (const e of encodings) finishEncoding(e);
    return encodings;
  }

  decode(ids: ArrayLike<number>, options?: { skipSpecialTokens?: boolean }): string {
    return this.decodeIds(ids, options, 'ids');
  }

  /** `decode` for each id list (Hugging Face tokenizers' decode_batch / transformers.js batch_decode), in order. */
  decodeBatch(idLists: ReadonlyArray<ArrayLike<number>>, options?: { skipSpecialTokens?: boolean }): string[] {
    if (!Array.isArray(idLists)) throw invalidArgument('an array of id arrays', 'idLists', idLists);
    // Its length checked before anything is made from it (a sparse array or a Proxy may claim billions).
    const n = v.arrayLength(idLists, 'id arrays', 'idLists');
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.decodeIds(idLists[i], options, `idLists[${i}]`));
    return out;
  }

  private decodeIds(ids: unknown, options: unknown, option: string): string {
    const o = v.optionsObject<{ skipSpecialTokens: boolean }>(options, 'decode options', ['skipSpecialTokens']);
    const skip = v.bool(o.skipSpecialTokens, 'skipSpecialTokens') ?? false;
    return this.alive().decode(idArray(ids, option), skip);
  }

  tokenToId(token: string): number | undefined {
    return this.alive().tokenToId(v.str(token, 'token') ?? '');
  }

  idToToken(id: number): string | undefined {
    if (!Number.isInteger(id)) throw invalidArgument('an integer', 'id', id);
    return this.alive().idToToken(id);
  }

  /** Vocabulary size including added tokens. */
  get vocabSize(): number {
    return this.alive().vocabSize();
  }

  numSpecialTokensToAdd(isPair = false): number {
    return this.alive().numSpecialTokensToAdd(isPair);
  }

  dispose(): void {
    this.native?.dispose();
    this.native = undefined;
  }

  private alive(): NativeTokenizer {
    if (!this.native) throw winnowError('DISPOSED', 'this Tokenizer has been disposed');
    return this.native;
  }
}
