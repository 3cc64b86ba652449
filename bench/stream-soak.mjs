// predictStream over a generated stream of pairs: RSS sampled after each 50k pairs, to show memory stays flat
// whatever the input's length.
//   node bench/stream-soak.mjs [--model test/fixtures/models/bert-ce-tiny] [--pairs 1000000] [--chunk 1024] [--threads 2]
//     [--options '{"batchAcrossCalls":false}']
import { createRequire } from 'node:module';
import path from 'node:path';
import { loadCorpus, makePairs } from './pairs.mjs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const { CrossEncoder } = createRequire(import.meta.url)(path.resolve('dist/cjs/index.js'));
const n = Number(args.pairs ?? 1_000_000);
const extra = args.options ? JSON.parse(args.options) : {};
const model = await CrossEncoder.load(path.resolve(args.model ?? 'test/fixtures/models/bert-ce-tiny'), { threads: Number(args.threads ?? 2), ...extra });
const base = makePairs(loadCorpus(), 2048, 64);
function* pairs() {
  for (let i = 0; i < n; i++) yield base[i % base.length];
}
const mib = () => (process.memoryUsage().rss / 2 ** 20).toFixed(1);
const t0 = performance.now();
let i = 0;
let sum = 0;
const samples = [];
for await (const s of model.predictStream(pairs(), { chunkSize: Number(args.chunk ?? 1024) })) {
  sum += s;
  if (++i % 50_000 === 0) {
    samples.push(Number(mib()));
    console.log(`${i} pairs, ${(i / ((performance.now() - t0) / 1000)).toFixed(0)} pairs/s, RSS ${mib()} MiB`);
  }
}
const warm = samples.slice(2);
const drift = warm.length > 1 ? (100 * (warm[warm.length - 1] - warm[0])) / warm[0] : 0;
console.log(`${i} pairs in ${((performance.now() - t0) / 1000).toFixed(1)} s; RSS after warm-up ${warm[0]} -> ${warm[warm.length - 1]} MiB (drift ${drift.toFixed(1)} %), checksum ${sum.toFixed(3)}`);
