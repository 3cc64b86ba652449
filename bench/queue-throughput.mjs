// Queued score jobs (winnow score --queue + winnow worker) against worker count: a private redis-server on a free
// loopback port, the same input scored with 1, 2 and 4 workers (each a fresh process), and a local `winnow score`
// for reference. Needs redis-server and `npm run build`.
//   node bench/queue-throughput.mjs [--pairs 200000] [--workers 1,2,4] [--threads 1] [--chunk 1024] [--model DIR]
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const CLI = path.resolve('dist/cjs/cli/main.js');
const model = path.resolve(args.model ?? 'test/fixtures/models/bert-ce-tiny');
const pairs = Number(args.pairs ?? 200_000);
const counts = (args.workers ?? '1,2,4').split(',').map(Number);
const threads = String(args.threads ?? 1);
const chunk = String(args.chunk ?? 1024);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-queue-bench-'));

const port = await new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
const url = `redis://127.0.0.1:${port}`;
while (spawnSync('redis-cli', ['-p', String(port), 'PING'], { encoding: 'utf8' }).stdout?.trim() !== 'PONG') await new Promise((r) => setTimeout(r, 50));

const input = path.join(dir, 'pairs.jsonl');
fs.writeFileSync(input, Array.from({ length: pairs }, (_, i) => JSON.stringify({ id: `q${i}`, query: `question ${i % 17}`, document: `document ${i} about topic ${i % 13} ${'and more '.repeat(i % 5)}` })).join('\n') + '\n');

function run(argv) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...argv], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`winnow ${argv.join(' ')}: ${r.stderr}`);
  return (performance.now() - t0) / 1000;
}

function startWorker() {
  const w = spawn(process.execPath, [CLI, 'worker', url, model, '--threads', threads], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  w.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    w.stderr.on('data', () => err.includes(' ready: ') && resolve(w));
    w.on('exit', (code) => reject(new Error(`worker exited ${code}: ${err}`)));
  });
}

const rows = [];
const localOut = path.join(dir, 'local.jsonl');
const local = run(['score', model, input, '-o', localOut, '--no-progress', '--threads', threads, '--chunk', chunk]);
rows.push({ setup: `local winnow score, --threads ${threads}`, seconds: local });
for (const n of counts) {
  const workers = await Promise.all(Array.from({ length: n }, startWorker));
  const out = path.join(dir, `queued-${n}.jsonl`);
  // From enqueue to the output written: reading the input, the chunks through Redis, assembly.
  const s = run(['score', model, input, '-o', out, '--queue', url, '--chunk', chunk, '--no-progress']);
  if (fs.readFileSync(out, 'utf8') !== fs.readFileSync(localOut, 'utf8')) throw new Error(`${n} workers: output differs from the local run`);
  rows.push({ setup: `${n} worker${n > 1 ? 's' : ''}, --threads ${threads} each`, seconds: s });
  await Promise.all(workers.map((w) => new Promise((r) => { w.on('exit', r); w.kill('SIGTERM'); })));
}
redis.kill('SIGTERM');
fs.rmSync(dir, { recursive: true, force: true });

const redisVersion = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.trim().split(' ')[2];
console.log(`${new Date().toISOString().slice(0, 10)}, ${os.cpus()[0].model}, ${os.cpus().length} cores, node ${process.version}, redis ${redisVersion}; ${pairs} pairs, --chunk ${chunk}`);
console.log('| setup | seconds | pairs/s |\n|---|---:|---:|');
for (const r of rows) console.log(`| ${r.setup} | ${r.seconds.toFixed(1)} | ${Math.round(pairs / r.seconds)} |`);
