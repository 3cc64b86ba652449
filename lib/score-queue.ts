// Score jobs sharded over BullMQ on Redis (`winnow-native/queue`, `winnow score --queue`, `winnow worker`,
// `winnow status`): a parent job with one child per chunk of input lines; workers on any number of machines score
// chunks and store each chunk's output lines under its index (a rerun replaces, never duplicates); the producer
// assembles them in input order. docs/queue.md.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, existsSync, fstatSync, fsyncSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DelayedError, FlowProducer, Job, Queue, Worker } from 'bullmq';
import type { ConnectionOptions } from 'bullmq';
import { invalidArgument, invalidArgumentText, winnowError } from './errors';
import { resolveModelDir } from './hub-cache';
import { lines, parseLine, resultLines } from './cli/jobs';
import { scoreSpec } from './cli/score-spec';
import type { ScorePair } from './cli/score-spec';
import { detectTask, disposeModels, loadModel, parseModelSpec } from './server/models';

/** The BullMQ queue score jobs use unless told otherwise. */
export const DEFAULT_QUEUE_NAME = 'winnow-score';
/** Non-blank input lines per chunk (one BullMQ child job) unless told otherwise. */
export const DEFAULT_CHUNK_LINES = 1024;
/** How long a finished job's summary stays readable by `scoreJobStatus` after its data is removed. */
const SUMMARY_TTL_S = 7 * 24 * 3600;
/** How long a worker with another model puts a chunk aside before any worker may take it again. */
const REFUSE_DELAY_MS = 2000;
/** Malformed lines kept with their messages in a job's status (all are counted, and all get an error line). */
const MALFORMED_LISTED = 100;
/** Input characters a producer adds to Redis at a time (its memory bound while enqueueing). */
const ENQUEUE_SLICE_BYTES = 4 << 20;

export interface QueueOptions {
  /** The BullMQ queue (default 'winnow-score'): producer, workers and status must name the same one. */
  queueName?: string;
}

export interface EnqueueScoreOptions extends QueueOptions {
  /** JSONL input file, or '-' / undefined for stdin. */
  input?: string;
  /** Non-blank input lines per chunk (default 1024). */
  chunkSize?: number;
  /** Logits, without the model activation. */
  rawScores?: boolean;
  /** The job's id (letters, digits, '.', '_', '-'; starting with a letter); default: a new one. */
  jobId?: string;
  /** Runs of a chunk before it fails the job (default 3). */
  attempts?: number;
  /** With a jobId that already exists: attach to it instead of refusing. */
  attach?: boolean;
  /** The model's hub revision (with a hub id). */
  revision?: string;
}

export interface EnqueuedScoreJob {
  jobId: string;
  chunks: number;
  lines: number;
  /** The job existed (attach): nothing was added, or only the chunks its stopped producer had not added. */
  attached: boolean;
}

export interface ScoreWorkerOptions extends QueueOptions {
  /** ONNX Runtime threads (default: one per core). */
  threads?: number;
  device?: 'cpu' | 'cuda' | 'auto';
  revision?: string;
  /** Chunks a worker holds at once (default 2: one scoring while the next is fetched and parsed). */
  chunksAtOnce?: number;
  /** ms a chunk's lock lasts without renewal (BullMQ lockDuration, default 30000): a killed worker's chunk is free after it. */
  lockDuration?: number;
  /** ms between stalled-chunk checks (BullMQ stalledInterval, default 30000). */
  stalledInterval?: number;
  /** Times a chunk may be found stalled (its worker gone) before it fails (default 5). */
  maxStalledCount?: number;
  /** Name in logs and refusals (default host:pid). */
  workerId?: string;
  /** Log lines (refusals, failed chunks); default: none. */
  log?: (line: string) => void;
}

export interface ScoreWorker {
  readonly workerId: string;
  /** The model fingerprint this worker takes jobs for. */
  readonly fingerprint: string;
  /** Chunks scored, and chunks put aside because their job asks for another model. */
  counters(): { chunks: number; lines: number; refused: number };
  /** Finishes the chunks in hand, then stops (and disposes the model). */
  close(): Promise<void>;
}

export interface MalformedLine {
  /** 1-based line number in the job's input. */
  line: number;
  message: string;
}

