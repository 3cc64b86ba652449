// One process, one model, one call size: pairs/s of CrossEncoder.predict and the process's peak RSS.
// For A/B runs of two checkouts side by side (build each with `npm run build`):
//   node bench/call.mjs --repo . --model bench/models/minilm-ce --pairs 512 --repeats 3
//   node bench/call.mjs --repo ../old --model test/fixtures/models/bert-ce-tiny --pairs 40960 --repeats 1
// --options '{"fuseAttention":true}' adds load options (JSON).
// Pairs are the benchmark corpus's first 2,048 pairs, repeated to reach --pairs.
import { createRequire } from 'node:module';
import path from 'node:path';
import { loadCorpus, makePairs } from './pairs.mjs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const repo = path.resolve(args.repo ?? '.');
const n = Number(args.pairs ?? 512);
const repeats = Number(args.repeats ?? 3);
const { CrossEncoder } = createRequire(import.meta.url)(path.join(repo, 'dist', 'cjs', 'index.js'));
const base = makePairs(loadCorpus(), Math.min(n, 2048), 64);
const pairs = Array.from({ length: n }, (_, i) => base[i % base.length]);
const extra = args.options ? JSON.parse(args.options) : {};
const ce = await CrossEncoder.load(path.resolve(args.model ?? 'bench/models/minilm-ce'), { threads: Number(args.threads ?? 2), ...extra });
await ce.predict(pairs.slice(0, 64));
const rates = [];
for (let r = 0; r < repeats; r++) {
  const t0 = performance.now();
  await ce.predict(pairs);
  rates.push(n / ((performance.now() - t0) / 1000));
}
console.log(`${repo}${args.options ? ' ' + args.options : ''}: ${n} pairs, ${rates.map((x) => x.toFixed(1)).join(' ')} pairs/s, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
