// worker_threads: terminating a worker (worker.terminate(), or process.exit() inside it) while a Winnow load or call is
// pending must not take the process down; the main thread goes on with the same results.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..');
// The entry points test/helpers/worker-call.cjs starts in a worker.
const ENTRY_NAMES = [
  'CrossEncoder.load', 'CrossEncoder.rank', 'CrossEncoder.rank concurrent', 'CrossEncoder.predict', 'SentenceEncoder.encode', 'PruningEncoder.prune',
  'StaticModel.load', 'StaticModel.encode', 'Tokenizer.encodeBatch', 'semanticSearch',
];

describe('worker threads', () => {
  it('workers terminated or exiting mid-load and mid-call leave the process alive and the main thread unchanged', () => {
    const child = spawnSync(process.execPath, [path.join(ROOT, 'test/helpers/worker-storm.cjs')], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 240_000,
      maxBuffer: 64 << 20,
    });
    expect(child.stderr).not.toMatch(/terminate called|Napi::Error|Aborted/);
    expect({ status: child.status, signal: child.signal }).toEqual({ status: 0, signal: null });
    const out = JSON.parse(child.stdout.trim().split('\n').pop()!);
    expect(out.errors).toEqual([]);
    expect(out.workers).toBe(ENTRY_NAMES.length * 2 * 3);
    // Every entry point was cut off while pending, by terminate() and by process.exit() (3 runs each).
    expect(Object.keys(out.pending).sort()).toEqual(ENTRY_NAMES.flatMap((e) => [`${e} terminate`, `${e} exit`]).sort());
    for (const [key, n] of Object.entries(out.pending)) expect(n, key).toBeGreaterThanOrEqual(1);
    expect(out.before.rank.length).toBe(4);
    expect(out.during).toEqual(out.before);
    expect(out.after).toEqual(out.before);
  });
});