export interface ScoreJobStatus {
  jobId: string;
  /** enqueueing: chunks still being added; queued / running: chunks left; finishing: all scored, being checked; completed: ready to assemble; failed: a chunk spent its attempts; assembled: output written, data removed. */
  state: 'enqueueing' | 'queued' | 'running' | 'finishing' | 'completed' | 'failed' | 'assembled';
  model: string;
  fingerprint: string;
  input: string;
  chunks: { total: number; done: number };
  lines: { total: number; done: number };
  /** Malformed input lines (count, and the first 100 with their messages). */
  malformed: { count: number; lines: MalformedLine[] };
  /** Chunks that spent their attempts, with the last reason. */
  failures: Array<{ chunk: number; firstLine: number; attempts: number; reason: string }>;
  /** Workers that refused chunks of this job (another model). */
  refusals: Array<{ worker: string; model: string; fingerprint: string }>;
}

export interface WaitScoreOptions extends QueueOptions {
  /** Output file, or '-' / undefined for stdout. Written whole at the end (a temporary file renamed). */
  output?: string;
  onProgress?: (s: ScoreJobStatus) => void;
  /** Stops waiting (the job goes on in Redis; wait again to attach). */
  signal?: AbortSignal;
  /** ms between status polls (default 500). */
  pollMs?: number;
  /** Keep the job's data in Redis after assembling (default: removed, a summary kept for 7 days). */
  keep?: boolean;
}

export interface ScoreJobResult {
  jobId: string;
  lines: number;
  /** Malformed lines: each has an output line with "error" in place of the score. */
  malformed: { count: number; lines: MalformedLine[] };
}

interface ParentData {
  kind: 'job';
  jobId: string;
  model: string;
  fingerprint: string;
  input: string;
  /** Chunks and lines added so far; the whole input's once `enqueued`. */
  chunks: number;
  lines: number;
  rawScores: boolean;
  chunkSize: number;
  enqueued: boolean;
}

interface ChunkData {
  kind: 'chunk';
  jobId: string;
  index: number;
  fingerprint: string;
  input: string;
  rawScores: boolean;
  /** Line number (1-based) of the chunk's first raw line, and the position of its first non-blank line. */
  firstLine: number;
  firstPosition: number;
  /** The raw input lines (blank ones kept, for the line numbers), joined with '\n'. */
  text: string;
}

interface ChunkMeta {
  lines: number;
  malformed: MalformedLine[];
  worker: string;
}

/** BullMQ connection options from a redis:// or rediss:// URL (user, password and db number as in the URL). */
export function redisConnection(url: string): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalidArgument('a redis:// or rediss:// URL', 'the queue', url);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw invalidArgument('a redis:// or rediss:// URL', 'the queue', url);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isSafeInteger(db) || db < 0) throw invalidArgument('a database number after the host', 'the queue', url);
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db,
    tls: u.protocol === 'rediss:' ? {} : undefined,
    // Commands wait through a Redis restart (reconnecting) instead of failing after a few retries.
    maxRetriesPerRequest: null,
  };
}

const WEIGHT_FILE = /\.(onnx|onnx_data|data|safetensors|bin|pt|pth|gguf)$/;
const TEXT_FILE = /\.(json|txt|model|vocab)$/;
const SAMPLE = 1 << 20;

/**
 * A model folder's fingerprint: sha256 over its config/tokenizer/vocabulary files (whole) and each weight file's
 * size with its first, middle and last MiB. Machine-independent (no paths, no mtimes); two folders with the same
 * files give the same value.
 */
export function modelFingerprint(dir: string): string {
  const h = createHash('sha256');
  const walk = (rel: string, depth: number): string[] => readdirSync(path.join(dir, rel)).sort().flatMap((name) => {
    const p = rel ? `${rel}/${name}` : name;
    const st = statSync(path.join(dir, p));
    if (st.isDirectory()) return depth < 2 ? walk(p, depth + 1) : [];
    return WEIGHT_FILE.test(name) || TEXT_FILE.test(name) ? [p] : [];
  });
  for (const rel of walk('', 0)) {
    const fd = openSync(path.join(dir, rel), 'r');
    try {
      const size = fstatSync(fd).size;
      const fh = createHash('sha256');
      const whole = !WEIGHT_FILE.test(rel) || size <= 3 * SAMPLE;
      const buf = Buffer.allocUnsafe(SAMPLE);
      const spans = whole ? [[0, size]] : [[0, SAMPLE], [Math.floor(size / 2), SAMPLE], [size - SAMPLE, SAMPLE]];
      for (const [start, len] of spans) {
        for (let pos = start; pos < start + len;) {
          const n = readSync(fd, buf, 0, Math.min(buf.length, start + len - pos), pos);
          if (n === 0) break;
          fh.update(buf.subarray(0, n));
          pos += n;
        }
      }
      h.update(`${rel}\0${size}\0${fh.digest('hex')}\n`);
    } finally {
      closeSync(fd);
    }
  }
  return h.digest('hex');
}

