// JSONL jobs: one result line per input line, ids carried through, read and run a chunk of lines at a time (bounded
// memory whatever the input size), each chunk's lines written whole; `resume` continues an interrupted output (a
// partial last line is dropped and redone) and SIGINT stops between chunks, leaving the output resumable.
import { closeSync, createReadStream, existsSync, fstatSync, ftruncateSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { invalidArgumentText, winnowError } from '../errors';
import { Progress } from './progress';

/** Longest input line accepted: a line is one JSON value held whole. */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

export interface JobLine {
  /** The line's `id`, else its position among the input's non-blank lines (from 0). */
  id: unknown;
  value: Record<string, unknown>;
}

export interface JobSpec<T> {
  /** What the job is called in messages ('score'). */
  name: string;
  /** Reads one parsed line into the job's item; throws (with the message naming the field) when it lacks one. */
  parse(value: Record<string, unknown>): T;
  /** The results of a chunk of items, in order, one object per item (written after the id). */
  run(items: T[], signal: AbortSignal): Promise<Array<Record<string, unknown>>>;
}

export interface JobOptions {
  /** Input file, or '-' / undefined for stdin. */
  input?: string;
  /** Output file, or '-' / undefined for stdout. */
  output?: string;
  /** Continue the output file where it stopped. */
  resume?: boolean;
  /** Replace an existing output file. */
  overwrite?: boolean;
  /** Input lines per chunk. */
  chunkSize?: number;
  /** Progress on stderr: a bar on a terminal, plain lines otherwise; false for none. */
  progress?: boolean;
  /** Stops the job between chunks (the CLI aborts it on SIGINT). */
  signal?: AbortSignal;
}

export interface JobResult {
  /** Lines written by this run. */
  written: number;
  /** Lines the output held before (resume). */
  skipped: number;
  /** Whether the job stopped before the input's end (signal). */
  stopped: boolean;
}

function lineError(file: string, line: number, message: string): Error {
  return invalidArgumentText(`${file}:${line}: ${message}`);
}

/** Lines of a stream with the bytes consumed so far; a line longer than MAX_LINE_BYTES is an error. */
export async function* lines(stream: AsyncIterable<Buffer>, file: string): AsyncGenerator<{ text: string; bytes: number }> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let bytes = 0;
  let lineNo = 0;
  for await (const chunk of readErrorsNamed(stream, file)) {
    bytes += chunk.length;
    pending += decoder.write(chunk);
    let start = 0;
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n', start)) {
      lineNo++;
      yield { text: pending.slice(start, nl), bytes };
      start = nl + 1;
    }
    pending = pending.slice(start);
    if (Buffer.byteLength(pending) > MAX_LINE_BYTES) throw lineError(file, lineNo + 1, `line longer than ${MAX_LINE_BYTES} bytes`);
  }
  pending += decoder.end();
  if (pending.length > 0) yield { text: pending, bytes };
}

/** The stream's chunks; a read error (EIO, ...) becomes IO_ERROR naming the file. */
async function* readErrorsNamed(stream: AsyncIterable<Buffer>, file: string): AsyncGenerator<Buffer> {
  try {
    yield* stream;
  } catch (e) {
    if (typeof (e as NodeJS.ErrnoException).syscall === 'string') throw winnowError('IO_ERROR', `${file}: cannot read the input: ${(e as Error).message}`);
    throw e;
  }
}

/** Reads the existing output for `resume`: drops a partial last line, returns the complete lines' count and last id. */
function prepareResume(output: string): { done: number; lastId: unknown } {
  const fd = openSync(output, 'r+');
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.allocUnsafe(1 << 20);
    let done = 0;
    let lastEnd = 0; // bytes up to and including the last newline
    for (let pos = 0; pos < size;) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
      for (let i = buf.indexOf(10, 0); i >= 0 && i < n; i = buf.indexOf(10, i + 1)) {
        done++;
        lastEnd = pos + i + 1;
      }
      pos += n;
    }
    if (lastEnd < size) ftruncateSync(fd, lastEnd); // a line cut short by a kill: it is redone
    let lastId: unknown;
    if (done > 0) {
      const text = lastLine(fd, lastEnd, output);
      try {
        lastId = (JSON.parse(text) as { id?: unknown }).id;
      } catch {
        throw invalidArgumentText(`${output}: line ${done} is not JSON: it was not written by this job; cannot resume`);
      }
    }
    return { done, lastId };
  } finally {
    closeSync(fd);
  }
}

/** The line that ends at byte `end` (just after its newline), read backwards. */
function lastLine(fd: number, end: number, file: string): string {
  const parts: Buffer[] = [];
  let pos = end - 1;
  while (pos > 0) {
    const len = Math.min(1 << 16, pos);
    const b = Buffer.allocUnsafe(len);
    readSync(fd, b, 0, len, pos - len);
    const nl = b.lastIndexOf(10);
    if (nl >= 0) {
      parts.unshift(b.subarray(nl + 1));
      break;
    }
    parts.unshift(b);
    pos -= len;
    if (end - pos > MAX_LINE_BYTES) throw invalidArgumentText(`${file}: its last line is longer than ${MAX_LINE_BYTES} bytes; cannot resume`);
  }
  return Buffer.concat(parts).toString('utf8');
}

/**
 * One non-blank input line read into the job's item, with its id (the line's `id`, else its `position` among the
 * input's non-blank lines); a line that is not a JSON object, or lacks a field, throws INVALID_ARGUMENT as `file:lineNo: ...`.
 */
