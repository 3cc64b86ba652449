// The resumable job at scale: N pairs through `winnow score`, killed at random points (SIGKILL and SIGINT
// alternately) and resumed until done; the output must equal an uninterrupted run line for line. Peak RSS of each
// run is sampled from /proc. Figures go to docs/benchmark.md ("Jobs").
//   node bench/server/job.mjs [--pairs 1000000] [--kills 6] [--model DIR] [--chunk 1024]
import { spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values: a } = parseArgs({ options: {
  pairs: { type: 'string', default: '1000000' }, kills: { type: 'string', default: '6' }, chunk: { type: 'string', default: '1024' },
  model: { type: 'string', default: path.join(root, 'test/fixtures/models/bert-ce-tiny') },
} });
const n = Number(a.pairs);
const dir = mkdtempSync(path.join(os.tmpdir(), 'winnow-job-'));
const input = path.join(dir, 'pairs.jsonl');
const fd = openSync(input, 'w');
for (let i = 0; i < n; i += 10_000) {
  let s = '';
  for (let k = i; k < Math.min(n, i + 10_000); k++) s += JSON.stringify({ id: k, query: `question ${k % 997}`, document: `document ${k} about topic ${k % 89} ${'and more '.repeat(k % 7)}` }) + '\n';
  writeSync(fd, s);
}
closeSync(fd);

function rssOf(pid) {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
  } catch {
    return 0;
  }
}

/** Runs `winnow score`; kills it with `signal` after `afterMs` when given. Resolves { code, peakMiB, seconds }. */
function score(out, resume, signal, afterMs) {
  const args = [path.join(root, 'dist/cjs/cli/main.js'), 'score', a.model, input, '-o', out, '--chunk', a.chunk, '--no-progress', ...(resume ? ['--resume'] : [])];
  const child = spawn(process.execPath, args, { stdio: 'ignore' });
  const started = Date.now();
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssOf(child.pid))), 200);
  if (signal) setTimeout(() => child.kill(signal), afterMs);
  return new Promise((resolve) => child.on('exit', (code) => {
    clearInterval(sampler);
    resolve({ code, peakMiB: Math.round(peak), seconds: (Date.now() - started) / 1000 });
  }));
}

const hash = (f) => createHash('sha256').update(readFileSync(f)).digest('hex');
console.log(JSON.stringify({ date: new Date().toISOString(), pairs: n, cpus: os.cpus().length, node: process.version, load: os.loadavg() }));
const full = path.join(dir, 'full.jsonl');
const clean = await score(full, false);
console.log(JSON.stringify({ run: 'uninterrupted', ...clean, pairsPerSecond: Math.round(n / clean.seconds) }));
const out = path.join(dir, 'interrupted.jsonl');
for (let k = 0; k < Number(a.kills); k++) {
  const signal = k % 2 === 0 ? 'SIGKILL' : 'SIGINT';
  const r = await score(out, existsSync(out), signal, Math.random() * clean.seconds * 1000 / Number(a.kills));
  console.log(JSON.stringify({ run: `killed ${signal}`, ...r, linesSoFar: existsSync(out) ? readFileSync(out, 'utf8').split('\n').length - 1 : 0 }));
}
const last = await score(out, true);
console.log(JSON.stringify({ run: 'resumed to the end', ...last }));
const equal = statSync(out).size === statSync(full).size && hash(out) === hash(full);
console.log(JSON.stringify({ equalLineForLine: equal, bytes: statSync(full).size }));
rmSync(dir, { recursive: true, force: true });
process.exitCode = equal ? 0 : 1;