function keys(queueName: string, jobId: string) {
  const base = `bull:${queueName}:winnow:${jobId}`;
  return { out: `${base}:out`, meta: `${base}:meta`, refused: `${base}:refused`, summary: `${base}:summary` };
}

/** Score jobs need a model that scores pairs: a cross-encoder (rerank, classify) or a pruning model. */
function checkScores(model: string, task: string): void {
  if (task !== 'rerank' && task !== 'classify' && task !== 'prune') {
    throw invalidArgumentText(`${model} is a model for ${task === 'static' ? 'embed' : task}: score jobs need a cross-encoder (rerank, classify) or a pruning model`);
  }
}

const JOB_ID = /^[A-Za-z][A-Za-z0-9._-]{0,99}$/;

function checkJobId(jobId: string): void {
  if (typeof jobId !== 'string' || !JOB_ID.test(jobId)) {
    throw invalidArgument('a job id of letters, digits, ".", "_" and "-" (starting with a letter, at most 100)', 'jobId', jobId);
  }
}

function positiveInt(v: number | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isSafeInteger(v) || v < 1) throw invalidArgument('a positive integer', name, v, 'range');
  return v;
}

/** Opens the job's input (a file, or stdin for '-' / none); IO_ERROR naming it when it cannot be read. */
function openInput(input: string | undefined): { name: string; stream: AsyncIterable<Buffer> & { destroy?: () => void } } {
  const name = input === undefined || input === '-' ? 'stdin' : input;
  if (name === 'stdin') return { name, stream: process.stdin };
  let fd: number;
  try {
    fd = openSync(name, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw winnowError('IO_ERROR', `${name}: cannot read the input: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  if (fstatSync(fd).isDirectory()) {
    closeSync(fd);
    throw winnowError('IO_ERROR', `${name}: cannot read the input: it is a folder`);
  }
  return { name, stream: createReadStream('', { fd }) };
}

/** The chunks of a JSONL input: `chunkSize` non-blank lines each (blank lines ride along for the line numbers). */
async function* chunksOf(stream: AsyncIterable<Buffer>, name: string, chunkSize: number): AsyncGenerator<Omit<ChunkData, 'kind' | 'jobId' | 'fingerprint' | 'rawScores' | 'input'> & { count: number }> {
  let index = 0;
  let lineNo = 0;
  let position = 0;
  let raw: string[] = [];
  let firstLine = 1;
  let firstPosition = 0;
  let inChunk = 0;
  for await (const line of lines(stream, name)) {
    lineNo++;
    raw.push(line.text);
    if (line.text.trim() === '') continue;
    position++;
    if (++inChunk === chunkSize) {
      yield { index: index++, firstLine, firstPosition, text: raw.join('\n'), count: inChunk };
      raw = [];
      inChunk = 0;
      firstLine = lineNo + 1;
      firstPosition = position;
    }
  }
  if (inChunk > 0) yield { index: index++, firstLine, firstPosition, text: raw.join('\n'), count: inChunk };
}

/**
 * Enqueues a score job: a parent BullMQ job held back by a gate child while one child per chunk of the input is
 * added, a slice at a time. The model folder is read for its task and fingerprint (workers with another model
 * refuse the job's chunks); it is not loaded here.
 */
export async function enqueueScoreJob(redisUrl: string, model: string, o: EnqueueScoreOptions = {}): Promise<EnqueuedScoreJob> {
  const connection = redisConnection(redisUrl);
  const queueName = o.queueName ?? DEFAULT_QUEUE_NAME;
  const chunkSize = positiveInt(o.chunkSize, 'chunkSize', DEFAULT_CHUNK_LINES);
  const attempts = positiveInt(o.attempts, 'attempts', 3);
  const jobId = o.jobId ?? `score-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  checkJobId(jobId);
  const spec = parseModelSpec(model);
  const dir = resolveModelDir(spec.id, o.revision);
  checkScores(model, spec.task ?? detectTask(dir));
  const fingerprint = modelFingerprint(dir);
  // The input is opened first: a job whose input cannot be read is not created.
  const { name: input, stream } = openInput(o.input);
  const queue = new Queue(queueName, { connection });
  const gates = new Queue(`${queueName}-gate`, { connection });
  let created = false;
  try {
    let parent = await queue.getJob(jobId);
    const existed = parent !== undefined;
    let data: ParentData;
    if (parent) {
      if (!o.attach) throw invalidArgumentText(`job ${jobId} already exists in queue ${queueName}: wait for it (attach) or pick another id`);
      data = parent.data as ParentData;
      if (data.fingerprint !== fingerprint) {
        throw invalidArgumentText(`job ${jobId} is for another model (fingerprint ${data.fingerprint.slice(0, 12)}; ${model} has ${fingerprint.slice(0, 12)})`);
      }
      if (data.enqueued) return { jobId, chunks: data.chunks, lines: data.lines, attached: true };
      // Its producer stopped while adding chunks: add them again from the same input (the done ones are skipped).
      if (input === 'stdin' || data.input !== input) {
        throw invalidArgumentText(`job ${jobId} was not fully enqueued (its producer stopped): give its input${data.input === 'stdin' ? ' (it was read from stdin: enqueue it again under another id)' : ` (${data.input})`} to continue it`);
      }
    } else {
      data = { kind: 'job', jobId, model: spec.id, fingerprint, input, chunks: 0, lines: 0, rawScores: o.rawScores ?? false, chunkSize, enqueued: false };
      // The gate, a child nobody runs, holds the parent back while the chunks are added; removed once they all are.
      const flow = new FlowProducer({ connection });
      try {
        await flow.add({
          name: 'job', queueName, data, opts: { jobId, attempts: 3, removeOnComplete: false, removeOnFail: false },
          children: [{ name: 'gate', queueName: gates.name, data: { jobId }, opts: { jobId: `${jobId}.gate` } }],
        });
      } finally {
        await flow.close();
      }
      created = true;
      parent = (await queue.getJob(jobId))!;
    }
    const done = new Set(Object.keys(await (await queue.client).hgetall(keys(queueName, jobId).meta)));
    let slice: Parameters<Queue['addBulk']>[0] = [];
    let sliceBytes = 0;
    let chunks = 0;
    let lineCount = 0;
    const flush = async () => {
      if (slice.length > 0) await queue.addBulk(slice);
      slice = [];
      sliceBytes = 0;
      await parent!.updateData({ ...data, chunks, lines: lineCount });
    };
    // Added a slice at a time: the producer holds at most ENQUEUE_SLICE_BYTES of the input.
    for await (const { count, ...c } of chunksOf(stream, input, data.chunkSize)) {
      chunks++;
      lineCount += count;
      if (done.has(String(c.index))) continue;
      const chunk: ChunkData = { kind: 'chunk', jobId, fingerprint, input, rawScores: data.rawScores, ...c };
      slice.push({
        name: 'chunk', data: chunk,
        opts: {
          jobId: `${jobId}.${c.index}`, parent: { id: jobId, queue: `bull:${queueName}` }, attempts,
          backoff: { type: 'exponential', delay: 1000 }, failParentOnFailure: true, removeOnComplete: true, removeOnFail: false,
        },
      });
      sliceBytes += c.text.length;
      if (sliceBytes >= ENQUEUE_SLICE_BYTES) await flush();
    }
    await flush();
    data = { ...data, chunks, lines: lineCount, enqueued: true };
    await parent.updateData(data);
    await (await gates.getJob(`${jobId}.gate`))?.remove();
    return { jobId, chunks, lines: lineCount, attached: existed };
  } catch (e) {
    // A job this call created and could not finish enqueueing (a line too long, a read error) is removed whole.
    if (created) {
      // Best effort (a chunk a worker holds cannot be removed): the error the caller needs is the first one.
      await queue.remove(jobId, { removeChildren: true }).catch(() => {});
      await (await queue.client).del(...Object.values(keys(queueName, jobId))).catch(() => {});
    }
    throw e;
  } finally {
    if (input !== 'stdin') stream.destroy?.();
    await gates.close();
    await queue.close();
  }
}

/** Scores one chunk's lines; a malformed line gets {"id", "error"} (the rest are scored) and is listed. */
async function scoreChunk(d: ChunkData, spec: ReturnType<typeof scoreSpec>): Promise<{ text: string; lines: number; malformed: MalformedLine[] }> {
  const raw = d.text.split('\n');
  const good: Array<{ id: unknown; item: ScorePair; at: number }> = [];
  const rows: Array<{ id: unknown; error?: string }> = [];
  const malformed: MalformedLine[] = [];
  let position = d.firstPosition;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i].trim() === '') continue;
    const lineNo = d.firstLine + i;
    try {
      const p = parseLine(spec, raw[i], position, d.input, lineNo);
      good.push({ ...p, at: rows.length });
      rows.push({ id: p.id });
    } catch (e) {
      const message = (e as Error).message;
      malformed.push({ line: lineNo, message: message.slice(`${d.input}:${lineNo}: `.length) });
      let id: unknown = position;
      try {
        id = (JSON.parse(raw[i]) as { id?: unknown })?.id ?? position;
      } catch { /* not JSON: its position */ }
      rows.push({ id, error: message });
    }
    position++;
  }
  const results = good.length > 0 ? await spec.run(good.map((g) => g.item), new AbortController().signal) : [];
  const shaped: Array<Record<string, unknown>> = rows.map((r) => ({ error: r.error }));
  good.forEach((g, k) => (shaped[g.at] = results[k]));
  return { text: resultLines(rows, shaped), lines: rows.length, malformed };
}

