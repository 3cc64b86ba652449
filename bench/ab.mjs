// A/B of two load configurations of one model in one process, calls interleaved (A, B, A, B, ...), so that the
// machine's drift between runs (seen up to ±15 % here between processes a minute apart) hits both sides alike.
//   node bench/ab.mjs --model bench/models/minilm-ce --a '{"fuseAttention":false}' --b '{}' --rounds 10
//   node bench/ab.mjs --class SentenceEncoder --model bench/models/e5-small --a '{"fuseAttention":false}' --b '{}'
//   node bench/ab.mjs --b-env '{"WINNOW_ATTENTION_PACK_QKV":"0"}' ...   (variables set while B loads)
//   node bench/ab.mjs --a-repo ../old-checkout ...                        (A from another built checkout)
//   node bench/ab.mjs --docs 6 ...                                        (each document 6 passages joined)
//   node bench/ab.mjs --per-call 16 ...                                   (the items as calls of 16, one after another)
// Prints items/s per side (median and best over rounds) and the median, min and max of the per-round ratio B/A.
// Each call starts --pause ms (default 500) after the previous one ends: ONNX Runtime's idle threads spin for a
// while after a run, and on a small machine the other side's spinning threads would slow the call that follows.
import { createRequire } from 'node:module';
import path from 'node:path';
import { loadCorpus, makePairs } from './pairs.mjs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
// --a-repo / --b-repo: another checkout (built) for one side, to compare two builds.
const repo = path.resolve((args.child && args[`${args.child}-repo`]) ?? args.repo ?? '.');
const W = createRequire(import.meta.url)(path.join(repo, 'dist', 'cjs', 'index.js'));
const cls = args.class ?? 'CrossEncoder';
const n = Number(args.items ?? args.pairs ?? 512);
const rounds = Number(args.rounds ?? 10);
const pause = Number(args.pause ?? 500);
const threads = Number(args.threads ?? 2);
const model = path.resolve(args.model ?? 'bench/models/minilm-ce');

const base = makePairs(loadCorpus(), Math.min(n, 2048), 64);
// --docs K: each document K passages joined (long inputs, e.g. past ModernBERT's 128-token sliding window).
const docs = Number(args.docs ?? 1);
const pairs = Array.from({ length: n }, (_, i) => {
  const [query, doc] = base[i % base.length];
  const more = Array.from({ length: docs - 1 }, (_, k) => base[(i + 1 + k) % base.length][1]);
  return [query, [doc, ...more].join(' ')];
});
const texts = pairs.map((p) => 'passage: ' + p[1]);
// --per-call K: consecutive calls of K items (a reranking service: one query's candidates per call).
const perCall = Number(args['per-call'] ?? n);
if (!Number.isInteger(perCall) || perCall < 1) throw new Error(`--per-call wants a positive integer, not ${args['per-call']}`);
const one = cls === 'SentenceEncoder' ? (m, i, j) => m.encode(texts.slice(i, j)) : (m, i, j) => m.predict(pairs.slice(i, j));
const call = async (m) => {
  for (let i = 0; i < n; i += perCall) await one(m, i, Math.min(i + perCall, n));
};

const parse = (s) => (s ? JSON.parse(s) : {});

if (args.child) {
  // One side: load, then one timed call per 'run' message. Each side lives in its own process, so one side's
  // ONNX Runtime threads (which spin for a while after a run) never compete with the other's.
  const side = args.child;
  Object.assign(process.env, parse(args[`${side}-env`]));
  const m = await W[cls].load(model, { threads, ...parse(args[side]) });
  const info = `fusedAttentions ${m.fusedAttentions}, packed ${m.native.info().packedAttentions}, fusedLayerNorms ${m.fusedLayerNorms}`;
  process.send({ ready: info });
  process.on('message', async () => {
    const t0 = performance.now();
    await call(m);
    process.send({ rate: n / ((performance.now() - t0) / 1000) });
  });
  process.on('disconnect', () => process.exit(0));
} else {
  const { fork } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const spawn = (side) => {
    const child = fork(fileURLToPath(import.meta.url), [...process.argv.slice(2), '--child', side]);
    const next = () => new Promise((resolve) => child.once('message', resolve));
    const run = async () => {
      await new Promise((resolve) => setTimeout(resolve, pause));
      child.send('run');
      return (await next()).rate;
    };
    return { child, next, run };
  };
  const a = spawn('a');
  const ia = (await a.next()).ready;
  const b = spawn('b'); // loaded one after the other: load-time memory peaks do not overlap
  const ib = (await b.next()).ready;
  console.log(`${cls} ${path.basename(model)}, ${n} items in calls of ${perCall}, ${threads} threads, ${rounds} rounds, ${pause} ms between calls`);
  console.log(`A ${args['a-repo'] ?? ''} ${args.a ?? '{}'} ${args['a-env'] ?? ''}: ${ia}`);
  console.log(`B ${args['b-repo'] ?? ''} ${args.b ?? '{}'} ${args['b-env'] ?? ''}: ${ib}`);
  await a.run();
  await b.run();
  const ra = [], rb = [], ratio = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate which side goes first, so neither always follows the other.
    let x, y;
    if (r % 2) {
      y = await b.run();
      x = await a.run();
    } else {
      x = await a.run();
      y = await b.run();
    }
    ra.push(x);
    rb.push(y);
    ratio.push(y / x);
  }
  a.child.disconnect();
  b.child.disconnect();
  const median = (v) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)];
  console.log(`A ${median(ra).toFixed(1)} items/s, B ${median(rb).toFixed(1)} items/s (medians)`);
  console.log(`A ${Math.max(...ra).toFixed(1)} items/s, B ${Math.max(...rb).toFixed(1)} items/s (best rounds: B/A ${(Math.max(...rb) / Math.max(...ra)).toFixed(3)})`);
  console.log(`B/A per round: median ${median(ratio).toFixed(3)}, min ${Math.min(...ratio).toFixed(3)}, max ${Math.max(...ratio).toFixed(3)}`);
}
