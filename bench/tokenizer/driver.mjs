// One measurement in a fresh process (spawned by run.mjs):
//   node driver.mjs <winnow|rust|hfjs> <tokenizer dir> <threads> <nTexts> [--ids=<out.json>]
// Prints one JSON line: load time, RSS delta of the load, token count, best-of-N tokens/s.
// Tokens are counted as ids without special tokens (addSpecialTokens: false everywhere).
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTexts } from './texts.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const [lib, dir, threadsArg, nArg, ...rest] = process.argv.slice(2);
const threads = Number(threadsArg);
const idsOut = rest.find((a) => a.startsWith('--ids='))?.slice(6);
const REPS = Number(process.env.TOK_BENCH_REPS ?? 5);
const texts = loadTexts(Number(nArg));
const file = join(dir, 'tokenizer.json');
const now = () => Number(process.hrtime.bigint()) / 1e6;

function out(o) {
  process.stdout.write(JSON.stringify({ lib, tokenizer: dir.split('/').pop(), threads, texts: texts.length, ...o }) + '\n');
}

// Modules are imported before the clock starts: load time / RSS are the tokenizer's alone.
const mods = {
  winnow: () => require(join(here, '../../dist/cjs/index.js')),
  rust: () => require(join(here, '../node_modules/tokenizers')),
  hfjs: () => import(join(here, '../node_modules/@huggingface/tokenizers/dist/tokenizers.mjs')),
};
let mod;
try {
  mod = await mods[lib]();
  // Winnow loads its addon lazily on first use: load it here so the clock sees only the tokenizer.
  if (lib === 'winnow') require(join(here, '../../dist/cjs/native.js')).binding();
} catch (e) {
  out({ unsupported: `cannot import: ${String(e?.message ?? e).split('\n')[0]}` });
  process.exit(0);
}
global.gc?.();
const rss0 = process.memoryUsage().rss;
const t0 = now();
let encodeAll; // () => Promise<Int32Array[] | number[][]>
try {
  if (lib === 'winnow') {
    const { Tokenizer } = mod;
    // One instance; encodeBatch spreads the texts over `threads` native threads.
    const tok = await Tokenizer.fromFile(file);
    encodeAll = async () => (await tok.encodeBatch(texts, { addSpecialTokens: false, threads })).map((e) => e.ids);
  } else if (lib === 'rust') {
    // Thread count: RAYON_NUM_THREADS (set by run.mjs).
    const { Tokenizer } = mod;
    const tok = Tokenizer.fromFile(file);
    encodeAll = async () => (await tok.encodeBatch(texts, { addSpecialTokens: false })).map((e) => e.getIds());
  } else if (lib === 'hfjs') {
    if (threads !== 1) { out({ unsupported: 'single-threaded library' }); process.exit(0); }
    const { Tokenizer } = mod;
    const cfgPath = join(dir, 'tokenizer_config.json');
    const tok = new Tokenizer(JSON.parse(readFileSync(file, 'utf8')), existsSync(cfgPath) ? JSON.parse(readFileSync(cfgPath, 'utf8')) : {});
    encodeAll = async () => texts.map((t) => tok.encode(t, { add_special_tokens: false }).ids);
  } else throw new Error(`unknown lib ${lib}`);
} catch (e) {
  out({ unsupported: String(e?.message ?? e).split('\n')[0].slice(0, 160) });
  process.exit(0);
}
const loadMs = now() - t0;
global.gc?.();
const rssDeltaMB = (process.memoryUsage().rss - rss0) / 2 ** 20;

let ids;
try {
  ids = await encodeAll(); // warm-up (and the ids for the parity check)
} catch (e) {
  out({ unsupported: String(e?.message ?? e).split('\n')[0].slice(0, 160) });
  process.exit(0);
}
const tokens = ids.reduce((s, a) => s + a.length, 0);
let best = Infinity;
const times = [];
for (let r = 0; r < REPS; ++r) {
  const t = now();
  await encodeAll();
  const ms = now() - t;
  times.push(ms);
  best = Math.min(best, ms);
}
times.sort((a, b) => a - b);
if (idsOut) writeFileSync(idsOut, JSON.stringify(ids.map((a) => Array.from(a))));
out({ loadMs: +loadMs.toFixed(1), rssDeltaMB: +rssDeltaMB.toFixed(1), tokens, bestMs: +best.toFixed(1), medianMs: +times[times.length >> 1].toFixed(1),
  tokPerSec: Math.round(tokens / (best / 1000)) });