/** Starts a worker: loads the model, then scores chunks of jobs whose fingerprint is its model's, until closed. */
export async function runScoreWorker(redisUrl: string, model: string, o: ScoreWorkerOptions = {}): Promise<ScoreWorker> {
  const connection = redisConnection(redisUrl);
  const queueName = o.queueName ?? DEFAULT_QUEUE_NAME;
  const chunksAtOnce = positiveInt(o.chunksAtOnce, 'chunksAtOnce', 2);
  const lockDuration = positiveInt(o.lockDuration, 'lockDuration', 30_000);
  const stalledInterval = positiveInt(o.stalledInterval, 'stalledInterval', 30_000);
  const maxStalledCount = positiveInt(o.maxStalledCount, 'maxStalledCount', 5);
  const log = o.log ?? (() => {});
  const workerId = o.workerId ?? `${os.hostname()}:${process.pid}`;
  const m = await loadModel(parseModelSpec(model), { threads: o.threads, device: o.device, revision: o.revision });
  let fingerprint: string;
  try {
    checkScores(model, m.task);
    fingerprint = modelFingerprint(m.dir);
  } catch (e) {
    await disposeModels([m]);
    throw e;
  }
  const specs = { plain: scoreSpec(m, false), raw: scoreSpec(m, true) };
  const counts = { chunks: 0, lines: 0, refused: 0 };
  const refusedJobs = new Set<string>();
  const worker: Worker = new Worker(queueName, async (job: Job, token?: string) => {
    const redis = await worker.client;
    const data = job.data as ChunkData | ParentData;
    const k = keys(queueName, data.jobId);
    if (data.kind === 'job') {
      // Every chunk is done: check each left its result (none missing), then the job is complete.
      const metas = Object.values(await redis.hgetall(k.meta));
      if (metas.length !== data.chunks) throw new Error(`job ${data.jobId}: ${metas.length} of ${data.chunks} chunk results in Redis`);
      const lineCount = metas.reduce((sum, v) => sum + (JSON.parse(v) as ChunkMeta).lines, 0);
      if (lineCount !== data.lines) throw new Error(`job ${data.jobId}: the chunks hold ${lineCount} lines, the input ${data.lines}`);
      return { lines: lineCount };
    }
    if (data.fingerprint !== fingerprint) {
      // Another model: put the chunk back for a while (no attempt spent) and say so where the producer sees it.
      counts.refused++;
      await redis.hset(k.refused, { [workerId]: JSON.stringify({ model: m.id, fingerprint }) });
      if (!refusedJobs.has(data.jobId)) {
        refusedJobs.add(data.jobId);
        log(`refused job ${data.jobId}: it asks for model fingerprint ${data.fingerprint.slice(0, 12)}, this worker has ${m.id} (${fingerprint.slice(0, 12)})`);
      }
      await job.moveToDelayed(Date.now() + REFUSE_DELAY_MS, token);
      throw new DelayedError();
    }
    const r = await scoreChunk(data, data.rawScores ? specs.raw : specs.plain);
    const meta: ChunkMeta = { lines: r.lines, malformed: r.malformed, worker: workerId };
    // One field per chunk index, both written at once: a rerun replaces them.
    const res = await redis.multi().hset(k.out, { [data.index]: r.text }).hset(k.meta, { [data.index]: JSON.stringify(meta) }).exec();
    const failed = res?.find(([e]) => e);
    if (!res || failed) throw new Error(`job ${data.jobId} chunk ${data.index}: storing the result failed: ${failed?.[0]?.message ?? 'transaction aborted'}`);
    counts.chunks++;
    counts.lines += r.lines;
    return { lines: r.lines, malformed: r.malformed.length };
  }, { connection, concurrency: chunksAtOnce, lockDuration, stalledInterval, maxStalledCount, autorun: false });
  worker.on('failed', (job, err) => {
    if (job && !(err instanceof DelayedError)) log(`chunk ${job.id} failed (attempt ${job.attemptsMade}): ${err.message}`);
  });
  worker.on('error', (err) => log(`redis: ${err.message}`));
  worker.run().catch((e: Error) => log(`stopped: ${e.message}`));
  await worker.waitUntilReady();
  return {
    workerId,
    fingerprint,
    counters: () => ({ ...counts }),
    close: async () => {
      await worker.close();
      await disposeModels([m]);
    },
  };
}