export function parseLine<T>(spec: JobSpec<T>, text: string, position: number, file: string, lineNo: number): { id: unknown; item: T } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw lineError(file, lineNo, `not JSON (${(e as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw lineError(file, lineNo, 'expected a JSON object');
  let item: T;
  try {
    item = spec.parse(value as Record<string, unknown>);
  } catch (e) {
    throw lineError(file, lineNo, (e as Error).message);
  }
  return { id: (value as { id?: unknown }).id ?? position, item };
}

/** The output lines of a chunk: each id, then its result's fields. */
export function resultLines(batch: ReadonlyArray<{ id: unknown }>, results: ReadonlyArray<Record<string, unknown>>): string {
  let text = '';
  for (let i = 0; i < batch.length; i++) text += JSON.stringify({ id: batch[i].id, ...results[i] }) + '\n';
  return text;
}

/** Runs a job over JSONL input. */
export async function runJob<T>(spec: JobSpec<T>, o: JobOptions): Promise<JobResult> {
  const chunkSize = o.chunkSize ?? 1024;
  const inputName = o.input === undefined || o.input === '-' ? 'stdin' : o.input;
  const toStdout = o.output === undefined || o.output === '-';
  if (o.resume && toStdout) throw invalidArgumentText('--resume needs an output file (-o FILE)');
  // The input is opened first, the output last: a job that cannot read its input creates or truncates nothing.
  const input = inputName === 'stdin' ? undefined : openInput(inputName);
  let skip = 0;
  let lastId: unknown;
  let fd = -1;
  let stream: AsyncIterable<Buffer> | undefined;
  try {
    if (!toStdout && existsSync(o.output!) && statSync(o.output!).size > 0) {
      if (o.resume) ({ done: skip, lastId } = prepareResume(o.output!));
      else if (!o.overwrite) throw invalidArgumentText(`${o.output} exists: pass --resume to continue it, or --overwrite to replace it`);
    }
    // The stream owns the input's descriptor from here (closed when it ends or is destroyed).
    stream = input ? createReadStream('', { fd: input.fd }) : process.stdin;
    fd = toStdout ? 1 : openOutput(o.output!, o.resume ? 'a' : 'w');
  } catch (e) {
    if (input && stream === undefined) closeSync(input.fd);
    else if (stream && stream !== process.stdin) (stream as ReturnType<typeof createReadStream>).destroy();
    throw e;
  }
  const total = input?.size;
  const progress = o.progress === false ? undefined : new Progress(spec.name, total);
  let index = 0; // non-blank input lines seen
  let lineNo = 0;
  let written = 0;
  let bytes = 0;
  let batch: Array<{ id: unknown; item: T }> = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const results = await spec.run(batch.map((b) => b.item), o.signal ?? new AbortController().signal);
    await writeAll(fd, resultLines(batch, results));
    written += batch.length;
    batch = [];
    progress?.update(bytes, skip + written, written);
  };
  let stopped = false;
  try {
    for await (const line of lines(stream!, inputName)) {
      lineNo++;
      bytes = line.bytes;
      if (line.text.trim() === '') continue;
      const position = index++;
      if (position < skip) {
        if (position === skip - 1 && lastId !== undefined) {
          const id = idOf(line.text, position, inputName, lineNo);
          if (JSON.stringify(id) !== JSON.stringify(lastId)) {
            throw invalidArgumentText(`${o.output} does not continue ${inputName}: its line ${skip} has id ${JSON.stringify(lastId)}, the input's line ${lineNo} id ${JSON.stringify(id)}`);
          }
        }
        continue;
      }
      batch.push(parseLine(spec, line.text, position, inputName, lineNo));
      // Chunks end at multiples of chunkSize from the input's start, so a resumed run batches as an uninterrupted one.
      if ((position + 1) % chunkSize === 0) {
        if (o.signal?.aborted) break;
        await flush();
      }
      if (o.signal?.aborted) break;
    }
    if (o.signal?.aborted) {
      stopped = true;
      batch = [];
    } else if (index < skip) {
      // The input ended before the lines the output already holds: it is another input (or a cut copy).
      throw invalidArgumentText(`${o.output} holds ${skip} lines but ${inputName} has only ${index}: it does not continue this input; cannot resume`);
    } else await flush();
  } catch (e) {
    if (o.signal?.aborted && (e as { code?: string }).code === 'ABORTED') stopped = true;
    else throw e;
  } finally {
    progress?.stop(skip + written, written);
    if (!toStdout) closeSync(fd);
    if (stream !== process.stdin) (stream as ReturnType<typeof createReadStream>).destroy();
  }
  return { written, skipped: skip, stopped };
}

function openOutput(file: string, flags: 'a' | 'w'): number {
  try {
    return openSync(file, flags);
  } catch (e) {
    throw winnowError('IO_ERROR', `${file}: cannot write the output: ${(e as Error).message}`);
  }
}

/** Opens the input file for reading, or throws IO_ERROR naming it (missing, a folder, unreadable). */
function openInput(file: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw winnowError('IO_ERROR', `${file}: cannot read the input: ${why}`);
  }
  const st = fstatSync(fd);
  if (st.isDirectory()) {
    closeSync(fd);
    throw winnowError('IO_ERROR', `${file}: cannot read the input: it is a folder`);
  }
  return { fd, size: st.size };
}

function idOf(text: string, position: number, file: string, lineNo: number): unknown {
  try {
    return (JSON.parse(text) as { id?: unknown }).id ?? position;
  } catch (e) {
    throw lineError(file, lineNo, `not JSON (${(e as Error).message})`);
  }
}

/** Writes whole: a file synchronously (a kill leaves at most one partial line), stdout through its stream. */
async function writeAll(fd: number, text: string): Promise<void> {
  if (fd === 1) {
    await new Promise<void>((resolve, reject) => process.stdout.write(text, (e) => (e ? reject(e) : resolve())));
    return;
  }
  const buf = Buffer.from(text);
  for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off);
}
