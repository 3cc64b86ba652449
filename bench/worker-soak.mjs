// Worker pools terminate workers as a matter of course: a pool of worker threads, each loading a model and starting a
// call that is cut off mid-way (worker.terminate(), or process.exit() inside the worker for every --exit-every-th),
// again and again. Prints RSS as it goes; at the end the main thread loads and scores once more, so a process that
// reaches the last line is alive and working.
//   node bench/worker-soak.mjs [--terminations 1000] [--parallel 4] [--exit-every 4] [--every 100]
// The workers run test/helpers/worker-call.cjs (the entry points of test/worker-threads.test.ts), in turn.
import { createRequire } from 'node:module';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const require = createRequire(import.meta.url);
const W = require(path.resolve('dist', 'cjs', 'index.js'));
const workerFile = path.resolve('test', 'helpers', 'worker-call.cjs');
const { ENTRY_NAMES } = require(workerFile);
const terminations = Number(args.terminations ?? 1000);
const parallel = Number(args.parallel ?? 4);
const exitEvery = Number(args['exit-every'] ?? 4);
const every = Number(args.every ?? 100);

const mib = (n) => (n / 1048576).toFixed(0);
const started = Date.now();
let done = 0;
let pendingAtEnd = 0;
let next = 0;
const errors = [];

function cycle(i) {
  const entry = ENTRY_NAMES[i % ENTRY_NAMES.length];
  const delay = (i * 7) % 30;  // ms after the operation started
  const exit = exitEvery > 0 && i % exitEvery === 0;
  return new Promise((resolve) => {
    const worker = new Worker(workerFile, { workerData: { entry, exitAfter: exit ? delay : undefined } });
    let settled = false;
    worker.on('message', (m) => {
      if (m === 'settled') settled = true;
      if (m === 'started' && !exit) setTimeout(() => worker.terminate(), delay);
    });
    worker.on('error', (e) => errors.push(`${entry}: ${e?.message ?? e}`));
    worker.on('exit', () => {
      if (!settled) pendingAtEnd++;
      if (++done % every === 0) {
        const m = process.memoryUsage();
        console.log(`${done} workers ended (${pendingAtEnd} mid-operation), ${((Date.now() - started) / 1000).toFixed(0)} s: rss ${mib(m.rss)} MiB, heap ${mib(m.heapUsed)} MiB, external ${mib(m.external)} MiB`);
      }
      resolve();
    });
  });
}

const rss0 = process.memoryUsage().rss;
await Promise.all(Array.from({ length: parallel }, async () => {
  while (next < terminations) await cycle(next++);
}));
const ce = await W.CrossEncoder.load(path.resolve('test/fixtures/models/bert-ce-tiny'));
const ranked = await ce.rank('where are the mountains', ['the mountains of the north', 'a river runs to the sea']);
console.log(JSON.stringify({
  workers: done,
  cutOffMidOperation: pendingAtEnd,
  errors: errors.length,
  seconds: Math.round((Date.now() - started) / 1000),
  rssStartMiB: Number(mib(rss0)),
  rssEndMiB: Number(mib(process.memoryUsage().rss)),
  mainThreadRank: ranked.map((r) => r.index),
}));
if (errors.length) console.log(errors.slice(0, 5).join('\n'));
