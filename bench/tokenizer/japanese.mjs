// BertJapaneseTokenizer throughput on one thread: Winnow's whole pipeline (Tokenizer.load of
// ../shared/tokenizers/bert-base-japanese-v3: NFKC, MeCab words, WordPiece, [CLS]/[SEP], offsets) against the
// reference pipeline it is tested against: `mecab -Owakati` (libmecab) on the NFKC'd text, then Hugging Face
// `tokenizers` WordPiece over the words (npm tokenizers, RAYON_NUM_THREADS=1). Input: the JSQuAD passages, repeated.
// Each figure is the best of N runs in a fresh process; dictionary and vocabulary loads are not counted.
//
//   node bench/tokenizer/japanese.mjs [--dic=/var/lib/mecab/dic/ipadic-utf8,/var/lib/mecab/dic/unidic] [--repeat=5] [--runs=3]
//
// Needs the addon and dist/ built. Prints one JSON line per dictionary and a markdown table.
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
const FOLDER = join(SHARED, 'tokenizers/bert-base-japanese-v3');

// A child run: `node japanese.mjs --child=<what> <dic> <input>` prints {seconds} for the timed part only.
const child = arg('child', null);
if (child) {
  const [dic, input] = process.argv.slice(-2);
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  const lines = readFileSync(input, 'utf8').split('\n').filter(Boolean);
  if (child === 'winnow') {
    const { Tokenizer } = require(join(root, 'dist/cjs/index.js'));
    const tok = await Tokenizer.load(FOLDER, { mecabDictionary: dic });
    const t0 = process.hrtime.bigint();
    let n = 0;
    for (const l of lines) n += tok.encode(l).ids.length;
    console.log(JSON.stringify({ seconds: Number(process.hrtime.bigint() - t0) / 1e9, tokens: n }));
  } else {  // wordpiece: tokenizers WordPiece over already segmented lines
    const hf = require('tokenizers');
    const vocab = {};
    readFileSync(join(FOLDER, 'vocab.txt'), 'utf8').split('\n').forEach((t, i) => (vocab[t] = i));
    const ref = new hf.Tokenizer(hf.WordPiece.init(vocab, { unkToken: '[UNK]' }));
    ref.setPreTokenizer(hf.whitespaceSplitPreTokenizer());
    ref.setPostProcessor(hf.templateProcessing('[CLS] $A [SEP]', '[CLS] $A [SEP] $B:1 [SEP]:1', [['[CLS]', vocab['[CLS]']], ['[SEP]', vocab['[SEP]']]]));
    const t0 = process.hrtime.bigint();
    const out = await ref.encodeBatch(lines);
    const n = out.reduce((s, e) => s + e.getLength(), 0);
    console.log(JSON.stringify({ seconds: Number(process.hrtime.bigint() - t0) / 1e9, tokens: n }));
  }
  process.exit(0);
}

if (spawnSync('mecab', ['-v']).error) {
  console.log('the `mecab` command is not installed (Debian: apt-get install mecab mecab-ipadic-utf8)');
  process.exit(0);
}
const passages = [...new Set(readFileSync(join(SHARED, 'corpora/jsquad/pairs.jsonl'), 'utf8').split('\n')
  .filter((l) => l.trim()).map((l) => JSON.parse(l).passage.replace(/\n/g, ' ')))];
const lines = Array.from({ length: REPEAT }, () => passages).flat();
const chars = lines.reduce((n, l) => n + [...l].length, 0);
const tmp = mkdtempSync(join(tmpdir(), 'ja-bench-'));
const raw = join(tmp, 'raw.txt');
const nfkc = join(tmp, 'nfkc.txt');
const empty = join(tmp, 'empty.txt');
writeFileSync(raw, lines.join('\n') + '\n');
writeFileSync(nfkc, lines.map((l) => l.normalize('NFKC')).join('\n') + '\n');
writeFileSync(empty, '');

const best = (f) => Math.min(...Array.from({ length: RUNS }, f));
function childRun(what, dic, input) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), `--child=${what}`, dic, input],
    { encoding: 'utf8', env: { ...process.env, RAYON_NUM_THREADS: '1', TOKENIZERS_PARALLELISM: 'false' } });
  if (r.status !== 0) throw new Error(`${what} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()).seconds;
}
function mecabRun(dic, input) {  // wall seconds of `mecab -Owakati`, its dictionary load subtracted by the caller
  const r = spawnSync('bash', ['-c', `TIMEFORMAT='%R'; time mecab -d '${dic}' -Owakati -b 4194304 < '${input}' > '${join(tmp, 'wakati.txt')}'`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mecab failed: ${r.stderr}`);
  return Number(r.stderr.trim().split('\n').pop());
}

const rows = [];
for (const dic of DICS) {
  mecabRun(dic, nfkc);  // warm the page cache
  const mecab = best(() => mecabRun(dic, nfkc)) - best(() => mecabRun(dic, empty));
  mecabRun(dic, nfkc);  // wakati.txt for the WordPiece step
  const wordpiece = best(() => childRun('wordpiece', dic, join(tmp, 'wakati.txt')));
  const winnow = best(() => childRun('winnow', dic, raw));
  const out = {
    dictionary: dic, chars, runs: RUNS,
    winnowCharsPerSec: Math.round(chars / winnow),
    mecabCharsPerSec: Math.round(chars / mecab),
    wordpieceCharsPerSec: Math.round(chars / wordpiece),
    mecabPlusWordpieceCharsPerSec: Math.round(chars / (mecab + wordpiece)),
  };
  console.log(JSON.stringify(out));
  rows.push(out);
}
rmSync(tmp, { recursive: true, force: true });

console.log(`\n${cpus()[0]?.model ?? 'unknown CPU'}, one thread, ${chars} characters, best of ${RUNS}\n`);
console.log('| dictionary | Winnow BertJapaneseTokenizer | mecab -Owakati alone | tokenizers WordPiece alone | mecab + WordPiece |');
console.log('|---|---:|---:|---:|---:|');
for (const r of rows) {
  const f = (x) => x.toLocaleString('en');
  console.log(`| ${r.dictionary.split('/').pop()} | ${f(r.winnowCharsPerSec)} | ${f(r.mecabCharsPerSec)} | ${f(r.wordpieceCharsPerSec)} | ${f(r.mecabPlusWordpieceCharsPerSec)} |`);
}
