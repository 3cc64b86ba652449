// MeCab segmentation throughput on one thread: Winnow's mecab_cli vs the `mecab` command (libmecab), both
// with -Owakati on the same input file (the JSQuAD passages, one per line, repeated), output to /dev/null,
// best of N runs each, in fresh processes. Dictionary load is measured apart (an empty input) and
// subtracted, so the figure is segmentation alone; wall and CPU (user + sys) time are both reported,
// since wall time on a shared machine includes waiting for a core.
//
//   node bench/tokenizer/mecab.mjs [--dic=/var/lib/mecab/dic/ipadic-utf8,/var/lib/mecab/dic/unidic]
//                                  [--repeat=5] [--runs=3] [--cli=PATH]
//
// Prints one JSON line per dictionary and a markdown table.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');
const arg = (k, d) => process.argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3) ?? d;
const DICS = arg('dic', '/var/lib/mecab/dic/ipadic-utf8,/var/lib/mecab/dic/unidic').split(',').filter((d) => existsSync(join(d, 'sys.dic')));
const REPEAT = Number(arg('repeat', 5));
const RUNS = Number(arg('runs', 3));
const SHARED = join(root, '../shared');

if (spawnSync('mecab', ['-v']).error) {
  console.log('the `mecab` command is not installed (Debian: apt-get install mecab mecab-ipadic-utf8)');
  process.exit(0);
}
const cli = arg('cli', null) ?? spawnSync(process.execPath, [join(root, 'scripts/mecab-parity.mjs'), '--build-only'],
  { encoding: 'utf8' }).stdout.trim();
if (!existsSync(cli)) throw new Error(`mecab_cli not found (${cli})`);

const passages = [...new Set(readFileSync(join(SHARED, 'corpora/jsquad/pairs.jsonl'), 'utf8').split('\n')
  .filter((l) => l.trim()).map((l) => JSON.parse(l).passage.replace(/\n/g, ' ')))];
const text = (passages.join('\n') + '\n').repeat(REPEAT);
const chars = [...text.replace(/\n/g, '')].length;
const tmp = mkdtempSync(join(tmpdir(), 'mecab-bench-'));
const input = join(tmp, 'passages.txt');
writeFileSync(input, text);
const empty = join(tmp, 'empty.txt');
writeFileSync(empty, '');

// One run in a fresh process under bash's `time`: { wall, cpu } seconds.
function timeRun(cmd, file) {
  const r = spawnSync('bash', ['-c', `TIMEFORMAT='%R %U %S'; time ${cmd} < '${file}' > /dev/null`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  const [wall, user, sys] = r.stderr.trim().split('\n').pop().split(' ').map(Number);
  return { wall, cpu: user + sys };
}
function best(cmd, file) {
  const runs = Array.from({ length: RUNS }, () => timeRun(cmd, file));
  return { wall: Math.min(...runs.map((r) => r.wall)), cpu: Math.min(...runs.map((r) => r.cpu)) };
}

const rows = [];
for (const dic of DICS) {
  const tools = { mecab: `mecab -d '${dic}' -Owakati`, winnow: `'${cli}' -d '${dic}'` };
  const out = { dictionary: dic, chars, runs: RUNS };
  for (const [name, cmd] of Object.entries(tools)) {
    spawnSync('bash', ['-c', `${cmd} < '${input}' > /dev/null`]);  // warm the page cache
    const load = best(cmd, empty);
    const full = best(cmd, input);
    out[name] = {
      loadWallS: load.wall, loadCpuS: load.cpu, wallS: full.wall, cpuS: full.cpu,
      charsPerSecWall: Math.round(chars / Math.max(full.wall - load.wall, 1e-3)),
      charsPerSecCpu: Math.round(chars / Math.max(full.cpu - load.cpu, 1e-3)),
    };
  }
  console.log(JSON.stringify(out));
  rows.push(out);
}
rmSync(tmp, { recursive: true, force: true });

console.log(`\n${cpus()[0]?.model ?? 'unknown CPU'}, one thread, ${chars} characters, best of ${RUNS}\n`);
console.log('| dictionary | tool | chars/s (wall) | chars/s (CPU) | load (wall s) |');
console.log('|---|---|---:|---:|---:|');
for (const r of rows) {
  for (const t of ['mecab', 'winnow']) {
    console.log(`| ${r.dictionary.split('/').pop()} | ${t} | ${r[t].charsPerSecWall.toLocaleString('en')} | ` +
      `${r[t].charsPerSecCpu.toLocaleString('en')} | ${r[t].loadWallS.toFixed(3)} |`);
  }
}
