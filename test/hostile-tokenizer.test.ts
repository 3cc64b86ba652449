// Hostile tokenizer.json files, options and texts (issue 32): each case that used to crash, hang or exhaust
// memory runs in a child process (with a timeout, and a memory limit where exhaustion was the failure) and
// must end with a coded error or the right result.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, SHARED } from './helpers/reference';

// WINNOW_TEST_DIST points the child processes at another build (e.g. main's, to see these tests fail there).
const DIST = process.env.WINNOW_TEST_DIST ?? path.join(ROOT, 'dist/cjs/index.js');
const BERT = path.join(SHARED, 'tokenizers/bert-base-uncased/tokenizer.json');

type ChildResult = { status: number | null; signal: string | null; out: any; stderr: string };

/**
 * Runs `body` (an async function body with `winnow`, `fs` and `path` in scope) in a fresh node process. The body
 * returns a JSON-able value; a thrown error comes back as { error: { code, name, message } }.
 */
function runChild(body: string, opts: { timeoutMs?: number; addressSpaceBytes?: number } = {}): ChildResult {
  const script = `
    const winnow = require(${JSON.stringify(DIST)});
    const fs = require('fs');
    const path = require('path');
    (async () => { ${body} })().then(
      (r) => { process.stdout.write(JSON.stringify({ result: r }) + '\\n'); },
      (e) => { process.stdout.write(JSON.stringify({ error: { code: e && e.code, name: e && e.name, message: String(e && e.message) } }) + '\\n'); },
    );`;
  const node = [process.execPath, '-e', script];
  const cmd = opts.addressSpaceBytes ? ['prlimit', `--as=${opts.addressSpaceBytes}`, '--', ...node] : node;
  const r = spawnSync(cmd[0], cmd.slice(1), { cwd: ROOT, encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20 });
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  let out: any;
  try {
    out = JSON.parse(last);
  } catch {
    out = undefined;
  }
  return { status: r.status, signal: r.signal, out, stderr: (r.stderr ?? '').slice(-2000) };
}

let tmp = '';
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-hostile-'));
});
afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('Tokenizer.fromFile refuses what is not a regular file', () => {
  it('a FIFO with no writer is IO_ERROR at once, not a hang', () => {
    const fifo = path.join(tmp, 'tokenizer.fifo');
    spawnSync('mkfifo', [fifo]);
    expect(fs.statSync(fifo).isFIFO()).toBe(true);
    const r = runChild(`return await winnow.Tokenizer.fromFile(${JSON.stringify(fifo)});`, { timeoutMs: 20_000 });
    expect(r.signal).toBeNull();
    expect(r.out?.error?.code).toBe('IO_ERROR');
    expect(r.out.error.message).toContain('not a regular file');
    expect(r.out.error.message).toContain(fifo);
  });

  it('/dev/zero is IO_ERROR at once, not an endless read', () => {
    const r = runChild(`return await winnow.Tokenizer.fromFile('/dev/zero');`, { timeoutMs: 20_000 });
    expect(r.signal).toBeNull();
    expect(r.out?.error?.code).toBe('IO_ERROR');
    expect(r.out.error.message).toContain('not a regular file');
  });

  it('a regular file still loads', () => {
    const r = runChild(`const t = await winnow.Tokenizer.fromFile(${JSON.stringify(BERT)}); return Array.from(t.encode('hello world').ids);`);
    expect(r.out?.result).toEqual([101, 7592, 2088, 102]);
  });
});
