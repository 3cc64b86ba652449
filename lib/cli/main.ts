#!/usr/bin/env node
// The `winnow` command: serve models over HTTP, run JSONL jobs (score, rank, embed, prune, tokenize), describe a
// model (info). A thin caller of the public API; docs/cli.md.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { isWinnowError, runtimeInfo, Tokenizer } from '../index';
import { invalidArgumentText } from '../errors';
import { DEFAULTS } from '../server/defaults';
import { disposeModels, loadModel, loadModels, LoadSettings, parseModelSpec, ServedModel } from '../server/models';
import { embed, encodeMixed, prunePairs, scorePairs } from '../server/ops';
import { packageVersion } from '../server/version';
import { JobSpec, runJob } from './jobs';
import { scoreSpec, str } from './score-spec';
import { Progress } from './progress';

function int(name: string, min = 1) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer of at least ${min}`);
    return n;
  };
}

function num01(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('must be a number from 0 to 1');
  return n;
}

function loadSettings(o: { threads?: number; device?: 'cpu' | 'cuda' | 'auto'; concurrency?: number; batchAcrossCalls?: boolean; revision?: string }): LoadSettings {
  return { threads: o.threads, device: o.device, concurrency: o.concurrency, batchAcrossCalls: o.batchAcrossCalls, revision: o.revision };
}

const modelOptions = (cmd: Command) => cmd
  .option('--threads <n>', 'ONNX Runtime threads per model (default: one per core)', int('--threads'))
  .addOption(new Option('--device <device>', 'where the models run').choices(['cpu', 'cuda', 'auto']))
  .option('--revision <rev>', 'with a hub id: the branch, tag or commit of the cached snapshot');

const strings = (v: unknown, field: string): string[] => {
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new Error(`expected an array of strings for "${field}"`);
  return v;
};

type JobFlags = { output?: string; resume?: boolean; overwrite?: boolean; chunk?: number; progress?: boolean } & Parameters<typeof loadSettings>[0];

/** Runs a job with SIGINT stopping it between chunks (exit 130, output resumable). */
async function job<T>(modelId: string, input: string | undefined, flags: JobFlags, task: 'embed' | 'prune' | undefined, make: (m: ServedModel) => JobSpec<T>): Promise<void> {
  const spec = parseModelSpec(modelId);
  const m = await loadModel({ ...spec, task: spec.task ?? task }, loadSettings(flags));
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130); // a second Ctrl-C: now
    process.stderr.write('winnow: stopping after the lines written so far (Ctrl-C again to quit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const r = await runJob(make(m), {
      input, output: flags.output, resume: flags.resume, overwrite: flags.overwrite, chunkSize: flags.chunk,
      progress: flags.progress, signal: controller.signal,
    });
    const where = flags.output && flags.output !== '-' ? flags.output : 'stdout';
    if (r.stopped) {
      process.stderr.write(`winnow: stopped: ${r.skipped + r.written} lines in ${where}; run again with --resume to continue\n`);
      process.exitCode = 130;
    } else if (flags.progress !== false) {
      process.stderr.write(`winnow: ${r.written} lines written to ${where}${r.skipped ? ` after the ${r.skipped} already there` : ''}\n`);
    }
  } finally {
    process.off('SIGINT', onSigint);
    await disposeModels([m]);
  }
}

function jobCommand(program: Command, name: string, description: string): Command {
  return modelOptions(program.command(name)
    .description(description)
    .argument('<model>', 'model folder or hub id')
    .argument('[input]', 'JSONL input file (default: stdin)')
    .option('-o, --output <file>', 'JSONL output file (default: stdout)')
    .option('--resume', 'continue an interrupted output file: no line lost, none repeated')
    .option('--overwrite', 'replace an existing output file')
    .option('--chunk <lines>', 'input lines read and run at a time (memory is bounded by it)', int('--chunk'), 1024)
    .option('--no-progress', 'no progress on stderr'));
}

export function program(): Command {
  const cli = new Command('winnow')
    .description('Winnow: cross-encoder reranking, embeddings and context pruning on ONNX Runtime')
    .version(packageVersion())
    .showHelpAfterError();

  modelOptions(cli.command('serve')
    .description('serve models over HTTP (text-embeddings-inference, Cohere, Jina, OpenAI and SageMaker routes); docs/server.md')
    .argument('[models...]', 'model folders or hub ids, each as DIR or NAME=DIR (NAME:TASK=DIR picks the task: rerank, classify, embed, prune); default: $WINNOW_MODELS, else /opt/ml/model')
    .option('-p, --port <port>', 'port', int('--port', 0), Number(process.env.PORT ?? 8080))
    .option('--host <host>', 'address to listen on', '0.0.0.0')
    .option('--api-key <key>', 'require Authorization: Bearer <key> (default: $WINNOW_API_KEY)')
    .option('--max-concurrent-requests <n>', 'requests at work at once; more are answered 429', int('--max-concurrent-requests'), DEFAULTS.maxConcurrentRequests)
    .option('--max-client-batch-size <n>', 'inputs per request at most; more are answered 413', int('--max-client-batch-size'), DEFAULTS.maxClientBatchSize)
    .option('--payload-limit <bytes>', 'request body bytes at most; more are answered 413', int('--payload-limit'), DEFAULTS.payloadLimit)
    .option('--no-auto-truncate', 'answer 413 for inputs longer than the model maximum unless a request sends truncate: true')
    .option('--concurrency <n>', 'calls handed to each model at once (default 64: concurrent requests share batches)', int('--concurrency'))
    .option('--no-batch-across-calls', 'each request runs its own batches (--concurrency then defaults to 1)')
    .addOption(new Option('--log-level <level>', 'structured (JSON) log level on stdout').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')))
    .action(async (ids: string[], o) => {
      const given = ids.length > 0 ? ids : (process.env.WINNOW_MODELS?.split(/\s+/).filter(Boolean) ?? (existsSync('/opt/ml/model') ? ['/opt/ml/model'] : []));
      if (given.length === 0) throw new InvalidArgumentError('no model given: winnow serve <model dir or hub id>...');
      const apiKey: string | undefined = o.apiKey ?? process.env.WINNOW_API_KEY;
      // Checked before the models load: an empty key is a mistake (an unset variable expanded), not "no auth".
      if (apiKey === '') {
        throw invalidArgumentText(`the API key is empty (${o.apiKey === '' ? "--api-key ''" : "WINNOW_API_KEY=''"}): give a key, or leave both unset to serve without auth`);
      }
      const models = await loadModels(given.map(parseModelSpec), loadSettings(o));
      const { createServer } = await import('../server/app.js'); // fastify is loaded for `serve` only
      const app = createServer({
        models, maxConcurrentRequests: o.maxConcurrentRequests, maxClientBatchSize: o.maxClientBatchSize,
        payloadLimit: o.payloadLimit, apiKey, autoTruncate: o.autoTruncate,
        logger: { level: o.logLevel },
      });
      const address = await app.listen({ port: o.port, host: o.host });
      process.stderr.write(`winnow serve: listening on ${address} (${models.map((m) => `${m.name}: ${m.task}`).join(', ')})\n`);
      // SIGTERM (and SIGINT): stop accepting, answer every request already accepted, then exit.
      let closing = false;
      const drain = async (signal: string) => {
        if (closing) return;
        closing = true;
        app.log.info({ signal }, 'draining');
        await app.close();
        await disposeModels(models);
        process.stderr.write('winnow serve: drained, exiting\n');
        process.exit(0);
      };
      process.on('SIGTERM', () => void drain('SIGTERM'));
      process.on('SIGINT', () => void drain('SIGINT'));
    });

  jobCommand(cli, 'score', 'score (query, document) pairs: {"id", "query", "document"} -> {"id", "score"}')
    .option('--raw-scores', 'logits, without the model activation')
    .option('--queue <redis-url>', 'run on `winnow worker`s through BullMQ on this Redis (redis://host:port): enqueue --chunk lines per chunk, show progress, write the output in input order; docs/queue.md')
    .option('--queue-name <name>', 'with --queue: the BullMQ queue (default: winnow-score)')
    .option('--job-id <id>', 'with --queue: the job\'s id; an existing job of that id is attached to (a producer that stopped waiting)')
    .option('--attempts <n>', 'with --queue: runs of a chunk before the job fails', int('--attempts'), 3)
    .option('--keep', 'with --queue: keep the job\'s data in Redis after the output is written')
    .action((model, input, o) => (o.queue !== undefined ? queuedScore(model, input, o) : job(model, input, o, undefined, (m) => scoreSpec(m, o.rawScores ?? false))));

  modelOptions(cli.command('worker')
    .description('score the chunks of queued jobs (winnow score --queue) from BullMQ on Redis until stopped; SIGTERM or SIGINT finishes the chunks in hand; docs/queue.md')
    .argument('<redis-url>', 'the Redis the jobs are queued on (redis://host:port)')
    .argument('<model>', 'model folder or hub id: the same files as the job\'s (its fingerprint is checked)')
    .option('--queue-name <name>', 'the BullMQ queue (default: winnow-score)')
    .option('--chunks <n>', 'chunks held at once', int('--chunks'), 2)
    .option('--lock-duration <ms>', 'a chunk\'s lock: a killed worker\'s chunk goes to another after it', int('--lock-duration'), 30_000)
    .option('--stalled-interval <ms>', 'how often workers look for chunks whose worker is gone', int('--stalled-interval'), 30_000)
    .option('--max-stalled <n>', 'times a chunk may lose its worker before the job fails', int('--max-stalled'), 5))
    .action(async (url: string, model: string, o) => {
      const q = await import('../score-queue.js');
      const say = (line: string) => process.stderr.write(`winnow worker: ${line}\n`);
      const w = await q.runScoreWorker(url, model, {
        ...loadSettings(o), queueName: o.queueName, chunksAtOnce: o.chunks, lockDuration: o.lockDuration,
        stalledInterval: o.stalledInterval, maxStalledCount: o.maxStalled, log: say,
      });
      say(`${w.workerId} ready: model ${model} (fingerprint ${w.fingerprint.slice(0, 12)}), queue ${o.queueName ?? q.DEFAULT_QUEUE_NAME}`);
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) process.exit(130); // a second signal: now
        stopping = true;
        say(`${signal}: finishing the chunks in hand`);
        void w.close().then(() => {
          const c = w.counters();
          say(`stopped after ${c.chunks} chunks (${c.lines} lines)${c.refused ? `, ${c.refused} refused` : ''}`);
          process.exit(0);
        });
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });

  cli.command('status')
    .description('where a queued score job stands: chunks and lines done, malformed lines, failed chunks, refusing workers')
    .argument('<job>', 'the job id (printed by winnow score --queue)')
    .option('--queue <redis-url>', 'the Redis it is queued on (default: $WINNOW_QUEUE)')
    .option('--queue-name <name>', 'the BullMQ queue (default: winnow-score)')
    .option('--json', 'the status as JSON')
    .action(async (jobId: string, o) => {
      const url: string | undefined = o.queue ?? process.env.WINNOW_QUEUE;
      if (!url) throw invalidArgumentText('no queue given: winnow status <job> --queue redis://host:port');
      const q = await import('../score-queue.js');
      const s = await q.scoreJobStatus(url, jobId, { queueName: o.queueName });
      process.stdout.write(o.json ? JSON.stringify(s, null, 2) + '\n' : statusText(s));
    });

  jobCommand(cli, 'rank', 'rank documents per query: {"id", "query", "documents"} -> {"id", "results": [{"index", "score"}]}')
    .option('--top-k <k>', 'keep the best k', int('--top-k'))
    .action((model, input, o) => job(model, input, o, undefined, (m) => ({
      name: 'rank',
      parse: (v) => ({ query: str(v.query, 'query'), documents: strings(v.documents, 'documents') }),
      run: async (items, signal) => {
        const out = [];
        for (const it of items) {
          const s = await scorePairs(m, it.documents.map((d) => [it.query, d] as const), false, signal);
          const order = Array.from(s.keys()).sort((i, j) => s[j] - s[i] || i - j);
          out.push({ results: (o.topK ? order.slice(0, o.topK) : order).map((index) => ({ index, score: s[index] })) });
        }
        return out;
      },
    })));

  jobCommand(cli, 'embed', 'embed texts: {"id", "text"} -> {"id", "embedding"}')
    .option('--no-normalize', 'skip the model\'s normalization')
    .option('--dimensions <d>', 'keep the first d values (Matryoshka)', int('--dimensions'))
    .option('--prompt-name <name>', 'a prompt named in the model\'s config')
    .action((model, input, o) => job(model, input, o, 'embed', (m) => ({
      name: 'embed',
      parse: (v) => str(v.text, 'text'),
      run: async (texts, signal) => (await embed(m, texts, { normalize: o.normalize === false ? false : undefined, dimensions: o.dimensions, promptName: o.promptName, signal }))
        .map((r) => ({ embedding: Array.from(r) })),
    })));

  jobCommand(cli, 'prune', 'prune documents: {"id", "query", "document"} -> {"id", "score", "pruned_text", "compression_ratio", "kept_spans"}')
    .option('--threshold <p>', 'keep probability threshold', num01)
    .addOption(new Option('--granularity <g>', 'what is kept or dropped').choices(['sentence', 'token']))
    .action((model, input, o) => job(model, input, o, 'prune', (m) => ({
      name: 'prune',
      parse: (v) => [str(v.query, 'query'), str(v.document, 'document')] as const,
      run: async (pairs, signal) => (await prunePairs(m, pairs, { threshold: o.threshold, granularity: o.granularity, signal }))
        .map((r) => ({ score: r.rankingScore, pruned_text: r.prunedDocument, compression_ratio: r.compressionRatio, tokens_removed: r.tokensRemoved, kept_spans: r.keptSpans })),
    })));

  cli.command('tokenize')
    .description('tokenize texts: {"id", "text", "text_pair"?} -> {"id", "ids", "tokens"}')
    .argument('<model>', 'model folder, hub id, or tokenizer.json')
    .argument('[input]', 'JSONL input file (default: stdin)')
    .option('-o, --output <file>', 'JSONL output file (default: stdout)')
    .option('--resume', 'continue an interrupted output file')
    .option('--overwrite', 'replace an existing output file')
    .option('--chunk <lines>', 'input lines at a time', int('--chunk'), 1024)
    .option('--no-special-tokens', 'no special tokens ([CLS], [SEP], ...)')
    .option('--max-length <n>', 'truncate to n tokens', int('--max-length'))
    .option('--no-progress', 'no progress on stderr')
    .action(async (model: string, input, o) => {
      const tok = model.endsWith('.json') && existsSync(model) ? await Tokenizer.fromFile(model) : await Tokenizer.fromPretrained(model);
      try {
        await runJob({
          name: 'tokenize',
          parse: (v) => (v.text_pair === undefined ? str(v.text, 'text') : [str(v.text, 'text'), str(v.text_pair, 'text_pair')] as [string, string]),
          run: async (items, signal) => {
            const opts = { addSpecialTokens: o.specialTokens, maxLength: o.maxLength, signal };
            const enc = await encodeMixed(tok, items, opts);
            return enc.map((e) => ({ ids: Array.from(e.ids), tokens: Array.from(e.ids, (id) => tok.idToToken(id) ?? null) }));
          },
        }, { input, output: o.output, resume: o.resume, overwrite: o.overwrite, chunkSize: o.chunk, progress: o.progress });
      } finally {
        tok.dispose();
      }
    });

  modelOptions(cli.command('info')
    .description('what Winnow finds in a model folder: files, architecture, tokenizer, task, source (ONNX file or checkpoint), device')
    .argument('<model>', 'model folder or hub id (NAME:TASK=DIR picks the task)'))
    .action(async (model: string, o) => {
      const m = await loadModel(parseModelSpec(model), loadSettings(o));
      try {
        const files = listFiles(m.dir);
        const info = {
          model: m.id, folder: m.dir, task: m.task, ...m.describe(),
          tokenizer: { vocabSize: m.tokenizer.vocabSize, maxLength: m.maxLength },
          files, runtime: runtimeInfo(),
        };
        process.stdout.write(JSON.stringify(info, null, 2) + '\n');
      } finally {
        await disposeModels([m]);
      }
    });
  return cli;
}

type ScoreQueueModule = typeof import('../score-queue.js');
type ScoreJobStatus = Awaited<ReturnType<ScoreQueueModule['scoreJobStatus']>>;

function statusText(s: ScoreJobStatus): string {
  const pct = s.lines.total ? ` (${((100 * s.lines.done) / s.lines.total).toFixed(1)}%)` : '';
  const out = [
    `job ${s.jobId}: ${s.state}`,
    `model: ${s.model} (fingerprint ${s.fingerprint.slice(0, 12)})`,
    `input: ${s.input}`,
    `chunks: ${s.chunks.done} of ${s.chunks.total} done; lines: ${s.lines.done} of ${s.lines.total}${pct}`,
    `malformed lines: ${s.malformed.count}${s.malformed.lines.map((m) => `\n  line ${m.line}: ${m.message}`).join('')}`,
  ];
  for (const f of s.failures) out.push(`failed: ${f.chunk >= 0 ? `chunk ${f.chunk} (from input line ${f.firstLine}) after ${f.attempts} attempts: ` : ''}${f.reason}`);
  for (const r of s.refusals) out.push(`refused by worker ${r.worker}: it has ${r.model} (fingerprint ${r.fingerprint.slice(0, 12)})`);
  return out.join('\n') + '\n';
}

/** `winnow score --queue`: enqueue (or attach to --job-id), show progress across the workers, write the output. */
async function queuedScore(model: string, input: string | undefined, o: JobFlags & { queue: string; queueName?: string; jobId?: string; attempts: number; keep?: boolean; rawScores?: boolean }): Promise<void> {
  const q = await import('../score-queue.js');
  if (o.resume) throw invalidArgumentText('--resume does not apply with --queue: run again with the same --job-id to attach to the job');
  const out = o.output;
  const where = out && out !== '-' ? out : 'stdout';
  if (where !== 'stdout' && existsSync(out!) && statSync(out!).size > 0 && !o.overwrite) throw invalidArgumentText(`${out} exists: pass --overwrite to replace it`);
  const say = (line: string) => process.stderr.write(`winnow: ${line}\n`);
  const e = await q.enqueueScoreJob(o.queue, model, {
    input, chunkSize: o.chunk, rawScores: o.rawScores, jobId: o.jobId, attempts: o.attempts, attach: o.jobId !== undefined,
    queueName: o.queueName, revision: o.revision,
  });
  if (o.progress !== false) say(`job ${e.jobId} ${e.attached ? 'attached' : 'queued'}: ${e.lines} lines in ${e.chunks} chunks`);
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  const progress = o.progress === false ? undefined : new Progress('score', e.lines);
  const refused = new Set<string>();
  let first: number | undefined;
  let last = 0;
  try {
    const r = await q.waitForScoreJob(o.queue, e.jobId, {
      output: out, signal: controller.signal, queueName: o.queueName, keep: o.keep,
      onProgress: (s) => {
        first ??= s.lines.done;
        last = s.lines.done;
        progress?.update(s.lines.done, s.lines.done, s.lines.done - first);
        for (const x of s.refusals) {
          if (refused.has(x.worker)) continue;
          refused.add(x.worker);
          say(`worker ${x.worker} refuses this job: it has ${x.model} (fingerprint ${x.fingerprint.slice(0, 12)}), the job asks for ${s.fingerprint.slice(0, 12)}`);
        }
      },
    });
    progress?.stop(r.lines, r.lines - (first ?? 0));
    if (r.malformed.count > 0) {
      const shown = r.malformed.lines.slice(0, 10).map((m) => `\n  line ${m.line}: ${m.message}`).join('');
      say(`${r.malformed.count} malformed input lines: their output lines carry "error" in place of a score${shown}`);
      process.exitCode = 2;
    } else if (o.progress !== false) say(`${r.lines} lines written to ${where}`);
  } catch (err) {
    progress?.stop(last, last - (first ?? 0));
    if ((err as { code?: string }).code !== 'ABORTED') throw err;
    say(`stopped waiting; job ${e.jobId} goes on in Redis: run again with --job-id ${e.jobId} to attach and write the output`);
    process.exitCode = 130;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** The folder's files (one level of subfolders), with sizes. */
function listFiles(dir: string): Array<{ file: string; bytes: number }> {
  const out: Array<{ file: string; bytes: number }> = [];
  const walk = (rel: string, depth: number) => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const p = path.join(rel, name);
      const st = statSync(path.join(dir, p));
      if (st.isDirectory()) {
        if (depth < 1) walk(p, depth + 1);
      } else out.push({ file: p, bytes: st.size });
    }
  };
  walk('', 0);
  return out;
}

if (require.main === module) {
  program().parseAsync(process.argv).catch((e: unknown) => {
    const code = isWinnowError(e) ? ` (${e.code})` : '';
    process.stderr.write(`winnow: ${e instanceof Error ? e.message : String(e)}${code}\n`);
    process.exitCode = 1;
  });
}
