const CODE_LIST = [
  'INVALID_ARGUMENT', 'MODEL_NOT_FOUND', 'CONFIG_INVALID', 'TOKENIZER_INVALID', 'TOKENIZER_UNSUPPORTED', 'ONNX_INVALID',
  'ORT_LOAD_FAILED', 'INFERENCE_FAILED', 'QUERY_TOO_LONG', 'SAFETENSORS_INVALID', 'CHECKPOINT_INVALID',
  'MODEL_UNSUPPORTED', 'CUDA_UNAVAILABLE', 'BF16_UNAVAILABLE', 'IO_ERROR', 'DISPOSED', 'MODEL_BUSY', 'ABORTED', 'JOB_FAILED', 'NATIVE_LOAD_FAILED', 'INTERNAL',
] as const;

/** Errors thrown by Winnow carry a stable `code` that callers can switch on. */
export type WinnowErrorCode = (typeof CODE_LIST)[number];

export interface WinnowError extends Error {
  code: WinnowErrorCode;
}

const CODES: ReadonlySet<string> = new Set<WinnowErrorCode>(CODE_LIST);

/**
 * Whether `e` is an error thrown by Winnow, for `catch (e)`: narrows `e.code` to the codes, so that a misspelt
 * code is a compile error. (An `onProgress` that throws makes the call reject with its own error, which is not one.)
 */
export function isWinnowError(e: unknown): e is WinnowError {
  const code: unknown = e instanceof Error ? (e as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && CODES.has(code);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value) && 'length' in value) return `a ${value.constructor.name} of length ${(value as { length: number }).length}`;
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** The one message shape for every bad argument (a TypeError or RangeError with code INVALID_ARGUMENT). */
export function invalidArgument(expected: string, option: string, value: unknown, kind: 'type' | 'range' = 'type'): WinnowError {
  return invalidArgumentText(`Expected ${expected} for ${option} but received ${describe(value)} of type ${typeName(value)}`, kind);
}

/** The same error with a message of the caller's own (when the received value is better described than shown). */
export function invalidArgumentText(message: string, kind: 'type' | 'range' = 'type'): WinnowError {
  const err = (kind === 'range' ? new RangeError(message) : new TypeError(message)) as WinnowError;
  err.code = 'INVALID_ARGUMENT';
  return err;
}

export function winnowError(code: WinnowErrorCode, message: string): WinnowError {
  const err = new Error(message) as WinnowError;
  err.code = code;
  return err;
}

/** The classes are made by their static loaders; `new` from JavaScript (which ignores `private`) gets this. */
export function noConstructor(native: unknown, cls: string, how: string): void {
  if (native === undefined || native === null) {
    throw invalidArgumentText(`${cls} has no public constructor: create one with await ${how}`);
  }
}
