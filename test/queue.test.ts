// Score jobs on BullMQ (winnow score --queue, winnow worker, winnow status) against a real redis-server: output equal
// to a local `winnow score`, malformed lines reported with their line numbers, a worker with another model refused,
// a rerun chunk replacing its result, status output.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, FIXTURES, Proc, RedisServer, ROOT, redisMissing, startWorker, waitFor } from './helpers/redis';

const CE = path.join(FIXTURES, 'bert-ce-tiny');
const OTHER = path.join(FIXTURES, 'bert-ce-tiny-3labels');
let dir: string;
let redis: RedisServer;
const procs: Proc[] = [];

function winnow(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
}

function pairLines(n: number, from = 0): string[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return JSON.stringify({ id: `q${i}`, query: `question ${i % 17}`, document: `document ${i} about topic ${i % 13} ${'and more '.repeat(i % 5)}` });
  });
}

function file(name: string, lines: string[]): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, lines.join('\n') + '\n');
  return f;
}

/** The output of a local, single-process `winnow score`. */
function localScore(input: string): string {
  const out = input + '.local';
  const r = winnow(['score', CE, input, '-o', out, '--no-progress', '--overwrite']);
  expect(r.status, r.stderr).toBe(0);
  return fs.readFileSync(out, 'utf8');
}

function track<T extends Proc>(p: T): T {
  procs.push(p);
  return p;
}

