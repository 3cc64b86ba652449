// Tokenizer throughput benchmark (issue #3): Winnow vs `tokenizers` (Rust, napi) vs
// `@huggingface/tokenizers` (pure JS), one thread and all threads, each measurement in a fresh
// node process (driver.mjs). Also checks that Winnow's ids equal the Rust library's on every text.
//
//   npm run build                       # at the repo root (dist/cjs + the addon)
//   node bench/tokenizer/run.mjs [--texts=20000] [--threads=1,2] [--tokenizers=bert-base-uncased,...]
//
// Writes bench/tokenizer/results/latest.json and prints a markdown table.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SHARED } from './texts.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (k, d) => process.argv.find((a) => a.startsWith(`--${k}=`))?.split('=')[1] ?? d;
const N = Number(arg('texts', 20000));
const THREADS = arg('threads', `1,${availableParallelism()}`).split(',').map(Number);
const TOKS = arg('tokenizers', 'bert-base-uncased,modernbert-base,t5-small').split(',');
const LIBS = ['winnow', 'rust', 'hfjs'];

function drive(lib, tok, threads, idsFile) {
  const args = ['--expose-gc', join(here, 'driver.mjs'), lib, join(SHARED, 'tokenizers', tok), String(threads), String(N)];
  if (idsFile) args.push(`--ids=${idsFile}`);
  const r = spawnSync(process.execPath, args, { env: { ...process.env, RAYON_NUM_THREADS: String(threads) }, encoding: 'utf8', maxBuffer: 1 << 26 });
  const line = r.stdout.trim().split('\n').pop();
  try {
    return JSON.parse(line);
  } catch {
    return { lib, tokenizer: tok, threads, unsupported: `driver failed: ${(r.stderr || line || '').trim().split('\n').pop()}` };
  }
}

function mismatches(fa, fb) {
  const a = JSON.parse(readFileSync(fa, 'utf8'));
  const b = JSON.parse(readFileSync(fb, 'utf8'));
  let n = 0;
  for (let i = 0; i < a.length; ++i) if (a[i].length !== b[i]?.length || a[i].some((x, j) => x !== b[i][j])) ++n;
  return n;
}

const tmp = join(tmpdir(), `tokbench-${process.pid}`);
mkdirSync(tmp, { recursive: true });
const results = [];
const parity = {};
for (const tok of TOKS) {
  for (const threads of THREADS) {
    for (const lib of LIBS) {
      const idsFile = threads === 1 ? join(tmp, `${tok}-${lib}.json`) : undefined;
      const r = drive(lib, tok, threads, idsFile);
      results.push(r);
      console.error(JSON.stringify(r));
    }
  }
  const ok = (lib) => results.find((r) => r.tokenizer === tok && r.lib === lib && r.threads === 1 && !r.unsupported);
  parity[tok] = {};
  for (const lib of ['winnow', 'hfjs']) {
    if (ok(lib) && ok('rust')) parity[tok][lib] = mismatches(join(tmp, `${tok}-${lib}.json`), join(tmp, `${tok}-rust.json`));
  }
}
rmSync(tmp, { recursive: true, force: true });

const get = (tok, lib, th) => results.find((r) => r.tokenizer === tok && r.lib === lib && r.threads === th);
const fmt = (r) => (!r ? '-' : r.unsupported ? 'unsupported' : `${(r.tokPerSec / 1e6).toFixed(2)} M`);
const lines = [];
lines.push(`| tokenizer | threads | Winnow tok/s | tokenizers (Rust) tok/s | @huggingface/tokenizers tok/s | Winnow / Rust | mismatching texts vs Rust (Winnow, HF JS) |`);
lines.push('|---|---|---|---|---|---|---|');
for (const tok of TOKS) {
  for (const th of THREADS) {
    const w = get(tok, 'winnow', th), r = get(tok, 'rust', th), h = get(tok, 'hfjs', th);
    const ratio = w?.tokPerSec && r?.tokPerSec ? `${(w.tokPerSec / r.tokPerSec).toFixed(2)}×` : '-';
    const par = th === 1 ? `${parity[tok].winnow ?? '-'} / ${parity[tok].hfjs ?? '-'} of ${N}` : '';
    lines.push(`| ${tok} | ${th} | ${fmt(w)} | ${fmt(r)} | ${fmt(h)} | ${ratio} | ${par} |`);
  }
}
lines.push('');
lines.push('| tokenizer | load ms (Winnow / Rust / HF JS) | RSS delta MB (Winnow / Rust / HF JS) | tokens |');
lines.push('|---|---|---|---|');
for (const tok of TOKS) {
  const rs = LIBS.map((l) => get(tok, l, 1));
  const v = (k) => rs.map((r) => (r && !r.unsupported ? r[k] : '-')).join(' / ');
  lines.push(`| ${tok} | ${v('loadMs')} | ${v('rssDeltaMB')} | ${rs.find((r) => r?.tokens)?.tokens ?? '-'} |`);
}
const meta = { date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model, cores: availableParallelism(), texts: N, threads: THREADS };
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results/latest.json'), JSON.stringify({ meta, results, parity }, null, 2));
console.log(JSON.stringify(meta));
console.log(lines.join('\n'));