async function readStatus(queue: Queue, jobId: string): Promise<ScoreJobStatus> {
  const redis = await queue.client;
  const k = keys(queue.name, jobId);
  const parent = await queue.getJob(jobId);
  if (!parent) {
    const summary = await redis.get(k.summary);
    if (summary) return JSON.parse(summary) as ScoreJobStatus;
    throw invalidArgumentText(`no job ${jobId} in queue ${queue.name}`);
  }
  const d = parent.data as ParentData;
  const [metaAll, refused, bullState] = await Promise.all([redis.hgetall(k.meta), redis.hgetall(k.refused), parent.getState()]);
  const metaVals = Object.values(metaAll);
  let doneLines = 0;
  const malformed: MalformedLine[] = [];
  let malformedCount = 0;
  for (const v of metaVals) {
    const meta = JSON.parse(v) as ChunkMeta;
    doneLines += meta.lines;
    malformedCount += meta.malformed.length;
    for (const x of meta.malformed) if (malformed.length < MALFORMED_LISTED) malformed.push(x);
  }
  malformed.sort((a, b) => a.line - b.line);
  const failures: ScoreJobStatus['failures'] = [];
  if (bullState === 'failed') {
    for (const f of await queue.getFailed(0, 999)) {
      const c = f.data as ChunkData;
      if (c.kind === 'chunk' && c.jobId === jobId) failures.push({ chunk: c.index, firstLine: c.firstLine, attempts: f.attemptsMade, reason: f.failedReason });
    }
    if (failures.length === 0) failures.push({ chunk: -1, firstLine: 0, attempts: parent.attemptsMade, reason: parent.failedReason });
    failures.sort((a, b) => a.chunk - b.chunk);
  }
  const state: ScoreJobStatus['state'] = bullState === 'completed' ? 'completed' : bullState === 'failed' ? 'failed'
    : !d.enqueued ? 'enqueueing' : bullState === 'waiting-children' ? (metaVals.length === 0 ? 'queued' : 'running') : 'finishing';
  return {
    jobId, state, model: d.model, fingerprint: d.fingerprint, input: d.input,
    chunks: { total: d.chunks, done: metaVals.length },
    lines: { total: d.lines, done: doneLines },
    malformed: { count: malformedCount, lines: malformed },
    failures,
    refusals: Object.entries(refused).map(([worker, v]) => ({ worker, ...(JSON.parse(v) as { model: string; fingerprint: string }) })),
  };
}

