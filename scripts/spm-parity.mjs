// Sentencepiece parity: Winnow's tokenizers built from sentencepiece .model files (native/core/tokenizer/slow,
// through native/tools/spm_cli) against
//   1. the sentencepiece library (Debian python3-sentencepiece) with the slow class's id conventions (XLM-R: +1
//      fairseq offset, <unk> -> 3, <s> A </s></s> B </s>; CamemBERT: +4; T5: A </s>; DeBERTa-v2: [CLS] A [SEP]),
//   2. Hugging Face `tokenizers` (npm) running the tokenizer.json that scripts/spm-parity.py writes from the same
//      model with the protobuf library (ids, type ids, special-token mask, UTF-16 offsets), and that document
//      against the one Winnow builds,
//   3. t5-small's real tokenizer.json (../shared/tokenizers/t5-small) against Winnow on a spiece.model rebuilt
//      from it (pieces, scores, charsmap), under T5Tokenizer with t5-small's tokenizer_config.json.
// Texts: DBpedia abstracts and titles the fixtures were not trained on, DBpedia queries, JSQuAD questions and
// passages, pairs of them, and edge cases (odd whitespace, NFKC-sensitive, emoji, unknown characters).
//
//   node scripts/spm-parity.mjs [--shared ../shared] [--cli PATH] [--build-only]
//
// Without --cli, spm_cli is compiled into build/spm-cli/ with the system C++ compiler (the tokenizer sources,
// utf8proc and PCRE2). Prints one JSON summary line last; exits 1 on any difference, 2 when python3 lacks
// sentencepiece / protobuf.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { makeCorpus } from '../test/helpers/multilingual-corpus.mjs';
import { charToUtf16 } from '../test/helpers/offsets.mjs';

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const arg = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const SHARED = arg('--shared', join(root, '../shared'));
const FIX = join(root, 'test/fixtures/tokenizers/spm');
// Debian's python3 (the packages are Debian's; a pyenv python3 first on PATH would not see them).
const PYTHON = process.env.WINNOW_PYTHON || (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');

// ---- spm_cli, rebuilt when a source is newer ----------------------------------------------------------
function buildCli() {
  const out = join(root, 'build/spm-cli/spm_cli');
  const objDir = join(root, 'build/spm-cli/obj');
  const list = (d) => readdirSync(join(root, d)).filter((f) => f.endsWith('.cc')).map((f) => join(root, d, f));
  const sources = [...list('native/core/tokenizer'), ...list('native/core/tokenizer/slow'),
    join(root, 'native/core/onnx/wire.cc'), join(root, 'native/tools/spm_cli.cc')];
  const headerDirs = ['native/core/tokenizer', 'native/core/tokenizer/slow', 'native/core/common', 'native/core/onnx'];
  const headers = headerDirs.flatMap((d) => readdirSync(join(root, d)).filter((f) => /\.(h|inc)$/.test(f)).map((f) => join(root, d, f)));
  const newestHeader = Math.max(...headers.map((f) => statSync(f).mtimeMs));
  mkdirSync(objDir, { recursive: true });
  const cxx = process.env.CXX || 'c++';
  const flags = ['-std=c++20', '-O2', '-DNDEBUG', '-DPCRE2_CODE_UNIT_WIDTH=8', '-DUTF8PROC_STATIC', '-I', join(root, 'native/core')];
  const objs = [];
  let rebuilt = false;
  for (const src of sources) {
    const obj = join(objDir, `${basename(dirname(src))}-${basename(src, '.cc')}.o`);
    objs.push(obj);
    if (existsSync(obj) && statSync(obj).mtimeMs > Math.max(statSync(src).mtimeMs, newestHeader)) continue;
    const r = spawnSync(cxx, [...flags, '-c', src, '-o', obj], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`compiling ${src} failed:\n${r.stderr}`);
    rebuilt = true;
  }
  if (!rebuilt && existsSync(out)) return out;
  const tmp = `${out}.${process.pid}`;  // renamed into place, so a concurrent run never sees half a binary
  const libs = ['/usr/lib/x86_64-linux-gnu/libutf8proc.a', '/usr/lib/x86_64-linux-gnu/libpcre2-8.a']
    .map((l) => (existsSync(l) ? l : `-l${basename(l, '.a').replace(/^lib/, '')}`));
  const r = spawnSync(cxx, [...objs, ...libs, '-lpthread', '-o', tmp], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`linking spm_cli failed:\n${r.stderr}`);
  renameSync(tmp, out);
  return out;
}
const CLI = arg('--cli', null) ?? buildCli();
if (args.includes('--build-only')) {
  console.log(CLI);
  process.exit(0);
}

const probe = spawnSync(PYTHON, ['-c', 'import sentencepiece, google.protobuf'], { encoding: 'utf8' });
if (probe.status !== 0) {
  console.log(JSON.stringify({ skipped: `${PYTHON} cannot import sentencepiece and protobuf (apt-get install python3-sentencepiece python3-protobuf)` }));
  process.exit(2);
}

// ---- texts ------------------------------------------------------------------------------------------------
const readJsonl = (f) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const db = readJsonl(join(SHARED, 'corpora/dbpedia-entity/corpus.jsonl')).slice(3000, 3500);  // not trained on
const queries = readJsonl(join(SHARED, 'corpora/dbpedia-entity/queries.jsonl'));
const js = readJsonl(join(SHARED, 'corpora/jsquad/pairs.jsonl')).slice(800);  // not trained on
const real = [...db.flatMap((d) => [d.title, d.text]), ...queries.map((q) => q.text),
  ...js.flatMap((d) => [d.query, d.passage])];
const edge = [
  '', ' ', '   ', '\t', '\n', 'a', ' a', '  a', 'a ', 'a  ', '  leading and trailing  ', 'two  spaces', 'tab\there',
  'tabs\t\t\tand\nnewlines\n\n', 'carriage\r\nreturn', 'ideographic\u3000space', '全角\u3000スペース\u3000\u3000二つ',
  'no\u00a0break\u00a0space', 'thin\u2009space', 'zero\u200bwidth', 'line\u2028separator', '\ufeffBOM first',
  'ﬁne ﬂour', 'Ⅻ ① ㍻ ㌔', 'ＡＢＣ１２３ ｱｲｳｴｵ ｶﾞｷﾞ', 'ｈａｌｆ/ｆｕｌｌ　ｗｉｄｔｈ', 'Café café cafe\u0301',
  'naïve coöperate', 'Ångström', 'straße STRASSE', 'İstanbul ıi', 'Ελληνικά κείμενα', 'Русский текст',
  'العربية نص', 'עברית', 'हिन्दी पाठ', 'ภาษาไทย', '한국어 텍스트', '中文文本测试', '鬱鬱鬱 𠮷野家 龘',
  '👍🏽 👨‍👩‍👧‍👦 🇯🇵 ❤️', '😀😀😀', '\u0001\u0002control\u007f', 'a\u0300\u0301\u0302', '...!!!???',
  '"quoted" \'single\' «guillemets» „low“', 'e-mail: someone@example.com, http://example.org/path?x=1',
  '3.14159 1,000,000 -42 +7 1e10', 'C++ C# F# .NET', '▁already▁meta', '▁', '<unk> <s> x', 'x'.repeat(300),
  'あ'.repeat(200), 'word '.repeat(100), '東京大学で研究する。', 'ＰＣ・ﾊﾟｿｺﾝ・パソコン', '〜～ー−―', '①②③ ⑴⑵',
];
// Generated mixes (scripts, emoji, combining marks, control characters, whitespace runs); lone surrogates,
// which no UTF-8 reference can take, left out.
const generated = makeCorpus(7, 300).filter((s) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s));
const singles = [...real, ...edge, ...generated];
const pairs = [];
for (let i = 0; i < 150; ++i) pairs.push([js[i].query, js[i].passage]);
for (let i = 0; i < 100; ++i) pairs.push([queries[i % queries.length].text, db[i].text]);
for (let i = 0; i + 1 < edge.length; i += 2) pairs.push([edge[i], edge[i + 1]]);
const cases = [...singles.map((a) => ({ a, b: null })), ...pairs.map(([a, b]) => ({ a, b }))];
const casesJsonl = cases.map((c) => JSON.stringify(c)).join('\n') + '\n';

