// MeCab parity: Winnow's segmenter (native/tools/mecab_cli) against the `mecab` command on the same
// dictionary, line for line and byte for byte (-Owakati, or with --features each word's raw feature string).
//
//   node scripts/mecab-parity.mjs [--dic /var/lib/mecab/dic/ipadic-utf8] [--cli PATH] [--mecab mecab]
//                                 [--shared ../shared] [--features] [--random 3000] [--build-only]
//
// Texts: JSQuAD questions, passages and the passages' sentences (../shared/corpora/jsquad/pairs.jsonl), then
// generated edge cases (half-width kana, full-width Latin and digits, emoji and ZWJ sequences, unknown kanji
// compounds, long runs of one category, spaces and tabs, empty lines, bytes that are not UTF-8), random mixes
// of characters from every category and random bytes. Without --cli, mecab_cli is compiled into
// build/mecab-cli/ with the system C++ compiler (it needs only native/core/mecab and common/mmap). Prints one
// JSON summary line last; exits 1 on any difference, 2 when the `mecab` command or the dictionary is missing.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const arg = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const DIC = arg('--dic', '/var/lib/mecab/dic/ipadic-utf8');
const MECAB = arg('--mecab', 'mecab');
const SHARED = arg('--shared', join(root, '../shared'));
const FEATURES = args.includes('--features');
const NRANDOM = Number(arg('--random', 3000));