/** Where a score job stands: chunks and lines done, malformed lines, failed chunks, refusing workers. */
export async function scoreJobStatus(redisUrl: string, jobId: string, o: QueueOptions = {}): Promise<ScoreJobStatus> {
  checkJobId(jobId);
  const queue = new Queue(o.queueName ?? DEFAULT_QUEUE_NAME, { connection: redisConnection(redisUrl) });
  try {
    return await readStatus(queue, jobId);
  } finally {
    await queue.close();
  }
}

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
  const done = () => {
    clearTimeout(t);
    signal?.removeEventListener('abort', done);
    resolve();
  };
  const t = setTimeout(done, ms);
  signal?.addEventListener('abort', done, { once: true });
});

/**
 * Waits for a score job, then writes its chunks' lines in input order to the output (whole: a temporary file
 * renamed over it). A chunk that spent its attempts rejects with JOB_FAILED; malformed lines are in the result.
 */
export async function waitForScoreJob(redisUrl: string, jobId: string, o: WaitScoreOptions = {}): Promise<ScoreJobResult> {
  checkJobId(jobId);
  const queueName = o.queueName ?? DEFAULT_QUEUE_NAME;
  const pollMs = positiveInt(o.pollMs, 'pollMs', 500);
  const queue = new Queue(queueName, { connection: redisConnection(redisUrl) });
  try {
    let s: ScoreJobStatus;
    for (;;) {
      s = await readStatus(queue, jobId);
      o.onProgress?.(s);
      if (s.state === 'completed') break;
      if (s.state === 'assembled') throw invalidArgumentText(`job ${jobId} was assembled already and its data removed`);
      if (s.state === 'failed') {
        const why = s.failures.map((f) => (f.chunk >= 0 ? `chunk ${f.chunk} (from input line ${f.firstLine}) failed after ${f.attempts} attempts: ${f.reason}` : f.reason)).join('; ');
        throw winnowError('JOB_FAILED', `job ${jobId} failed: ${why}`);
      }
      if (o.signal?.aborted) throw winnowError('ABORTED', `stopped waiting for job ${jobId}; it goes on in Redis`);
      await sleep(pollMs, o.signal);
    }
    await assemble(queue, jobId, s, o.output);
    const redis = await queue.client;
    const k = keys(queueName, jobId);
    if (!o.keep) {
      await redis.set(k.summary, JSON.stringify({ ...s, state: 'assembled' }), { EX: SUMMARY_TTL_S });
      await queue.remove(jobId, { removeChildren: true });
      await redis.del(k.out, k.meta, k.refused);
    }
    return { jobId, lines: s.lines.total, malformed: s.malformed };
  } finally {
    await queue.close();
  }
}

