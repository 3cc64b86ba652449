import { invalidArgument, invalidArgumentText, winnowError } from './errors';
import type { Device } from './types';

/** Options a caller may pass, with the spellings people bring from Python and other libraries. */
const ALIASES: Record<string, string> = {
  max_length: 'maxLength',
  maxlength: 'maxLength',
  max_seq_length: 'maxLength',
  batch_size: 'batchSize',
  batchsize: 'batchSize',
  top_k: 'topK',
  topk: 'topK',
  return_documents: 'returnDocuments',
  num_threads: 'threads',
  numThreads: 'threads',
  intraOpNumThreads: 'threads',
  activation_fn: 'activation',
  activationFn: 'activation',
  token_budget: 'tokenBudget',
  add_special_tokens: 'addSpecialTokens',
  skip_special_tokens: 'skipSpecialTokens',
  on_progress: 'onProgress',
  prompt_name: 'prompt',
  normalize_embeddings: 'normalize',
  truncate_dim: 'dimensions',
};

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

/**
 * A model's load function and its options. Python users pass batch_size to predict / encode; in Winnow it is set
 * once, at load, so a call that gets one of these says where it goes instead of only refusing it.
 */
export interface Loader {
  name: string;
  options: readonly string[];
}

/** Refuses unknown option names, naming the intended one when it can tell. */
export function checkOptionNames(options: object, known: readonly string[], where: string, loader?: Loader): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const named = ALIASES[key] ?? key;
    if (loader && loader.options.includes(named) && !known.includes(named)) {
      throw invalidArgumentText(`Unknown option ${key} for ${where}: ${named} is an option of ${loader.name}(dir, { ${named} }), set once for the model's calls`);
    }
    let hint = ALIASES[key] && known.includes(ALIASES[key]) ? ALIASES[key] : undefined;
    if (!hint) {
      const lower = key.toLowerCase().replace(/[_-]/g, '');
      hint = known.find((k) => k.toLowerCase() === lower) ?? known.find((k) => editDistance(k, key) <= 2);
    }
    throw invalidArgumentText(`Unknown option ${key} for ${where}` + (hint ? `; did you mean ${hint}?` : `; known options: ${known.join(', ')}`));
  }
}

/** `loader`: for a model's call options, the load function that takes the model-wide ones (named when misplaced). */
export function optionsObject<T extends object>(value: unknown, where: string, known: readonly string[], loader?: Loader): Partial<T> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidArgument('an object', where, value);
  checkOptionNames(value, known, where, loader);
  return value as Partial<T>;
}

export function positiveInt(value: unknown, option: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalidArgument('a positive integer', option, value);
  if (value < 1 || value > max) throw invalidArgument(`an integer between 1 and ${max}`, option, value, 'range');
  return value;
}

export function nonNegativeInt(value: unknown, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalidArgument('a non-negative integer', option, value);
  if (value < 0) throw invalidArgument('a non-negative integer', option, value, 'range');
  return value;
}

export function oneOf<T extends string>(value: unknown, option: string, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !allowed.includes(value as T))
    throw invalidArgument(`one of ${allowed.map((a) => `'${a}'`).join(', ')}`, option, value);
  return value as T;
}

export function bool(value: unknown, option: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw invalidArgument('a boolean', option, value);
  return value;
}

export function str(value: unknown, option: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidArgument('a string', option, value);
  return value;
}

export function func(value: unknown, option: string): ((...args: any[]) => unknown) | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw invalidArgument('a function', option, value);
  return value as (...args: any[]) => unknown;
}

export function nonEmptyString(value: unknown, option: string): string {
  if (typeof value !== 'string') throw invalidArgument('a string', option, value);
  if (value.length === 0) throw invalidArgument('a non-empty string', option, value, 'range');
  return value;
}

/**
 * The most elements an array argument may have: far more than one call needs, and below what V8 lets a dense
 * array hold (about 2^27 elements). A longer one is sparse or a Proxy (a sparse array can report 2^32 - 1), and
 * copying it element by element would end the process when the copy outgrew V8's limit.
 */
