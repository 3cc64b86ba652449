// Pathological texts for the tokenizer (issue 32): one long run with no split point, encoded whole. Each
// (case, library) pair runs in a fresh node process; ids are compared with `tokenizers` (Rust).
//
//   node bench/tokenizer/pathological.mjs [--tokenizers=modernbert-base,t5-small] [--reps=3]
//   WINNOW_DIST=/path/to/other/dist/cjs/index.js node bench/tokenizer/pathological.mjs   # another build
//
// Writes bench/tokenizer/results/pathological.json and prints a markdown table.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SHARED } from './texts.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (k, d) => process.argv.find((a) => a.startsWith(`--${k}=`))?.split('=')[1] ?? d;

// The cases: data.
const CASES = {
  'emoji+ZWJ x 25k': () => '😀\u200d'.repeat(25_000),
  'emoji+ZWJ x 100k': () => '😀\u200d'.repeat(100_000),
  '80k combining marks': () => 'a' + '\u0301'.repeat(80_000),
  '1M combining marks': () => 'a' + '\u0301'.repeat(1_000_000),
  'one letter x 1M': () => 'a'.repeat(1_000_000),
};

// The libraries: drivers, each returning an async encode(text) -> ids.
const DRIVERS = {
  winnow: async (file) => {
    const require = createRequire(import.meta.url);
    const { Tokenizer } = require(process.env.WINNOW_DIST ?? join(here, '../../dist/cjs/index.js'));
    const tok = await Tokenizer.fromFile(file);
    return async (text) => Array.from(tok.encode(text, null, { addSpecialTokens: false }).ids);
  },
  rust: async (file) => {
    const require = createRequire(join(here, '../package.json'));
    let mod;
    try {
      mod = require('tokenizers');
    } catch {
      mod = createRequire(join(here, '../../package.json'))('tokenizers');
    }
    const tok = mod.Tokenizer.fromFile(file);
    return async (text) => (await tok.encode(text, null, { addSpecialTokens: false })).getIds();
  },
};

// Child: node pathological.mjs --child <lib> <tokenizer dir> <case> <reps>
if (process.argv[2] === '--child') {
  const [, , , lib, dir, name, reps] = process.argv;
  const text = CASES[name]();
  const encode = await DRIVERS[lib](join(dir, 'tokenizer.json'));
  let ids;
  let best = Infinity;
  for (let r = 0; r < Number(reps); ++r) {
    const t = process.hrtime.bigint();
    ids = await encode(text);
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e6);
  }
  let h = 0;
  for (const x of ids) h = (Math.imul(h, 31) + x) | 0;
  process.stdout.write(JSON.stringify({ lib, name, bestMs: +best.toFixed(1), tokens: ids.length, hash: h }) + '\n');
  process.exit(0);
}

const TOKS = arg('tokenizers', 'modernbert-base,t5-small').split(',');
const REPS = arg('reps', '3');
const results = [];
for (const tok of TOKS) {
  for (const name of Object.keys(CASES)) {
    for (const lib of Object.keys(DRIVERS)) {
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', lib, join(SHARED, 'tokenizers', tok), name, REPS], {
        encoding: 'utf8', timeout: 600_000, maxBuffer: 1 << 26,
      });
      const line = (r.stdout ?? '').trim().split('\n').pop();
      let out;
      try {
        out = { tokenizer: tok, ...JSON.parse(line) };
      } catch {
        out = { tokenizer: tok, lib, name, failed: r.signal ?? (r.stderr || '').trim().split('\n').pop() };
      }
      results.push(out);
      console.error(JSON.stringify(out));
    }
  }
}
const get = (tok, name, lib) => results.find((r) => r.tokenizer === tok && r.name === name && r.lib === lib);
const lines = ['| tokenizer | text | Winnow ms | tokenizers (Rust) ms | tokens | same ids |', '|---|---|---|---|---|---|'];
for (const tok of TOKS) {
  for (const name of Object.keys(CASES)) {
    const w = get(tok, name, 'winnow'), r = get(tok, name, 'rust');
    const ms = (x) => (x?.failed ? `failed (${x.failed})` : x?.bestMs ?? '-');
    lines.push(`| ${tok} | ${name} | ${ms(w)} | ${ms(r)} | ${w?.tokens ?? '-'} | ${w?.hash !== undefined && w.hash === r?.hash && w.tokens === r.tokens ? 'yes' : 'no'} |`);
  }
}
const meta = { date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model, cores: availableParallelism(), reps: Number(REPS), winnow: process.env.WINNOW_DIST ?? 'this checkout' };
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results/pathological.json'), JSON.stringify({ meta, results }, null, 2));
console.log(JSON.stringify(meta));
console.log(lines.join('\n'));
