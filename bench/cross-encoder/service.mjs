// A reranking service under load: requests of `rank(query, docs)` arrive at random (a Poisson process of a set
// rate, the same seeded arrival times for every library) while earlier ones are still running, as in a Node
// service. Per request, latency = completion − arrival (queueing included); for the process, the event loop's
// stalls (a 1 ms timer's gaps over 10 ms): how long any other work of the service (a health check, another
// route) would wait. Each (library, rate) runs in a fresh process, two untimed ranks first.
// Writes the "Serving" section of docs/benchmark.md.
//   node bench/cross-encoder/service.mjs [--file model_quantized.onnx] [--rates 0.5,2,4] [--requests 40] [--docs 50]
//                          [--only winnow,transformers] [--no-docs]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pct, replaceSection } from '../docs.mjs';
import { common, drivers as ALL_DRIVERS } from './trials.mjs';
import { loadCorpus } from '../pairs.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const TITLE = '## Serving: `rank` latency under load';
const STALL_MS = 10;
const ALONE = 5;
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : dflt);


/** Seeded exponential gaps (mulberry32): the same arrival times for every library at one rate. */
function arrivals(n, rate, seed) {
  let a = seed >>> 0;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [];
  let t = 0;
  for (let i = 0; i < n; i++) {
    out.push(t);
    t += (-Math.log(1 - rand()) / rate) * 1000;
  }
  return out;
}

/** Requests: queries (qrels order) with at least `docs` judged documents, each with its first `docs`, cycled. */
function requests(n, docs) {
  const corpus = loadCorpus();
  const sets = [];
  for (const [qid, dids] of corpus.judged) {
    if (dids.length >= docs) sets.push({ query: corpus.queries.get(qid), docs: dids.slice(0, docs).map((d) => corpus.docs.get(d)) });
  }
  if (!sets.length) throw new Error(`no query has ${docs} judged documents`);
  return { sets: Array.from({ length: n }, (_, i) => sets[i % sets.length]), distinct: Math.min(n, sets.length) };
}

/** A run's figures, as printed and tabled: latency percentiles and max, requests served per second, and the
 * stalls (their share of the run's time, how many, the longest). */
function summary(r) {
  const total = r.stalls.reduce((a, b) => a + b, 0);
  const longest = r.stalls.length ? Math.max(...r.stalls) : 0;
  return {
    p50: pct(r.latency, 50).toFixed(0),
    p90: pct(r.latency, 90).toFixed(0),
    max: Math.max(...r.latency).toFixed(0),
    served: (r.n / (r.wallMs / 1000)).toFixed(2),
    held: `${((100 * total) / r.wallMs).toFixed(1)} %, ${r.stalls.length}, ${longest.toFixed(0)} ms`,
  };
}

async function worker([driverName, json]) {
  const { rate, n, docs, file, dtype, seed } = JSON.parse(json);
  const driver = await import(`./drivers/${driverName}.mjs`);
  const { sets, distinct } = requests(n, docs);
  const model = await driver.load(path.join(here, '..', 'models', common.model), { ...common, file, dtype });
  await model.rank(sets[0].query, sets[0].docs); // warm-up
  const alone = []; // requests with nothing else running, one after another: the median
  for (let i = 1; i <= ALONE; i++) {
    const t = performance.now();
    await model.rank(sets[i % n].query, sets[i % n].docs);
    alone.push(performance.now() - t);
  }
  const aloneMs = pct(alone, 50);
  const times = arrivals(n, rate, seed);
  // The event loop: a 1 ms timer's gaps. A gap over STALL_MS is a stall (the thread was held by someone).
  const stalls = [];
  let last = performance.now();
  const gap = () => {
    const now = performance.now();
    if (now - last > STALL_MS) stalls.push(now - last);
    last = now;
  };
  const tick = setInterval(gap, 1);
  const start = performance.now() + 50;
  const latency = new Array(n);
  await Promise.all(times.map((at, i) => new Promise((resolve, reject) => {
    setTimeout(() => {
      const arrival = start + at; // the scheduled time: a late timer (a blocked event loop) counts against the library
      model.rank(sets[i].query, sets[i].docs).then(() => {
        latency[i] = performance.now() - arrival;
        resolve();
      }, reject);
    }, Math.max(0, start + at - performance.now()));
  })));
  const wallMs = performance.now() - start;
  gap(); // the last gap ends with the last completion, before the timer would have fired again
  clearInterval(tick);
  await model.close();
  process.stdout.write(JSON.stringify({
    driver: driverName, name: driver.name, versions: driver.versions(), rate, n, docs, distinct, aloneMs, latency, wallMs,
    stalls,
  }));
}