export const MAX_ARRAY_LENGTH = 2 ** 26;

/** `value.length`, read once, refused above MAX_ARRAY_LENGTH before any element is read. */
export function arrayLength(value: readonly unknown[], what: string, option: string): number {
  const n = value.length;
  if (n > MAX_ARRAY_LENGTH) throw invalidArgument(`an array of at most ${MAX_ARRAY_LENGTH} ${what}`, option, value, 'range');
  return n;
}

/**
 * Checks every element in index order and copies it into a new plain array, growing as it goes: nothing is
 * allocated from `length` before the elements are seen, the first bad element stops it, and only what was
 * checked goes native. A hole reads as undefined and is refused like any non-string (as sentence-transformers
 * fails on None).
 */
export function stringArray(value: unknown, option: string): string[] {
  if (!Array.isArray(value)) throw invalidArgument('an array of strings', option, value);
  const n = arrayLength(value, 'strings', option);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const s: unknown = value[i];
    if (typeof s !== 'string') throw invalidArgument('a string', `${option}[${i}]`, s);
    out.push(s);
  }
  return out;
}

/** Splits [a, b][] into two arrays, checking every element first (as stringArray does). */
export function pairArrays(value: unknown, option: string): [string[], string[]] {
  if (!Array.isArray(value)) throw invalidArgument('an array of [string, string] pairs', option, value);
  const n = arrayLength(value, '[string, string] pairs', option);
  const a: string[] = [];
  const b: string[] = [];
  for (let i = 0; i < n; i++) {
    const p: unknown = value[i];
    if (!Array.isArray(p) || p.length !== 2) throw invalidArgument('a [string, string] pair', `${option}[${i}]`, p);
    const [x, y]: unknown[] = [p[0], p[1]];
    if (typeof x !== 'string') throw invalidArgument('a string', `${option}[${i}][0]`, x);
    if (typeof y !== 'string') throw invalidArgument('a string', `${option}[${i}][1]`, y);
    a.push(x);
    b.push(y);
  }
  return [a, b];
}

/** The most values one result typed array holds (V8's typed arrays hold at most 2^32 elements on 64-bit platforms). */
export const MAX_RESULT_VALUES = 2 ** 32 - 1;

/**
 * Refuses, before any element of `items` is read, a call whose result (one row of `perRow` values per item, in one
 * typed array) no typed array can hold: the addon would allocate it at the end, where a failed allocation ends
 * the process. Anything but an array is left to the element checks.
 */
export function checkResultSize(items: unknown, perRow: number, advice: string): void {
  if (!Array.isArray(items)) return;
  const rows = items.length;
  if (rows * perRow > MAX_RESULT_VALUES) {
    throw invalidArgumentText(`The result would hold ${rows} × ${perRow} = ${rows * perRow} values, more than the ${MAX_RESULT_VALUES} one typed array holds: ${advice}`, 'range');
  }
}

export function abortSignal(value: unknown, option: string): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || typeof (value as AbortSignal).aborted !== 'boolean')
    throw invalidArgument('an AbortSignal', option, value);
  return value as AbortSignal;
}

export const DEVICES = ['cpu', 'cuda', 'auto'] as const;
export function device(value: unknown, option = 'device'): Device | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^(cpu|cuda|auto|cuda:\d{1,3})$/.test(value))
    throw invalidArgument("'cpu', 'cuda', 'cuda:N' or 'auto'", option, value);
  return value as Device;
}

export function directory(value: unknown, option = 'dir'): string {
  if (typeof value !== 'string' || value.length === 0) throw invalidArgument('a model folder path', option, value);
  return value;
}

/** The mecabDictionary option: a non-empty folder path, or undefined. */
export function mecabDictionary(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw invalidArgument('a MeCab dictionary folder path', 'mecabDictionary', value);
  return value;
}

export function aborted(): Error {
  return winnowError('ABORTED', 'the operation was aborted');
}
