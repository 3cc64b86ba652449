// Memory over many calls, as a long-lived service sees it: one model, the same call again and again, the process's
// RSS and V8 heap printed every --every calls. A leak shows as RSS that keeps rising after the first rounds (ONNX
// Runtime's arena and glibc's heap settle within them).
//   node --expose-gc bench/soak.mjs [--class CrossEncoder|SentenceEncoder|StaticModel|Tokenizer] [--model <folder>]
//     [--calls 2000] [--every 250] [--items 32] [--threads 1] [--abort-every 0]
// --abort-every N: every Nth call is aborted halfway through its work (an AbortController), to soak the cancel path.
import { createRequire } from 'node:module';
import path from 'node:path';
import { loadCorpus, makePairs } from './pairs.mjs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const W = createRequire(import.meta.url)(path.resolve('dist', 'cjs', 'index.js'));
const cls = args.class ?? 'CrossEncoder';
const calls = Number(args.calls ?? 2000);
const every = Number(args.every ?? 250);
const items = Number(args.items ?? 32);
const threads = Number(args.threads ?? 1);
const abortEvery = Number(args['abort-every'] ?? 0);
const defaults = {
  CrossEncoder: 'test/fixtures/models/bert-ce-tiny',
  SentenceEncoder: 'test/fixtures/models/e5-tiny',
  StaticModel: 'test/fixtures/models/potion-tiny',
  Tokenizer: 'test/fixtures/models/bert-ce-tiny/tokenizer.json',
};
const model = path.resolve(args.model ?? defaults[cls]);
const pairs = makePairs(loadCorpus(), items, 64);
const texts = pairs.map((p) => p[1]);

const m =
  cls === 'Tokenizer' ? await W.Tokenizer.fromFile(model) : await W[cls].load(model, cls === 'StaticModel' ? {} : { threads });
const call = {
  CrossEncoder: (o) => m.predict(pairs, o),
  SentenceEncoder: (o) => m.encode(texts, o),
  StaticModel: (o) => m.encode(texts, o),
  Tokenizer: (o) => m.encodeBatch(texts, { threads, ...o }),
}[cls];

const mib = (b) => (b / 1048576).toFixed(1);
console.log(`${cls} ${path.basename(model)}, ${items} items per call, ${calls} calls, ${threads} thread(s)` +
  (abortEvery ? `, every ${abortEvery}th call aborted` : ''));
const t0 = performance.now();
let aborted = 0;
for (let i = 1; i <= calls; i++) {
  if (abortEvery && i % abortEvery === 0) {
    const ac = new AbortController();
    const p = call({ signal: ac.signal, onProgress: () => ac.abort() });
    await p.catch((e) => {
      if (e.code !== 'ABORTED') throw e;
      aborted++;
    });
  } else {
    await call({});
  }
  if (i % every === 0 || i === 1) {
    globalThis.gc?.(); // node --expose-gc: measure what is still reachable, not what V8 has yet to collect
    const u = process.memoryUsage();
    console.log(`call ${String(i).padStart(6)}: RSS ${mib(u.rss)} MiB, V8 heap ${mib(u.heapUsed)} MiB, external ${mib(u.external)} MiB, ${((performance.now() - t0) / i).toFixed(1)} ms/call`);
  }
}
if (abortEvery) console.log(`${aborted} calls aborted`);