// Builds mecab_cli unless it is newer than every source it is made of.
function buildCli() {
  const out = join(root, 'build/mecab-cli/mecab_cli');
  const sources = [
    'native/tools/mecab_cli.cc', 'native/core/mecab/dictionary.cc', 'native/core/mecab/segmenter.cc',
    'native/core/common/mmap.cc',
  ].map((s) => join(root, s));
  const headers = ['native/core/mecab/dictionary.h', 'native/core/mecab/segmenter.h', 'native/core/common/mmap.h',
    'native/core/common/status.h'].map((s) => join(root, s));
  const newest = Math.max(...[...sources, ...headers].map((f) => statSync(f).mtimeMs));
  if (existsSync(out) && statSync(out).mtimeMs > newest) return out;
  mkdirSync(dirname(out), { recursive: true });
  const cxx = process.env.CXX || 'c++';
  const tmp = `${out}.${process.pid}`;  // renamed into place, so a concurrent run never sees half a binary
  const r = spawnSync(cxx, ['-std=c++20', '-O3', '-DNDEBUG', '-I', join(root, 'native/core'), ...sources, '-o', tmp],
    { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building mecab_cli failed:\n${r.stderr}`);
  renameSync(tmp, out);
  return out;
}
const CLI = arg('--cli', null) ?? buildCli();
if (args.includes('--build-only')) {  // used by bench/tokenizer/mecab.mjs
  console.log(CLI);
  process.exit(0);
}

function missing(what) {
  console.log(JSON.stringify({ skipped: what }));
  process.exit(2);
}
if (spawnSync(MECAB, ['-v'], { encoding: 'utf8' }).error) missing(`the \`${MECAB}\` command is not installed`);
if (!existsSync(join(DIC, 'sys.dic'))) missing(`no MeCab dictionary at ${DIC}`);

// ---- texts ----------------------------------------------------------------------------------------------
const texts = [];  // strings or Buffers, one line each (no '\n' inside)
const jsquad = join(SHARED, 'corpora/jsquad/pairs.jsonl');
let corpusLines = 0;
if (existsSync(jsquad)) {
  const seen = new Set();
  for (const l of readFileSync(jsquad, 'utf8').split('\n')) {
    if (!l.trim()) continue;
    const d = JSON.parse(l);
    texts.push(...d.query.split('\n'));
    if (!seen.has(d.passage)) {
      seen.add(d.passage);
      for (const line of d.passage.split('\n')) {
        texts.push(line);
        for (const s of line.split(/(?<=。)/)) if (s && s !== line) texts.push(s);
      }
    }
  }
  corpusLines = texts.length;
}

const EDGE = [
  '', '', 'ｶﾀｶﾅ ﾃﾞｰﾀﾍﾞｰｽ ﾊﾟｿｺﾝ ｳｨｷﾍﾟﾃﾞｨｱ', 'ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝｰ｡｢｣､･',
  '半角ｶﾅと全角カナが混ざったﾃｷｽﾄです。', 'ＡＢＣＤＥＦＧ ａｂｃｄｅｆｇ ０１２３４５６７８９', 'Ｗｉｎｄｏｗｓ１０とｉＰｈｏｎｅ１５ Ｐｒｏ',
  '価格は１，２８０円（税込）です', '２０２４年１２月３１日２３時５９分', 'ＵＲＬはｈｔｔｐｓ：／／ｅｘａｍｐｌｅ．ｃｏｍ',
  '😀😃😄😁 絵文字テスト 🎉✨', '家族👨‍👩‍👧‍👦と一緒に🏠へ', '👍🏽👍🏿 🇯🇵🇺🇸 ❤️❤︎ ☺️', '🧑‍💻エンジニア👩🏻‍🔬研究者',
  'e\u0301 a\u0308 か\u3099 は\u309a', '\u200b\u200c\u200d\ufeff ゼロ幅\u200b文字',
  '鬱鬱鬱鬱 魑魅魍魎 齟齬 𠮷野家 𩸽 𡈽', '量子超越性検証実験装置開発計画推進委員会', '亜亞唖娃阿哀愛挨姶逢葵茜穐悪握渥旭葦芦鯵梓圧斡扱',
  'ア'.repeat(30), 'あ'.repeat(40), '漢'.repeat(30), 'a'.repeat(40), '1'.repeat(30), '１'.repeat(30), 'ー'.repeat(20),
  'ｱ'.repeat(30), '一二三四五六七八九十百千万億兆'.repeat(3), 'ΑΒΓΔΕ αβγδε ΑΒΓαβγ'.repeat(2), 'АБВГД абвгд'.repeat(3),
  'x'.repeat(25) + 'y', 'カ'.repeat(24) + 'ナ', 'カ'.repeat(25), 'カ'.repeat(26), '漢字'.repeat(13),
  '   前に空白', '後ろに空白   ', '  間に  空白  がある  ', '\tタブ\tで\t区切る\t', ' \t \t混在\t \t',
  '全角\u3000空白\u3000です', '\u3000\u3000先頭', 'abc  def\t\tghi', ' ', '\t', '  \t  ',
  'Hello, world! This is English text.', 'MeCabはオープンソースの形態素解析エンジンです。', 'C++20とTypeScript 5.9で書かれたWinnow',
  'iPhone15ProMaxを買った', 'AI・機械学習・ディープラーニング', '東京都千代田区丸の内1-9-1', '03-1234-5678に電話してください',
  'メールはfoo.bar@example.co.jpまで', '#ハッシュタグ @mention https://example.com/path?q=1&r=2',
  '「かぎ括弧」『二重』（丸）【隅付き】〈山〉《二重山》', '！？。、・…‥〜～―－', '※★☆○●◎◇◆□■△▲▽▼',
  '①②③ ⅠⅡⅢ ㈱㈲ ㍉㌔ ℃ ㎏㎝', '한국어 텍스트 안녕하세요', 'العربية مرحبا', 'ภาษาไทย สวัสดี', 'Русский язык привет',
  'Ελληνικά γειά σου', 'Tiếng Việt có dấu', 'Straße Ångström naïve façade', '中文简体字和繁體字混合',
  'ABCdefＧＨＩｊｋｌ123４５６あいうアイウｱｲｳ漢字😀', '1.5倍 3/4 -273.15℃ 1e10 0x1F',
  '\r', 'CRで終わる行\r', '\x01\x02\x7f制御文字', '\uffff\ufffe\ufffd 特殊', '\u0080\u00a0\u00ad',
  'ｰｰｰ ﾞﾟ ｧｨｩ', 'ヴァイオリン ヴィヴィッド', 'ゔ ゕゖ ㇰㇱㇲ', 'ーーーあーーー', '。。。。', '、、、',
  'x'.repeat(10000) + ' 長い行',  // longer than mecab's 8191-byte line buffer: both cut it into pieces
];
for (const e of EDGE) texts.push(e);
// Bytes that are not UTF-8 (mecab decodes them its own way; Winnow must agree).
const rawLines = [
  Buffer.from([0x80, 0x81, 0xe3, 0x81]), Buffer.from([0xe3, 0x81, 0x82, 0xe3]), Buffer.from([0xf0, 0x9f, 0x98]),
  Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80, 0x41]), Buffer.from([0xfc, 0x84, 0x80, 0x80, 0x80, 0x80, 0x42]),
  Buffer.from([0xc0, 0xaf, 0x41, 0xe0, 0x80, 0xaf]), Buffer.from([0xed, 0xa0, 0x80, 0xe3, 0x81, 0x82]),
  Buffer.from([0xe3, 0x41, 0x42, 0xe3, 0x81, 0x82, 0xff, 0xfe]), Buffer.from('あい\u0000うえ'),
];
for (const b of rawLines) texts.push(b);

