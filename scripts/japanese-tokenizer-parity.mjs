#!/usr/bin/env node
// BertJapaneseTokenizer parity: Winnow's Tokenizer.load of a vocab.txt + tokenizer_config.json folder (MeCab words,
// then WordPiece) against a reference assembled from independent parts: NFKC (String.prototype.normalize), the
// `mecab -Owakati` command on the same dictionary, and Hugging Face `tokenizers` (npm tokenizers@0.23.2) WordPiece
// over the same vocab.txt on the words mecab printed, with BERT's [CLS] A [SEP] (B [SEP]) template. Compares token
// ids and type ids for singles (JSQuAD questions, passages and passage sentences, plus half-width kana, full-width
// Latin, emoji and unknown words) and for the JSQuAD (question, passage) pairs, and checks that every token's
// offsets cover the original text it came from.
//
//   node scripts/japanese-tokenizer-parity.mjs [--folder ../shared/tokenizers/bert-base-japanese-v3]
//        [--dic /var/lib/mecab/dic/ipadic-utf8] [--limit N] [--shared ../shared] [--lower] [--character]
//
// --lower runs a copy of the folder with do_lower_case true (the reference lowercases the text before NFKC and
// each word after mecab, as transformers does); --character one with subword_tokenizer_type "character" (the
// reference maps each NFKC'd word's characters to their ids, [UNK] for the others, as CharacterTokenizer does).
// --limit keeps the first N corpus texts and N pairs (the edge cases always run). Needs the addon and dist/ built
// (npm run build:native && npm run build:ts). Prints one JSON summary line last; exits 1 on any difference, 2 when
// the `mecab` command or the dictionary is missing.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const arg = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const SHARED = arg('--shared', join(root, '../shared'));
const SOURCE = arg('--folder', join(SHARED, 'tokenizers/bert-base-japanese-v3'));
const LOWER = args.includes('--lower');
const CHARACTER = args.includes('--character');
const DIC = arg('--dic', '/var/lib/mecab/dic/ipadic-utf8');
const LIMIT = Number(arg('--limit', Infinity));

function skip(why) {
  console.log(JSON.stringify({ skipped: why }));
  process.exit(2);
}
if (spawnSync('mecab', ['-v']).error) skip('the `mecab` command is not installed (apt-get install mecab)');
if (!existsSync(join(DIC, 'sys.dic'))) skip(`no MeCab dictionary at ${DIC} (apt-get install mecab-ipadic-utf8)`);

// The folder as given, or a copy with do_lower_case / subword_tokenizer_type changed.
let FOLDER = SOURCE;
if (LOWER || CHARACTER) {
  FOLDER = mkdtempSync(join(tmpdir(), 'winnow-ja-'));
  process.on('exit', () => rmSync(FOLDER, { recursive: true, force: true }));
  copyFileSync(join(SOURCE, 'vocab.txt'), join(FOLDER, 'vocab.txt'));
  const config = JSON.parse(readFileSync(join(SOURCE, 'tokenizer_config.json'), 'utf8'));
  if (LOWER) config.do_lower_case = true;
  if (CHARACTER) config.subword_tokenizer_type = 'character';
  writeFileSync(join(FOLDER, 'tokenizer_config.json'), JSON.stringify(config));
}

const hf = require('tokenizers');
const { Tokenizer } = require(join(root, 'dist/cjs/index.js'));

