/** Argument checks the framework adapters share (the one message shape of lib/errors.ts). */
import { invalidArgument } from '../errors';
import * as v from '../validate';

/** `fields.model`, checked to be a loaded model with `method` (e.g. a CrossEncoder for 'rank'). */
export function modelField<M>(fields: unknown, className: string, method: string): M {
  if (typeof fields !== 'object' || fields === null) throw invalidArgument(`an object of ${className} fields`, `${className} fields`, fields);
  const model = (fields as { model?: unknown }).model;
  if (typeof model !== 'object' || model === null || typeof (model as Record<string, unknown>)[method] !== 'function') {
    throw invalidArgument(`a loaded model with ${method}()`, 'model', model);
  }
  return model as M;
}

export function optionalInt(value: unknown, option: string): number | undefined {
  return v.positiveInt(value, option);
}

/** A number from 0 to 1 (scores and thresholds). */
export function optionalNumber(value: unknown, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || Number.isNaN(value)) throw invalidArgument('a number between 0 and 1', option, value);
  if (value < 0 || value > 1) throw invalidArgument('a number between 0 and 1', option, value, 'range');
  return value;
}