// Random mixes: seeded, from pools of every category, with spaces.
let seed = 12345;
const rand = (n) => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
};
const POOLS = [
  'あいうえおかきくけこがぎぐげごさしすせそっゃゅょをんー', 'アイウエオカキクケコガギグゲゴサシスセソッャュョヲンヴー',
  'ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄｯｬｭｮｰﾞﾟ', '日本語東京大学研究者会議一二三十百千万円年月時分鬱魑魅魍魎齟齬',
  'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', 'ＡＢＣＤＥａｂｃｄｅ', '0123456789', '０１２３４５６７８９',
  '。、！？「」（）・…,.!?()[]-_/:;', '    \t\u3000', 'αβγδΑΒΓΔабвгдАБВГД', '😀👍🏽👨‍👩‍👧🇯🇵❤️✨𠮷𩸽',
];
for (let i = 0; i < NRANDOM; ++i) {
  const n = 1 + rand(40);
  let s = '';
  const focus = rand(POOLS.length);  // runs of one category are likelier than uniform mixes
  for (let j = 0; j < n; ++j) {
    const pool = [...POOLS[rand(3) === 0 ? rand(POOLS.length) : focus]];
    s += pool[rand(pool.length)];
  }
  texts.push(s);
}

// Random bytes (no NUL, no newline), biased to UTF-8 lead and continuation bytes, spaces and ASCII.
const BYTES = [0x20, 0x09, 0xe3, 0x81, 0x82, 0xef, 0xbd, 0xb1, 0xf0, 0x9f, 0x98, 0x80, 0x41, 0xc3, 0xa9, 0xf8, 0xfc];
for (let i = 0; i < NRANDOM / 3; ++i) {
  const b = [];
  for (let j = 1 + rand(30); j > 0; --j) {
    let x;
    do x = rand(3) === 0 ? rand(256) : BYTES[rand(BYTES.length)]; while (x === 0 || x === 10);
    b.push(x);
  }
  texts.push(Buffer.from(b));
}

// ---- run both ---------------------------------------------------------------------------------------------
const input = Buffer.concat(texts.flatMap((t) => [Buffer.isBuffer(t) ? t : Buffer.from(t, 'utf8'), Buffer.from('\n')]));
const opts = { input, maxBuffer: 1 << 30 };
// Raw features whatever output format the dictionary's dicrc sets (UniDic's reformats them).
const RAW = ['-O', '', '-F', '%m\\t%H\\n', '-U', '%m\\t%H\\n', '-B', '', '-E', 'EOS\\n'];
const ref = spawnSync(MECAB, ['-d', DIC, ...(FEATURES ? RAW : ['-Owakati'])], opts);
if (ref.status !== 0) throw new Error(`mecab failed: ${ref.stderr}`);
const ours = spawnSync(CLI, ['-d', DIC, ...(FEATURES ? ['-Ofeatures'] : [])], opts);
if (ours.status !== 0) throw new Error(`mecab_cli failed: ${ours.stderr}`);

// One record per input line: its output line (wakati) or its lines up to EOS (features).
function records(buf) {
  const lines = buf.toString('latin1').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (!FEATURES) return lines;
  const out = [];
  let cur = [];
  for (const l of lines) {
    cur.push(l);
    if (l === 'EOS') {
      out.push(cur.join('\n'));
      cur = [];
    }
  }
  return out;
}
const a = records(ref.stdout);
const b = records(ours.stdout);
const mismatches = [];
for (let i = 0; i < Math.max(a.length, b.length); ++i) {
  if (a[i] !== b[i]) mismatches.push(i);
}
const show = (s) => (s === undefined ? '(none)' : Buffer.from(s, 'latin1').toString('utf8'));
for (const i of mismatches.slice(0, 10)) {
  console.error(`record ${i}:\n  mecab:  ${JSON.stringify(show(a[i]))}\n  winnow: ${JSON.stringify(show(b[i]))}`);
}
const words = a.reduce((n, l) => n + (FEATURES ? l.split('\n').length - 1 : l.split(' ').length - 1), 0);
console.log(JSON.stringify({
  dictionary: DIC, lines: texts.length, corpusLines, records: a.length, words, mismatches: mismatches.length,
  identical: mismatches.length === 0 && a.length === b.length && ref.stdout.equals(ours.stdout),
}));
process.exit(mismatches.length === 0 && ref.stdout.equals(ours.stdout) ? 0 : 1);
