// sentence-transformers' util.semantic_search in Node: Winnow's `semanticSearch` against the same search on
// PyTorch (bench/semantic_search_torch.py: cos_sim blocks, torch.topk, a heap per query), the two interleaved
// round by round in one run. PyTorch needs a BLAS: Debian's python3-torch uses the system's, so point it at
// OpenBLAS (apt libopenblas0-pthread) with TORCH_LD_LIBRARY_PATH, or it runs the reference BLAS.
// Writes the "Semantic search" section of docs/benchmark.md.
//   node bench/semantic-search.mjs [--rounds 5] [--no-docs]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { replaceSection } from './docs.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const { semanticSearch, Embeddings } = createRequire(import.meta.url)(path.join(root, 'dist', 'cjs', 'index.js'));
const args = process.argv.slice(2);
const rounds = args.includes('--rounds') ? Number(args[args.indexOf('--rounds') + 1]) : 5;
const TITLE = '## Semantic search (sentence-transformers `util.semantic_search`)';
const DIM = 384;
const TOP_K = 10;
const SHAPES = [[1, 100_000], [100, 100_000]];
const PYTHON = process.env.PYTHON || '/usr/bin/python3';
const cores = os.cpus().length;

function vectors(rows, seed) {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
  const out = new Float32Array(rows * DIM);
  for (let i = 0; i < out.length; i++) out[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return new Embeddings(out, rows, DIM);
}

// One long-lived Python process per (shape, threads): the data loads once, each "run" times one search.
function torchSearch(qFile, cFile, threads) {
  const env = { ...process.env };
  if (process.env.TORCH_LD_LIBRARY_PATH) env.LD_LIBRARY_PATH = process.env.TORCH_LD_LIBRARY_PATH;
  const p = spawn(PYTHON, [path.join(here, 'semantic_search_torch.py'), qFile, cFile, String(DIM), String(TOP_K), String(threads)], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: p.stdout })[Symbol.asyncIterator]();
  const ask = async (cmd) => {
    if (cmd) p.stdin.write(cmd + '\n');
    const { value, done } = await lines.next();
    if (done) throw new Error(`${PYTHON} semantic_search_torch.py exited`);
    return JSON.parse(value);
  };
  return { ask, close: () => p.stdin.end() };
}

const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-search-'));
const results = [];
let torchInfo;
for (const [n, m] of SHAPES) {
  const q = vectors(n, 11 + n), c = vectors(m, 17 + m);
  const qFile = path.join(tmp, 'q.f32'), cFile = path.join(tmp, 'c.f32');
  fs.writeFileSync(qFile, q.data);
  fs.writeFileSync(cFile, c.data);
  const drivers = {};
  for (const threads of [1, cores]) {
    drivers[`winnow, ${threads} thread${threads > 1 ? 's' : ''}`] = { run: () => semanticSearch(q, c, { topK: TOP_K, threads }) };
    const t = torchSearch(qFile, cFile, threads);
    torchInfo = await t.ask();
    drivers[`PyTorch ${torchInfo.torch}, ${threads} thread${threads > 1 ? 's' : ''}`] = {
      torch: t,
      run: async () => (await t.ask('run')).ms,
    };
  }
  const reference = await semanticSearch(q, c, { topK: TOP_K });
  const times = Object.fromEntries(Object.keys(drivers).map((d) => [d, []]));
  const agree = {};
  for (const [name, d] of Object.entries(drivers)) {
    await d.run(); // warm-up, then the agreement check
    const hits = d.torch ? (await d.torch.ask('hits')).hits.map((row) => row.map(([index, score]) => ({ index, score }))) : await d.run();
    let same = 0, maxDiff = 0;
    hits.forEach((row, i) => row.forEach((h, r) => {
      if (h.index === reference[i][r].index) same++;
      maxDiff = Math.max(maxDiff, Math.abs(h.score - reference[i][r].score));
    }));
    agree[name] = { same: same / (n * TOP_K), maxDiff };
  }
  for (let r = 0; r < rounds; r++) {
    for (const [name, d] of Object.entries(drivers)) {
      // OpenMP and OpenBLAS worker threads spin for a while after a call: let them go idle before the next one.
      await new Promise((ok) => setTimeout(ok, 400));
      const t = performance.now();
      const inner = await d.run();
      times[name].push(d.torch ? inner : performance.now() - t);
    }
  }
  for (const d of Object.values(drivers)) d.torch?.close();
  for (const name of Object.keys(drivers)) {
    const ms = median(times[name]);
    results.push({ n, m, name, ms, ...agree[name] });
    console.log(`${n} x ${m} x ${DIM} top ${TOP_K}  ${name.padEnd(28)} ${ms.toFixed(1).padStart(8)} ms  same hits ${(agree[name].same * 100).toFixed(1)}%  max |score diff| ${agree[name].maxDiff.toExponential(1)}`);
  }
}
fs.rmSync(tmp, { recursive: true, force: true });

if (!args.includes('--no-docs')) {
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  const blas = process.env.TORCH_LD_LIBRARY_PATH ? `BLAS from ${process.env.TORCH_LD_LIBRARY_PATH}` : "the system's default BLAS";
  const lines = [
    TITLE,
    '',
    `Generated by \`node bench/semantic-search.mjs\` on ${new Date().toISOString().slice(0, 10)}: ${cpu}, ${cores} logical CPUs visible, Node ${process.versions.node}, ` +
      `median of ${rounds} rounds after one untimed call, the drivers interleaved round by round with 0.4 s between calls (PyTorch's idle threads spin for a while). Data: seeded normal float32 vectors of ${DIM} values; ` +
      `cosine, top ${TOP_K} per query. PyTorch runs sentence-transformers' algorithm (\`bench/semantic_search_torch.py\`: \`cos_sim\` on blocks of 100 queries × 500,000 corpus rows, ` +
      `\`torch.topk\`, a heap per query) in a Python process of its own, timed inside Python (so without the Node-to-Python hop), with ${blas}.`,
    '',
    '| queries × corpus | library | median | same hits as Winnow | max \\|Δ score\\| |',
    '|---|---|---:|---:|---:|',
    ...results.map((r) => `| ${r.n} × ${r.m.toLocaleString('en')} | ${r.name} | ${r.ms.toFixed(1)} ms | ${r.name.startsWith('winnow') ? '(reference)' : (r.same * 100).toFixed(1) + '%'} | ${r.name.startsWith('winnow') ? '' : r.maxDiff.toExponential(1)} |`),
    '',
    ...SHAPES.flatMap(([n, m]) => [1, cores].map((threads) => {
      const s = threads > 1 ? 's' : '';
      const w = results.find((r) => r.n === n && r.m === m && r.name === `winnow, ${threads} thread${s}`);
      const t = results.find((r) => r.n === n && r.m === m && r.name.startsWith('PyTorch') && r.name.endsWith(`, ${threads} thread${s}`));
      return `${n} × ${m.toLocaleString('en')}, ${threads} thread${s}: Winnow ${(t.ms / w.ms).toFixed(2)}× PyTorch's speed.`;
    })),
    '',
    "How: Winnow's `semanticSearch` scores the corpus in chunks with the `similarity` kernels (float32 register chains, 4 × 4 tiles) on native threads, each thread keeping its own top k per query in a heap; the heaps are merged at the end. It runs off the event loop and returns a promise.",
    '',
  ].join('\n');
  const doc = path.join(root, 'docs', 'benchmark.md');
  fs.writeFileSync(doc, replaceSection(fs.readFileSync(doc, 'utf8'), lines, TITLE));
  console.log(`wrote ${path.relative(root, doc)}`);
}