// ---- runners ----------------------------------------------------------------------------------------------
const tmp = mkdtempSync(join(tmpdir(), 'winnow-spm-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
function run(cmd, argv, input) {
  const r = spawnSync(cmd, argv, { input, encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}
const lines = (s) => s.split('\n').filter(Boolean).map((l) => JSON.parse(l));
function winnow(model, cls, config) {
  const extra = config ? ['--config', config] : [];
  return lines(run(CLI, [model, cls, ...extra], casesJsonl));
}
async function hf(tokenizerJson) {
  const { Tokenizer } = require('tokenizers');
  const tok = Tokenizer.fromFile(tokenizerJson);
  const out = [];
  for (const c of cases) {
    const e = await tok.encode(c.a, c.b, { addSpecialTokens: true });
    // The binding's offsets count code points; Winnow's, UTF-16 units.
    const seq = e.getSequenceIds();
    const ca = charToUtf16(c.a), cb = c.b === null ? null : charToUtf16(c.b);
    const offsets = e.getOffsets().map(([s, t], k) => [(seq[k] === 1 ? cb : ca)(s), (seq[k] === 1 ? cb : ca)(t)]);
    out.push({ ids: e.getIds(), type_ids: e.getTypeIds(), offsets, special: e.getSpecialTokensMask() });
  }
  return out;
}
const same = (x, y) => JSON.stringify(x) === JSON.stringify(y);
// Structural equality of two JSON values (object key order ignored).
function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  const ka = Object.keys(a), kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
}

const diffs = [];
// The first difference of one case, compactly: field, position, a window of both sides.
function firstDiff(g, w, fields) {
  for (const f of fields) {
    const a = g[f], b = w[f];
    if (same(a, b)) continue;
    let k = 0;
    while (k < Math.min(a.length, b.length) && same(a[k], b[k])) ++k;
    return { field: f, at: k, winnow: a.slice(Math.max(0, k - 2), k + 4), reference: b.slice(Math.max(0, k - 2), k + 4) };
  }
  return null;
}
// Per case: 0 equal, 1 different. Up to 12 differences are kept for the report.
function compare(label, got, want, fields, record = true) {
  return cases.map((c, i) => {
    const g = got[i], w = want[i];
    const d = !g || !w || g.error ? { error: g?.error ?? 'missing' } : firstDiff(g, w, fields);
    if (d && record && diffs.length < 12) diffs.push({ label, case: i, a: c.a.slice(0, 120), b: c.b?.slice(0, 60) ?? null, ...d });
    return d ? 1 : 0;
  });
}
const sum = (v) => v.reduce((x, y) => x + y, 0);

const MODELS = [
  ['xlmr-unigram', 'XLMRobertaTokenizer'], ['xlmr-bpe', 'XLMRobertaTokenizer'], ['camembert-bpe', 'CamembertTokenizer'],
  ['t5-unigram', 'T5Tokenizer'], ['t5-identity', 'T5Tokenizer'], ['deberta-unigram', 'DebertaV2Tokenizer'],
];
// Options that only the converted tokenizer has (the sentencepiece library knows nothing of them).
const VARIANTS = [
  ['deberta-unigram', 'DebertaV2Tokenizer', { do_lower_case: true, split_by_punct: true }],
  ['t5-unigram', 'T5Tokenizer', { legacy: false }],
];

// Winnow against the sentencepiece library. Where they differ, the converted tokenizer.json run by `tokenizers`
// gives Winnow's ids and not the library's: a difference of transformers' conversion (HF's Unigram sums scores in
// f64 where sentencepiece sums in f32 and breaks ties differently; the Precompiled normalizer maps whole graphemes
// shorter than 6 bytes; Strip also strips U+0085; special-token strings in the text are split off), which Winnow
// reproduces. Any other difference is Winnow's own.
function vsSentencepiece(name, got, spmIds, ref, tok) {
  const d = compare(`${name} vs sentencepiece`, got, spmIds, ['ids', 'type_ids'], false);
  const refVsSpm = compare('', ref, spmIds, ['ids', 'type_ids'], false);
  const own = d.map((x, i) => (x && !(tok[i] === 0 && refVsSpm[i] === 1) ? 1 : 0));
  compare(`${name} vs sentencepiece (not explained by the conversion)`, got.map((g, i) => (own[i] ? g : spmIds[i])), spmIds, ['ids', 'type_ids']);
  return {
    sentencepieceEqual: cases.length - sum(d),
    sentencepieceEqualRealTexts: real.length - sum(d.slice(0, real.length)),
    conversionDiffers: sum(d) - sum(own),
    winnowOnly: sum(own),
  };
}

const summary = { cases: cases.length, singles: singles.length, pairs: pairs.length, realTexts: real.length, models: {} };
for (const [name, cls] of MODELS) {
  const model = join(FIX, `${name}.model`);
  const got = winnow(model, cls);
  const spmIds = lines(run(PYTHON, [join(root, 'scripts/spm-parity.py'), 'encode', model, cls], casesJsonl));
  const refJson = join(tmp, `${name}.json`);
  writeFileSync(refJson, run(PYTHON, [join(root, 'scripts/spm-parity.py'), 'tokenizer-json', model, cls]));
  const mine = JSON.parse(run(CLI, [model, cls, '--dump']));
  const theirs = JSON.parse(readFileSync(refJson, 'utf8'));
  const ref = await hf(refJson);
  const tok = compare(`${name} vs tokenizers`, got, ref, ['ids', 'type_ids', 'offsets', 'special']);
  summary.models[name] = { class: cls, tokenizers: sum(tok), ...vsSentencepiece(name, got, spmIds, ref, tok), tokenizerJsonEqual: deepEqual(mine, theirs) };
  if (!summary.models[name].tokenizerJsonEqual) {
    const keys = Object.keys(theirs).filter((k) => !deepEqual(mine[k], theirs[k]));
    diffs.push({ label: `${name}: tokenizer.json differs`, keys });
  }
  // Offsets slice the text back to the piece, spaces aside (identity normalization; byte and unknown pieces and
  // a lone ▁ left out).
  if (name === 't5-identity') {
    const vocab = Object.fromEntries(Object.entries(mine.model.vocab).map(([p, id]) => [id, p]));
    let bad = 0, checked = 0;
    // Sequence of each token: the first </s> ends A.
    cases.forEach((c, i) => {
      const e = got[i];
      let seq = c.a;
      e.ids.forEach((id, k) => {
        if (e.special[k]) { seq = c.b ?? c.a; return; }
        const piece = vocab[id];
        if (piece === undefined || /^<0x[0-9A-F]{2}>$/.test(piece) || piece === '<unk>' || piece === '▁') return;
        ++checked;
        const [s, t] = e.offsets[k];
        if (seq.slice(s, t).replace(/[ ▁]/g, '') !== piece.replace(/▁/g, '')) {
          ++bad;
          if (diffs.length < 12) diffs.push({ label: 'offset slice', case: i, piece, slice: seq.slice(s, t) });
        }
      });
    });
    summary.models[name].offsetSlices = { checked, bad };
  }
}
for (const [name, cls, config] of VARIANTS) {
  const model = join(FIX, `${name}.model`);
  const cfg = join(tmp, `${name}-config.json`);
  writeFileSync(cfg, JSON.stringify(config));
  const got = winnow(model, cls, cfg);
  const refJson = join(tmp, `${name}-variant.json`);
  writeFileSync(refJson, run(PYTHON, [join(root, 'scripts/spm-parity.py'), 'tokenizer-json', model, cls, cfg]));
  const label = `${name} ${JSON.stringify(config)}`;
  summary.models[label] = { class: cls, tokenizers: sum(compare(`${label} vs tokenizers`, got, await hf(refJson), ['ids', 'type_ids', 'offsets', 'special'])) };
}

// t5-small: its real tokenizer.json against Winnow on the spiece.model rebuilt from it.
const t5dir = join(SHARED, 'tokenizers/t5-small');
if (existsSync(join(t5dir, 'tokenizer.json'))) {
  const model = join(tmp, 'spiece.model');
  run(PYTHON, [join(root, 'scripts/spm-parity.py'), 'model-from-json', join(t5dir, 'tokenizer.json'), model]);
  const got = winnow(model, 'T5Tokenizer', join(t5dir, 'tokenizer_config.json'));
  const spmIds = lines(run(PYTHON, [join(root, 'scripts/spm-parity.py'), 'encode', model, 'T5Tokenizer'], casesJsonl));
  const real = await hf(join(t5dir, 'tokenizer.json'));
  // That file is from an older converter (WhitespaceSplit before Metaspace), whose offsets leave out the space a
  // piece's ▁ stands for; ids, type ids and special tokens are compared, offsets counted apart.
  // Where Winnow and that file differ in ids, the current conversion gives the sentencepiece library's ids (the
  // older one split at whitespace the charsmap leaves alone, such as U+000B).
  const tok = compare('', got, real, ['ids', 'type_ids', 'special'], false);
  const vsSpm = compare('', got, spmIds, ['ids', 'type_ids'], false);
  const unexplained = tok.map((x, i) => (x && vsSpm[i] ? 1 : 0));
  compare('t5-small vs its tokenizer.json (Winnow not equal to sentencepiece either)', got.map((g, i) => (unexplained[i] ? g : real[i])), real, ['ids', 'type_ids', 'special']);
  const offsets = compare('', got, real, ['offsets'], false);
  summary.models['t5-small (rebuilt spiece.model)'] = {
    class: 'T5Tokenizer', realTokenizerJsonEqual: cases.length - sum(tok),
    realTokenizerJsonOlderConversion: sum(tok) - sum(unexplained), realTokenizerJsonUnexplained: sum(unexplained),
    realTokenizerJsonOffsetsDiffer: sum(offsets),
    ...vsSentencepiece('t5-small', got, spmIds, real, tok),
  };
} else {
  summary.models['t5-small (rebuilt spiece.model)'] = { skipped: `no ${t5dir}/tokenizer.json` };
}

for (const d of diffs) console.error(JSON.stringify(d));
const counts = Object.values(summary.models).flatMap((m) => [m.winnowOnly, m.tokenizers, m.realTokenizerJsonUnexplained, m.offsetSlices?.bad]).filter((v) => v !== undefined);
summary.identical = counts.every((v) => v === 0) && Object.values(summary.models).every((m) => m.tokenizerJsonEqual !== false);
console.log(JSON.stringify(summary));
process.exit(summary.identical ? 0 : 1);