// ---- texts ----------------------------------------------------------------------------------------------
const corpus = [];
const pairs = [];
const seen = new Set();
for (const l of readFileSync(join(SHARED, 'corpora/jsquad/pairs.jsonl'), 'utf8').split('\n')) {
  if (!l.trim()) continue;
  const d = JSON.parse(l);
  pairs.push([d.query, d.passage]);
  corpus.push(d.query);
  if (seen.has(d.passage)) continue;
  seen.add(d.passage);
  corpus.push(d.passage);
  for (const s of d.passage.split(/(?<=。)/)) if (s && s !== d.passage) corpus.push(s);
}
export const EDGE = [
  'ｶﾀｶﾅ ﾃﾞｰﾀﾍﾞｰｽ ﾊﾟｿｺﾝ ｳｨｷﾍﾟﾃﾞｨｱ', '半角ｶﾅと全角カナが混ざったﾃｷｽﾄです。', 'ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝｰ｡｢｣､･',
  'ＡＢＣＤＥＦＧ ａｂｃｄｅｆｇ ０１２３４５６７８９', 'Ｗｉｎｄｏｗｓ１０とｉＰｈｏｎｅ１５ Ｐｒｏ', '価格は１，２８０円（税込）です',
  'ＵＲＬはｈｔｔｐｓ：／／ｅｘａｍｐｌｅ．ｃｏｍ', '😀😃😄😁 絵文字テスト 🎉✨', '家族👨‍👩‍👧‍👦と一緒に🏠へ', '👍🏽👍🏿 🇯🇵🇺🇸 ❤️❤︎ ☺️',
  '🧑‍💻エンジニア👩🏻‍🔬研究者', 'e\u0301 a\u0308 か\u3099 は\u309a', '鬱鬱鬱鬱 魑魅魍魎 齟齬 𠮷野家 𩸽 𡈽',
  '量子超越性検証実験装置開発計画推進委員会', 'ア'.repeat(30), '漢'.repeat(30), 'a'.repeat(120), 'カ'.repeat(25) + 'ナ',
  '   前に空白', '後ろに空白   ', '全角\u3000空白\u3000です', '①②③ ⅠⅡⅢ ㈱㈲ ㍉㌔ ℃ ㎏㎝ ㍻', 'ﬁﬂ ﬀ ﹅ ･ ｰ',
  'ヴァイオリン ヴィヴィッド', 'ゔ ゕゖ ㇰㇱㇲ', 'iPhone15ProMaxを買った', 'C++20とTypeScript 5.9で書かれたWinnow',
  'Straße Ångström naïve façade', '한국어 텍스트 안녕하세요', 'العربية مرحبا', 'ภาษาไทย สวัสดี', 'Русский язык привет',
  'ぴえん超えてぱおん', 'ｷﾞｶﾞﾃﾞｼﾞﾀﾙ ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ', 'ＭｅＣａｂはオープンソースの形態素解析エンジンです。',
  '東京都千代田区丸の内1-9-1', 'メールはfoo.bar@example.co.jpまで', '「かぎ括弧」『二重』（丸）【隅付き】〈山〉《二重山》',
];
const singles = [...corpus.slice(0, LIMIT), ...EDGE];
const pairList = pairs.slice(0, LIMIT);

// ---- reference --------------------------------------------------------------------------------------------
// The words mecab prints for each NFKC-normalized text (one line each; -b lifts the 8 KiB line limit).
const norm = (s) => s.normalize('NFKC');
const lines = [...singles, ...pairList.flat()].map((s) => norm(LOWER ? s.toLowerCase() : s));
for (const l of lines) if (/[\n\r]/.test(l)) throw new Error(`a text holds a line break: ${JSON.stringify(l)}`);
const wakati = spawnSync('mecab', ['-d', DIC, '-Owakati', '-b', String(1 << 22)],
  { input: lines.join('\n') + '\n', maxBuffer: 1 << 30, encoding: 'utf8' });
if (wakati.status !== 0) throw new Error(`mecab failed: ${wakati.stderr}`);
let words = wakati.stdout.split('\n');
words.pop();
if (LOWER) words = words.map((l) => l.split(' ').map((w) => w.toLowerCase()).join(' '));
if (words.length !== lines.length) throw new Error(`mecab printed ${words.length} lines for ${lines.length}`);

// vocab.txt as transformers reads it: one token per line, its line number its id.
const vocab = {};
readFileSync(join(FOLDER, 'vocab.txt'), 'utf8').split(/\r\n|\r|\n/).forEach((t, i, all) => {
  if (i < all.length - 1 || t !== '') vocab[t] = i;
});
const ref = new hf.Tokenizer(hf.WordPiece.init(vocab, { unkToken: '[UNK]', continuingSubwordPrefix: '##', maxInputCharsPerWord: 100 }));
ref.setPreTokenizer(hf.whitespaceSplitPreTokenizer());
ref.setPostProcessor(hf.templateProcessing('[CLS] $A [SEP]', '[CLS] $A [SEP] $B:1 [SEP]:1',
  [['[CLS]', vocab['[CLS]']], ['[SEP]', vocab['[SEP]']]]));