async function assemble(queue: Queue, jobId: string, s: ScoreJobStatus, output: string | undefined): Promise<void> {
  const redis = await queue.client;
  const k = keys(queue.name, jobId);
  const toStdout = output === undefined || output === '-';
  const tmp = toStdout ? '' : path.join(path.dirname(output!), `.${path.basename(output!)}.${process.pid}.part`);
  let fd = 1;
  if (!toStdout) {
    try {
      fd = openSync(tmp, 'w');
    } catch (e) {
      throw winnowError('IO_ERROR', `${output}: cannot write the output: ${(e as Error).message}`);
    }
  }
  try {
    let written = 0;
    for (let i = 0; i < s.chunks.total; i += 16) {
      const fields = Array.from({ length: Math.min(16, s.chunks.total - i) }, (_, j) => String(i + j));
      const texts = await redis.hmget(k.out, ...fields);
      for (let j = 0; j < texts.length; j++) {
        const text = texts[j];
        if (text === null) throw winnowError('JOB_FAILED', `job ${jobId}: chunk ${i + j}'s result is missing from Redis`);
        written += countLines(text);
        if (toStdout) await new Promise<void>((resolve, reject) => process.stdout.write(text, (e) => (e ? reject(e) : resolve())));
        else {
          const buf = Buffer.from(text);
          for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off);
        }
      }
    }
    if (written !== s.lines.total) throw winnowError('JOB_FAILED', `job ${jobId}: the chunks hold ${written} lines, the input ${s.lines.total}`);
    if (!toStdout) {
      fsyncSync(fd);
      closeSync(fd);
      fd = -1;
      renameSync(tmp, output!);
    }
  } finally {
    if (!toStdout && fd >= 0) closeSync(fd);
    if (!toStdout && existsSync(tmp)) rmSync(tmp, { force: true });
  }
}

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}
