// Faults on a queued score job: one worker SIGKILLed at random moments (and started again), Redis restarted once
// mid-job; the assembled output equals a local `winnow score` of the same input line for line. WINNOW_QUEUE_SOAK_PAIRS
// sets the size (default 200,000, the issue's figure).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, FIXTURES, Proc, RedisServer, redisMissing, startWorker } from './helpers/redis';

const CE = path.join(FIXTURES, 'bert-ce-tiny');
const PAIRS = Number(process.env.WINNOW_QUEUE_SOAK_PAIRS ?? 200_000);
let dir: string;
let redis: RedisServer;
const procs: Proc[] = [];

describe.skipIf(redisMissing !== null)(`queued score job under faults${redisMissing ? ` (skipped: ${redisMissing})` : ''}`, () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-queue-soak-'));
    redis = new RedisServer();
    await redis.start();
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    await redis?.dispose();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`${PAIRS} pairs, a worker SIGKILLed at random moments, Redis restarted once: output equal to a local run line for line`, async () => {
    const input = path.join(dir, 'pairs.jsonl');
    const lines = Array.from({ length: PAIRS }, (_, i) => JSON.stringify({ id: `q${i}`, query: `question ${i % 17}`, document: `document ${i} about topic ${i % 13} ${'and more '.repeat(i % 5)}` }));
    fs.writeFileSync(input, lines.join('\n') + '\n');
    const local = path.join(dir, 'local.jsonl');
    const r = spawnSync(process.execPath, [CLI, 'score', CE, input, '-o', local, '--no-progress'], { encoding: 'utf8', timeout: 300_000 });
    expect(r.status, r.stderr).toBe(0);

    const steady = [await startWorker(redis.url, CE), await startWorker(redis.url, CE)];
    procs.push(...steady);
    let victim = await startWorker(redis.url, CE);
    procs.push(victim);
    const out = path.join(dir, 'queued.jsonl');
    // Chunks of 256 lines: several in flight at any moment, so a kill lands mid-chunk.
    const producer = new Proc(['score', CE, input, '-o', out, '--queue', redis.url, '--chunk', '256', '--job-id', 'soak', '--no-progress']);
    procs.push(producer);
    let finished = false;
    void producer.exited.then(() => (finished = true));

    let kills = 0;
    let restarted = false;
    const status = () => spawnSync(process.execPath, [CLI, 'status', 'soak', '--queue', redis.url, '--json'], { encoding: 'utf8' });
    while (!finished) {
      await new Promise((res) => setTimeout(res, 200 + Math.random() * 800));
      if (finished) break;
      if (!restarted && kills >= 1) {
        // Once some chunks are done: restart Redis while the rest are queued or in flight.
        const s = status();
        if (s.status === 0 && JSON.parse(s.stdout).lines.done > 0) {
          await redis.restart();
          restarted = true;
          continue;
        }
      }
      await victim.kill('SIGKILL');
      kills++;
      if (finished) break;
      victim = await startWorker(redis.url, CE);
      procs.push(victim);
    }
    expect(await producer.exited, producer.stderr).toBe(0);
    expect(restarted).toBe(true);
    expect(kills).toBeGreaterThanOrEqual(2);
    // BullMQ's stalled check handed at least one killed worker's chunk to another (its events survived the restart).
    const events = redis.cli('XRANGE', 'bull:winnow-score:events', '-', '+').split('\n');
    const stalled = events.filter((l) => l.trim() === 'stalled').length;
    console.log(`queue soak: ${PAIRS} pairs, ${kills} SIGKILLs, Redis restarted once, ${stalled} chunks handed on by the stalled check`);
    expect(stalled).toBeGreaterThanOrEqual(1);

    const got = fs.readFileSync(out, 'utf8').split('\n');
    const want = fs.readFileSync(local, 'utf8').split('\n');
    expect(got.length).toBe(want.length);
    for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) expect(`line ${i + 1}: ${got[i]}`).toBe(`line ${i + 1}: ${want[i]}`);
    for (const w of steady) {
      w.child.kill('SIGTERM');
      expect(await w.exited).toBe(0);
    }
  }, 600_000);
});