describe.skipIf(redisMissing !== null)(`score jobs on BullMQ${redisMissing ? ` (skipped: ${redisMissing})` : ''}`, () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-queue-'));
    redis = new RedisServer();
    await redis.start();
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    await redis?.dispose();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('two workers: the assembled output is byte-identical to a local winnow score; the job data is removed after', async () => {
    const input = file('two.jsonl', pairLines(3000));
    const workers = [track(await startWorker(redis.url, CE)), track(await startWorker(redis.url, CE))];
    const out = path.join(dir, 'two.out.jsonl');
    const p = track(new Proc(['score', CE, input, '-o', out, '--queue', redis.url, '--chunk', '100', '--job-id', 'two']));
    expect(await p.exited, p.stderr).toBe(0);
    expect(p.stderr).toContain('job two queued: 3000 lines in 30 chunks');
    expect(fs.readFileSync(out, 'utf8')).toBe(localScore(input));
    // Only the summary is left in Redis for this job.
    expect(redis.cli('KEYS', '*two*').trim().split('\n').sort()).toEqual(['bull:winnow-score:winnow:two:summary']);
    for (const w of workers) {
      w.child.kill('SIGTERM');
      expect(await w.exited).toBe(0);
      expect(w.stderr).toMatch(/stopped after \d+ chunks/);
    }
  }, 180_000);

  it('malformed lines: each gets an error line naming its line number, the rest are scored, exit code 2', async () => {
    const good = pairLines(250);
    const lines = [...good];
    // Input line numbers (1-based): 4 is not JSON, 120 lacks "document", 203 is an array; a blank line at 50.
    lines.splice(3, 0, '{"id": "bad-json", "query": ');
    lines.splice(49, 0, '');
    lines.splice(119, 0, JSON.stringify({ id: 'no-doc', query: 'q' }));
    lines.splice(202, 0, '[1, 2]');
    const input = file('bad.jsonl', lines);
    const w = track(await startWorker(redis.url, CE));
    const out = path.join(dir, 'bad.out.jsonl');
    const p = track(new Proc(['score', CE, input, '-o', out, '--queue', redis.url, '--chunk', '64', '--job-id', 'bad', '--keep']));
    expect(await p.exited, p.stderr).toBe(2);
    expect(p.stderr).toContain('3 malformed input lines');
    expect(p.stderr).toMatch(/line 4: not JSON/);
    expect(p.stderr).toContain('line 120: expected a string for "document"');
    expect(p.stderr).toContain('line 203: expected a JSON object');
    const outLines = fs.readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(outLines).toHaveLength(253);
    // Error lines carry the line's id when it has one, else its position among the non-blank lines.
    expect(outLines[3]).toEqual({ id: 3, error: expect.stringMatching(/bad\.jsonl:4: not JSON/) });
    expect(outLines[118]).toEqual({ id: 'no-doc', error: `${input}:120: expected a string for "document" but received nothing` });
    expect(outLines[201]).toEqual({ id: 201, error: `${input}:203: expected a JSON object` });
    const local = localScore(file('good.jsonl', good)).trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(outLines.filter((l) => !('error' in l))).toEqual(local);
    // winnow status lists them too (the job was kept).
    const s = winnow(['status', 'bad', '--queue', redis.url]);
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout).toContain('job bad: completed');
    expect(s.stdout).toContain('malformed lines: 3\n  line 4: not JSON');
    w.child.kill('SIGTERM');
    await w.exited;
  }, 180_000);

  it('a worker with another model refuses the job (nothing consumed, the producer says so); a right worker then does it', async () => {
    const input = file('fp.jsonl', pairLines(500));
    const wrong = track(await startWorker(redis.url, OTHER));
    const out = path.join(dir, 'fp.out.jsonl');
    const p = track(new Proc(['score', CE, input, '-o', out, '--queue', redis.url, '--chunk', '100', '--job-id', 'fp']));
    await p.waitForStderr('refuses this job');
    await wrong.waitForStderr('refused job fp: it asks for model fingerprint');
    expect(p.stderr).toMatch(/worker \S+ refuses this job: it has .*bert-ce-tiny-3labels/);
    const before = JSON.parse(winnow(['status', 'fp', '--queue', redis.url, '--json']).stdout);
    expect(before).toMatchObject({ state: 'queued', chunks: { total: 5, done: 0 }, lines: { total: 500, done: 0 } });
    expect(before.refusals).toHaveLength(1);
    const right = track(await startWorker(redis.url, CE));
    expect(await p.exited, p.stderr).toBe(0);
    expect(fs.readFileSync(out, 'utf8')).toBe(localScore(input));
    wrong.child.kill('SIGTERM');
    expect(await wrong.exited).toBe(0);
    expect(wrong.stderr).toMatch(/stopped after 0 chunks \(0 lines\), \d+ refused/);
    right.child.kill('SIGTERM');
    await right.exited;
  }, 180_000);

  it('a chunk run again replaces its result: the output holds each line once', async () => {
    const { enqueueScoreJob, scoreJobStatus, waitForScoreJob } = await import('../lib/score-queue');
    const { Queue } = await import('bullmq');
    const input = file('rerun.jsonl', pairLines(300));
    const job = await enqueueScoreJob(redis.url, CE, { input, chunkSize: 100, jobId: 'rerun' });
    expect(job).toEqual({ jobId: 'rerun', chunks: 3, lines: 300, attached: false });
    // Keep chunk 1's data to queue it again after it has run.
    const queue = new Queue('winnow-score', { connection: { host: '127.0.0.1', port: redis.port } });
    const chunk1 = (await queue.getJob('rerun.1'))!.data;
    const w = track(await startWorker(redis.url, CE));
    await waitFor('the job to complete', async () => (await scoreJobStatus(redis.url, 'rerun')).state === 'completed', 60_000);
    // The same chunk again, as a worker that lost its lock would run it.
    await queue.add('chunk', chunk1, { jobId: 'rerun.1.again' });
    await waitFor('the rerun to finish', async () => (await queue.getJobState('rerun.1.again')) === 'completed', 60_000);
    await queue.close();
    const s = await scoreJobStatus(redis.url, 'rerun');
    expect(s.chunks).toEqual({ total: 3, done: 3 });
    expect(s.lines).toEqual({ total: 300, done: 300 });
    const out = path.join(dir, 'rerun.out.jsonl');
    expect(await waitForScoreJob(redis.url, 'rerun', { output: out })).toEqual({ jobId: 'rerun', lines: 300, malformed: { count: 0, lines: [] } });
    expect(fs.readFileSync(out, 'utf8')).toBe(localScore(input));
    w.child.kill('SIGTERM');
    await w.exited;
  }, 180_000);

  it('winnow status: queued, then running numbers, then assembled; an unknown job is a clear error', async () => {
    const input = file('st.jsonl', pairLines(1000));
    const out = path.join(dir, 'st.out.jsonl');
    const p = track(new Proc(['score', CE, input, '-o', out, '--queue', redis.url, '--chunk', '100', '--job-id', 'st']));
    await p.waitForStderr('job st queued');
    const queued = winnow(['status', 'st', '--queue', redis.url]);
    expect(queued.status, queued.stderr).toBe(0);
    expect(queued.stdout).toBe([
      'job st: queued',
      `model: ${CE} (fingerprint ${queued.stdout.match(/fingerprint ([0-9a-f]{12})/)![1]})`,
      `input: ${input}`,
      'chunks: 0 of 10 done; lines: 0 of 1000 (0.0%)',
      'malformed lines: 0',
      '',
    ].join('\n'));
    const w = track(await startWorker(redis.url, CE));
    expect(await p.exited, p.stderr).toBe(0);
    const done = winnow(['status', 'st', '--queue', redis.url]);
    expect(done.stdout).toContain('job st: assembled');
    expect(done.stdout).toContain('chunks: 10 of 10 done; lines: 1000 of 1000 (100.0%)');
    const missing = winnow(['status', 'nope', '--queue', redis.url]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('no job nope in queue winnow-score (INVALID_ARGUMENT)');
    // Attaching with an id that exists and an output that exists are refused before anything is queued.
    const again = winnow(['score', CE, input, '-o', out, '--queue', redis.url, '--job-id', 'st']);
    expect(again.stderr).toContain(`${out} exists: pass --overwrite to replace it`);
    w.child.kill('SIGTERM');
    await w.exited;
  }, 180_000);

  it('a chunk that fails every attempt fails the job: JOB_FAILED names it, exit 1, no output, status lists it', async () => {
    const { Queue } = await import('bullmq');
    const input = file('fail.jsonl', pairLines(300));
    const out = path.join(dir, 'fail.out.jsonl');
    const p = track(new Proc(['score', CE, input, '-o', out, '--queue', redis.url, '--chunk', '100', '--job-id', 'fail', '--attempts', '2']));
    await p.waitForStderr('job fail queued');
    // Chunk 1 damaged in Redis before any worker runs it: scoring it throws on every attempt.
    const queue = new Queue('winnow-score', { connection: { host: '127.0.0.1', port: redis.port } });
    const chunk = (await queue.getJob('fail.1'))!;
    await chunk.updateData({ ...chunk.data, text: 5 });
    await queue.close();
    const w = track(await startWorker(redis.url, CE));
    expect(await p.exited, p.stderr).toBe(1);
    expect(p.stderr).toMatch(/job fail failed: chunk 1 \(from input line 101\) failed after 2 attempts: .*split.*\(JOB_FAILED\)/);
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(dir).filter((f) => f.includes('fail.out'))).toEqual([]);
    const s = winnow(['status', 'fail', '--queue', redis.url]);
    expect(s.stdout).toContain('job fail: failed');
    expect(s.stdout).toMatch(/failed: chunk 1 \(from input line 101\) after 2 attempts: /);
    w.child.kill('SIGTERM');
    await w.exited;
  }, 180_000);

  it('the producer enqueues 400,000 lines under a 32 MB heap (a slice at a time), which the whole input in one add exceeds', async () => {
    const input = file('big.jsonl', pairLines(400_000));
    // On a queue no worker takes: only the enqueueing is measured.
    const r = spawnSync(process.execPath, ['--max-old-space-size=32', '-e',
      `require(${JSON.stringify(path.join(ROOT, 'dist/cjs/score-queue.js'))}).enqueueScoreJob(${JSON.stringify(redis.url)}, ${JSON.stringify(CE)}, { input: ${JSON.stringify(input)}, queueName: 'heap', jobId: 'big' }).then((j) => { console.log(JSON.stringify(j)); process.exit(0); })`,
    ], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr.slice(0, 2000)).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ jobId: 'big', chunks: 391, lines: 400_000, attached: false });
    const { scoreJobStatus } = await import('../lib/score-queue');
    expect(await scoreJobStatus(redis.url, 'big', { queueName: 'heap' })).toMatchObject({ state: 'queued', chunks: { total: 391, done: 0 } });
  }, 180_000);

  it('a producer killed while enqueueing: run again with its --job-id and input, it adds the rest and the output is whole', async () => {
    const { scoreJobStatus } = await import('../lib/score-queue');
    const all = pairLines(120_000);
    const reference = file('resume.jsonl', all);
    // The input comes through a FIFO, so the producer can be killed with part of it enqueued.
    const fifo = path.join(dir, 'resume.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const w = track(await startWorker(redis.url, CE));
    const out = path.join(dir, 'resume.out.jsonl');
    const args = ['score', CE, fifo, '-o', out, '--queue', redis.url, '--job-id', 'resume'];
    const first = track(new Proc(args));
    const feed = fs.createWriteStream(fifo);
    feed.on('error', () => {}); // EPIPE once the producer is killed
    feed.write(all.slice(0, 60_000).join('\n') + '\n');
    await waitFor('a slice enqueued and some chunks done', async () => {
      try {
        const s = await scoreJobStatus(redis.url, 'resume');
        return s.state === 'enqueueing' && s.chunks.done > 0;
      } catch {
        return false;
      }
    }, 60_000);
    await first.kill('SIGKILL');
    feed.destroy();
    expect((await scoreJobStatus(redis.url, 'resume')).state).toBe('enqueueing');
    const second = track(new Proc(args));
    const feed2 = fs.createWriteStream(fifo);
    feed2.end(all.join('\n') + '\n');
    expect(await second.exited, second.stderr).toBe(0);
    expect(second.stderr).toContain('job resume attached: 120000 lines in 118 chunks');
    expect(fs.readFileSync(out, 'utf8')).toBe(localScore(reference));
    w.child.kill('SIGTERM');
    await w.exited;
  }, 180_000);

  it('winnow-native/queue loads by the package name as ESM and as CommonJS, the same functions', () => {
    const names = 'enqueueScoreJob, runScoreWorker, waitForScoreJob, scoreJobStatus, modelFingerprint';
    const esm = spawnSync(process.execPath, ['--input-type=module', '-e',
      `import { ${names} } from 'winnow-native/queue'; import { createRequire } from 'node:module';
       const cjs = createRequire(import.meta.url)('winnow-native/queue');
       console.log([${names}].every((f, i) => typeof f === 'function' && f === cjs[[${names.split(', ').map((n) => `'${n}'`).join(', ')}][i]]));`,
    ], { cwd: ROOT, encoding: 'utf8' });
    expect(esm.stdout.trim(), esm.stderr).toBe('true');
  });

  it('bad queue URLs and job ids are refused with the argument message', () => {
    const input = file('args.jsonl', pairLines(3));
    const r = winnow(['score', CE, input, '--queue', 'http://localhost:6379']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('Expected a redis:// or rediss:// URL for the queue but received "http://localhost:6379" of type string (INVALID_ARGUMENT)');
    const id = winnow(['score', CE, input, '--queue', redis.url, '--job-id', 'a:b']);
    expect(id.stderr).toContain('for jobId but received "a:b" of type string (INVALID_ARGUMENT)');
    // An input that cannot be read: IO_ERROR naming it, and no job is created.
    const nofile = path.join(dir, 'nope.jsonl');
    const m = winnow(['score', CE, nofile, '--queue', redis.url, '--job-id', 'nofile']);
    expect(m.status).toBe(1);
    expect(m.stderr).toContain(`${nofile}: cannot read the input: no such file (IO_ERROR)`);
    expect(winnow(['status', 'nofile', '--queue', redis.url]).stderr).toContain('no job nofile in queue winnow-score');
    // A model that does not score pairs is refused by the producer and by a worker, before anything is queued or taken.
    const embedder = path.join(FIXTURES, 'e5-tiny');
    const p = winnow(['score', embedder, input, '--queue', redis.url]);
    expect(p.status).toBe(1);
    expect(p.stderr).toContain(`${embedder} is a model for embed: score jobs need a cross-encoder (rerank, classify) or a pruning model (INVALID_ARGUMENT)`);
    const w = winnow(['worker', redis.url, embedder, '--threads', '1']);
    expect(w.status).toBe(1);
    expect(w.stderr).toContain(`${embedder} is a model for embed: score jobs need`);
  });
});