// ---- compare ----------------------------------------------------------------------------------------------
const tok = await Tokenizer.load(FOLDER, { mecabDictionary: DIC });
let mismatches = 0;
let offsetProblems = 0;
let tokens = 0;
const report = (what, ours, theirs) => {
  if (++mismatches <= 10) console.error(`${what}\n  winnow:    ${ours}\n  reference: ${theirs}`);
};
const show = (ids) => ids.map((i) => tok.idToToken(i)).join(' ');

// Every token but [CLS] / [SEP] / [UNK] covers original text whose NFKC form holds the token's text, and offsets
// never go backwards within a sequence. A char NFKC composes from a base and the marks after it (ｶﾞ -> ガ) is
// aligned with the base alone, as Hugging Face's NormalizedString aligns it, so the marks after the end count.
const MARK = /^[\u0300-\u036f\u3099\u309a\uff9e\uff9f]/;
function checkOffsets(text, e, seq) {
  let last = 0;
  for (let i = 0; i < e.ids.length; i++) {
    if (e.sequenceIds[i] !== seq) continue;
    const [s, t] = [e.offsets[2 * i], e.offsets[2 * i + 1]];
    const piece = tok.idToToken(e.ids[i]).replace(/^##/, '');
    let end = t;
    while (end < text.length && MARK.test(text.slice(end))) end++;
    const covered = LOWER ? norm(text.slice(s, end).toLowerCase()).toLowerCase() : norm(text.slice(s, end));
    const ok = s >= last && t > s && t <= text.length && (piece === '[UNK]' || covered.includes(piece));
    if (!ok && ++offsetProblems <= 10)
      console.error(`offsets of ${JSON.stringify(piece)} in ${JSON.stringify(text)}: [${s}, ${t}) = ${JSON.stringify(text.slice(s, t))}`);
    last = s;
  }
}

// CharacterTokenizer: each word NFKC'd, then each character its id or [UNK]; the reference's WordPiece encoding of
// a stand-in gives the template's specials and type ids.
async function refEncode(a, b) {
  if (!CHARACTER) return b === undefined ? ref.encode(a) : ref.encode(a, b);
  const chars = (w) => [...w.split(' ').filter(Boolean).map(norm).join('')].map((c) => vocab[c] ?? vocab['[UNK]']);
  const ids = [vocab['[CLS]'], ...chars(a), vocab['[SEP]']];
  const typeIds = ids.map(() => 0);
  if (b !== undefined) for (const id of [...chars(b), vocab['[SEP]']]) ids.push(id), typeIds.push(1);
  return { getIds: () => ids, getTypeIds: () => typeIds, getTokens: () => ids.map((i) => tok.idToToken(i)) };
}

for (let i = 0; i < singles.length; i++) {
  const e = tok.encode(singles[i]);
  const r = await refEncode(words[i]);
  tokens += e.ids.length;
  if (e.ids.join() !== r.getIds().join()) report(`single ${i}: ${JSON.stringify(singles[i])}`, show([...e.ids]), r.getTokens().join(' '));
  checkOffsets(singles[i], e, 0);
}
for (let i = 0; i < pairList.length; i++) {
  const [a, b] = pairList[i];
  const e = tok.encode(a, b);
  const r = await refEncode(words[singles.length + 2 * i], words[singles.length + 2 * i + 1]);
  tokens += e.ids.length;
  if (e.ids.join() !== r.getIds().join() || e.typeIds.join() !== r.getTypeIds().join())
    report(`pair ${i}: ${JSON.stringify(a)}`, show([...e.ids]), r.getTokens().join(' '));
  checkOffsets(a, e, 0);
  checkOffsets(b, e, 1);
}
const summary = {
  folder: SOURCE, lower: LOWER, character: CHARACTER, dictionary: DIC, corpusTexts: Math.min(corpus.length, LIMIT), edgeCases: EDGE.length,
  singles: singles.length, pairs: pairList.length, tokens, mismatches, offsetProblems,
  identical: mismatches === 0 && offsetProblems === 0,
};
console.log(JSON.stringify(summary));
process.exit(summary.identical ? 0 : 1);
