// One process, one model load: how long CrossEncoder.load takes and what it leaves resident.
//   node bench/load.mjs --model bench/models/bge-reranker-base [--options '{"fuseAttention":false}'] [--repo ../old]
//     [--pairs 64] [--save scores.json] [--compare other-scores.json]
// Prints load time, peak RSS at load (and the most anonymous memory seen during it), then RSS (anonymous and file-backed) after the load and after one call
// of 64 pairs (Linux: /proc/self/smaps_rollup).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { loadCorpus, makePairs } from './pairs.mjs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const repo = path.resolve(args.repo ?? '.');
const { CrossEncoder } = createRequire(import.meta.url)(path.join(repo, 'dist', 'cjs', 'index.js'));
const extra = args.options ? JSON.parse(args.options) : {};
const mib = (kb) => `${(kb / 1024).toFixed(0)} MiB`;
function resident() {
  const rollup = readFileSync('/proc/self/smaps_rollup', 'utf8');
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(rollup)?.[1] ?? 0);
  return `RSS ${mib(kb('Rss'))} (anonymous ${mib(kb('Anonymous'))}, file ${mib(kb('Rss') - kb('Anonymous'))})`;
}
// Sampled while the load runs on its native thread: the most anonymous (heap) memory seen, which unlike the
// file's mapped pages the kernel cannot drop under pressure.
let anonPeak = 0;
const sampler = setInterval(() => {
  const m = /^Anonymous:\s+(\d+)/m.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'));
  anonPeak = Math.max(anonPeak, Number(m?.[1] ?? 0));
}, 10);
const t0 = performance.now();
const ce = await CrossEncoder.load(path.resolve(args.model ?? 'bench/models/minilm-ce'), { threads: Number(args.threads ?? 2), ...extra });
const loadMs = performance.now() - t0;
clearInterval(sampler);
const peak = process.resourceUsage().maxRSS;
const afterLoad = resident();
const n = Number(args.pairs ?? 64);
const scores = Array.from(await ce.predict(makePairs(loadCorpus(), n, 64)));
if (args.save) writeFileSync(args.save, JSON.stringify(scores));
// --compare: max |Δ| against scores saved by another run (another configuration of the same model).
const compare = args.compare ? JSON.parse(readFileSync(args.compare, 'utf8')) : null;
const delta = compare ? Math.max(...scores.map((s, i) => Math.abs(s - compare[i]))) : null;
console.log(
  `${path.basename(args.model ?? 'minilm-ce')}${args.options ? ' ' + args.options : ''}: load ${loadMs.toFixed(0)} ms, ` +
    `peak RSS at load ${mib(peak)} (anonymous, sampled every 10 ms: ${mib(anonPeak)}); after load ${afterLoad}; after ${n} pairs ${resident()}; ` +
    `fused: ${ce.fusedLayerNorms} norms, ${ce.fusedAttentions} attention blocks` +
    (delta === null ? '' : `; max |Δscore| vs ${args.compare}: ${delta.toExponential(2)}`),
);
