// Context-pruning benchmark (issue #6): documents/s of PruningEncoder.prune (sentence granularity)
// vs PruningEncoder.predict (ranking only, one block per document) vs CrossEncoder.predict over the same
// ONNX graph. Each trial runs in a fresh process.
//
//   /usr/bin/python3 bench/pruning/make_model.py      # once: bench/pruning/models/pruning-minilm
//   npm run build && node bench/pruning/run.mjs [--model DIR] [--docs 256] [--threads 2] [--repeats 3]
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const require = createRequire(import.meta.url);

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const model = args.model ?? path.join(here, 'models', 'pruning-minilm');
const nDocs = Number(args.docs ?? 256);
const threads = Number(args.threads ?? 2);
const repeats = Number(args.repeats ?? 3);
const queriesPerRun = 8;

function corpus() {
  const base = path.resolve(root, '..', 'shared', 'corpora', 'dbpedia-entity');
  const docs = [];
  for (const line of fs.readFileSync(path.join(base, 'corpus.jsonl'), 'utf8').split('\n')) {
    if (!line) continue;
    const d = JSON.parse(line);
    if (d.text.length > 200) docs.push(`${d.title}. ${d.text}`);
    if (docs.length >= nDocs) break;
  }
  const queries = fs.readFileSync(path.join(base, 'queries.jsonl'), 'utf8').split('\n').filter(Boolean).slice(0, queriesPerRun).map((l) => JSON.parse(l).text);
  return { docs, queries };
}

async function trial(name) {
  const { PruningEncoder, CrossEncoder } = require(path.join(root, 'dist', 'cjs', 'index.js'));
  const { docs, queries } = corpus();
  const per = Math.ceil(docs.length / queries.length);
  const groups = queries.map((q, i) => [q, docs.slice(i * per, (i + 1) * per)]);
  let m;
  let run;
  if (name === 'crossencoder') {
    m = await CrossEncoder.load(model, { threads, maxLength: 512 });
    run = async () => { for (const [q, ds] of groups) await m.predict(ds.map((d) => [q, d])); };
  } else {
    m = await PruningEncoder.load(model, { threads });
    if (name === 'predict') run = async () => { for (const [q, ds] of groups) await m.predict(ds.map((d) => [q, d])); };
    else run = async () => { for (const [q, ds] of groups) await m.prune(q, ds, { granularity: name === 'prune-token' ? 'token' : 'sentence' }); };
  }
  await run(); // warm-up
  const times = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = process.hrtime.bigint();
    await run();
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  process.stdout.write(JSON.stringify({ name, docs: docs.length, seconds: median, docsPerSecond: docs.length / median }) + '\n');
  m.dispose();
}

if (args.trial) {
  await trial(args.trial);
} else {
  const names = ['crossencoder', 'predict', 'prune', 'prune-token'];
  const results = {};
  // Two passes, the second in reverse order; the faster of the two counts (shared machines drift).
  for (const name of [...names, ...[...names].reverse()]) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--trial', name, ...process.argv.slice(2)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${name} failed: ${r.stderr}`);
    const res = JSON.parse(r.stdout.trim().split('\n').pop());
    if (!results[name] || res.docsPerSecond > results[name].docsPerSecond) results[name] = res;
  }
  const base = results.predict.docsPerSecond;
  console.log(`model ${path.relative(root, model)}, ${results.prune.docs} dbpedia documents, ${queriesPerRun} queries, threads ${threads}, ` +
    `median of ${repeats}, best of 2 processes, ${os.cpus()[0].model}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
  console.log('| call | docs/s | time vs PruningEncoder.predict |');
  console.log('|---|---|---|');
  for (const name of names) {
    const r = results[name];
    const label = { crossencoder: 'CrossEncoder.predict (same ONNX)', predict: 'PruningEncoder.predict', prune: "PruningEncoder.prune (granularity 'sentence')", 'prune-token': "PruningEncoder.prune (granularity 'token')" }[name];
    console.log(`| ${label} | ${r.docsPerSecond.toFixed(1)} | ${(((base / r.docsPerSecond) - 1) * 100).toFixed(1)} % |`);
  }
}
