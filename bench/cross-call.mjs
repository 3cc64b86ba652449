// Batching across calls (issue #28): N concurrent rank(query, K documents) calls on a model that batches across
// calls, against the same calls one after another on a model that does not (today's behaviour), and a lone call on
// each. Both models load the same folder in one process; rounds alternate so that load on the machine hits both.
//   node bench/cross-call.mjs --model bench/models/minilm-ce --calls 64 --docs 50 --rounds 3 [--threads 2]
// Queries are the corpus's first N judged queries in qrels order; each gets its judged documents, topped up from the
// following queries' judged documents to K.
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { loadCorpus } from './pairs.mjs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const calls = Number(args.calls ?? 64);
const k = Number(args.docs ?? 50);
const rounds = Number(args.rounds ?? 3);
const threads = Number(args.threads ?? 2);
const model = path.resolve(args.model ?? 'bench/models/minilm-ce');
const { CrossEncoder } = createRequire(import.meta.url)(path.resolve(args.repo ?? '.', 'dist', 'cjs', 'index.js'));

const corpus = loadCorpus();
const judged = [...corpus.judged];
const sets = [];
for (let i = 0; i < calls; i++) {
  const [qid, dids] = judged[i % judged.length];
  const docs = dids.slice(0, k);
  for (let j = i + 1; docs.length < k; j++) docs.push(...judged[j % judged.length][1].slice(0, k - docs.length));
  sets.push({ query: corpus.queries.get(qid), docs: docs.map((d) => corpus.docs.get(d)) });
}

const shared = await CrossEncoder.load(model, { threads });
const alone = await CrossEncoder.load(model, { threads, batchAcrossCalls: false });
for (const m of [shared, alone]) await m.rank(sets[0].query, sets[0].docs);

// Wall time of fn; its process CPU time (user + system, ms) is added to cpu[key] when a key is given: on a busy
// machine the wall times of the two arms are not comparable (more threads take a larger share), CPU time is.
const cpu = {};
const time = async (fn, key) => {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  if (key) (cpu[key] ??= []).push((c.user + c.system) / 1000);
  return wall;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = { concurrent: [], sequential: [], sequentialShared: [], loneShared: [], loneAlone: [] };
let check = 0;
for (let r = 0; r < rounds; r++) {
  let got;
  results.concurrent.push(await time(async () => {
    got = await Promise.all(sets.map((s) => shared.rank(s.query, s.docs)));
  }, 'concurrent'));
  const want = [];
  results.sequential.push(await time(async () => {
    for (const s of sets) want.push(await alone.rank(s.query, s.docs));
  }, 'sequential'));
  results.sequentialShared.push(await time(async () => {
    for (const s of sets) await shared.rank(s.query, s.docs);
  }, 'sequentialShared'));
  // The same rankings either way (scores within 1e-5).
  for (let i = 0; i < sets.length; i++) {
    for (let j = 0; j < k; j++) check = Math.max(check, Math.abs(got[i][j].score - want[i].find((x) => x.index === got[i][j].index).score));
  }
  const lone = sets[r % sets.length];
  for (const [key, model] of [['loneShared', shared], ['loneAlone', alone]]) {
    const ts = [];
    for (let i = 0; i < 5; i++) ts.push(await time(() => model.rank(lone.query, lone.docs)));
    results[key].push(median(ts));
  }
}
const m = Object.fromEntries(Object.entries(results).map(([key, xs]) => [key, median(xs)]));
const c = shared.counters();
console.log(JSON.stringify({
  model: path.basename(model), calls, docs: k, rounds, threads,
  ms: Object.fromEntries(Object.entries(m).map(([key, x]) => [key, Number(x.toFixed(1))])),
  speedup: Number((m.sequential / m.concurrent).toFixed(3)),
  cpuMs: Object.fromEntries(Object.entries(cpu).map(([key, xs]) => [key, Number(median(xs).toFixed(0))])),
  cpuRatio: Number((median(cpu.sequential) / median(cpu.concurrent)).toFixed(3)),
  load: os.loadavg().map((x) => Number(x.toFixed(2))),
  loneRatio: Number((m.loneShared / m.loneAlone).toFixed(3)),
  paddingEfficiency: { shared: Number((c.tokens / c.paddedTokens).toFixed(3)), alone: Number((alone.counters().tokens / alone.counters().paddedTokens).toFixed(3)) },
  sharedBatches: c.sharedBatches,
  maxScoreDiff: check,
}));
shared.dispose();
alone.dispose();