async function main() {
  const file = opt('file', 'model_quantized.onnx');
  const dtype = file.includes('quantized') ? 'q8' : 'fp32';
  const rates = opt('rates', '0.5,2,4').split(',').map(Number);
  const n = Number(opt('requests', 40));
  const docs = Number(opt('docs', 50));
  const only = opt('only', ALL_DRIVERS.join(',')).split(',');
  const seed = 20261124;
  const results = [];
  for (const rate of rates) {
    for (const d of only) {
      const p = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--worker', d, JSON.stringify({ rate, n, docs, file, dtype, seed })], {
        encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26,
      });
      if (p.status !== 0) throw new Error(`${d} at ${rate}/s exited with ${p.status}`);
      const r = JSON.parse(p.stdout);
      results.push(r);
      const f = summary(r);
      console.log(`${r.name.padEnd(32)} ${rate}/s: alone ${r.aloneMs.toFixed(0)} ms; latency p50 ${f.p50} p90 ${f.p90} max ${f.max} ms; served ${f.served}/s; event loop held ${f.held}`);
    }
  }
  if (args.includes('--no-docs')) return;
  const cpu = os.cpus()[0]?.model?.trim() || 'unknown CPU';
  const versions = Object.assign({}, ...results.map((r) => r.versions));
  const { distinct } = results[0];
  const lines = [
    TITLE,
    '',
    `Generated by \`node bench/cross-encoder/service.mjs --file ${file} --rates ${rates.join(',')} --requests ${n} --docs ${docs}\` on ${new Date().toISOString().slice(0, 10)}: ` +
      `${cpu}, ${os.cpus().length} logical CPUs visible, Node ${process.versions.node}; ` +
      Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(', ') + '.',
    '',
    `A service that reranks: ${n} requests, each \`rank(query, ${docs} documents)\` (${distinct} distinct DBpedia-Entity queries with their first ${docs} judged documents, cycled), ` +
      `arriving as a Poisson process at the rate shown (seeded: the same arrival times for every library) whether or not earlier requests have finished. ` +
      `Model \`bench/models/${common.model}\` \`onnx/${file}\`, ${common.threads} intra-op threads, batch ${common.batch}, the drivers of the cross-encoder table. ` +
      `Latency is completion minus the scheduled arrival (queueing included); "alone" is the median of ${ALONE} requests run one after another with nothing else running, after a warm-up one. ` +
      `**Event loop held**: a 1 ms timer runs through the whole run; each gap between its calls of more than ${STALL_MS} ms is a stall, a time when ` +
      "something held the JavaScript thread (the library's code, or garbage collection, or the OS not scheduling the process) and any other work of the same Node process " +
      "(a health check, another route's callbacks, the next request's arrival) had to wait. " +
      'Each (library, rate) runs in a fresh process.',
    '',
    `| rate (req/s) | library | alone (ms) | p50 (ms) | p90 (ms) | max (ms) | served (req/s) | event loop held (stalls over ${STALL_MS} ms: share of the run, count, longest) |`,
    '|---:|---|---:|---:|---:|---:|---:|---|',
    ...results.map((r) => {
      const f = summary(r);
      return `| ${r.rate} | ${r.name} | ${r.aloneMs.toFixed(0)} | ${f.p50} | ${f.p90} | ${f.max} | ${f.served} | ${f.held} |`;
    }),
    '',
    "Winnow's `rank` tokenizes, batches and runs the model on native threads; its JavaScript side checks the arguments and sorts the scores. " +
      "onnxruntime-node's `InferenceSession.run` (1.29 and 1.30, under both peers) runs the model synchronously on the JavaScript thread " +
      '(its `dist/backend.js` calls the native `run` inside a `setImmediate`), so every batch holds the event loop for as long as it computes; ' +
      'transformers.js also tokenizes in JavaScript, and the onnxruntime-node + tokenizers driver builds its input tensors in JavaScript. ' +
      "A library whose capacity is below the offered rate queues requests and its latency grows through the run (p90 and max then depend on the run's length).",
    '',
  ].join('\n');
  const doc = path.join(root, 'docs', 'benchmark.md');
  fs.writeFileSync(doc, replaceSection(fs.readFileSync(doc, 'utf8'), lines, TITLE));
  console.log('wrote docs/benchmark.md');
}

if (args[0] === '--worker') await worker(args.slice(1));
else await main();
