#!/usr/bin/env node
// Regenerates native/core/tokenizer/unicode_tables.inc and grapheme_tables.inc by probing every code
// point through the reference (npm tokenizers@0.23.2, the Rust library), so that Winnow's char
// classes are exactly the ones the reference uses (its Unicode tables are older or newer than
// utf8proc's / PCRE2's). Deterministic: same reference + same Node (ICU) => same files.
//
//   node scripts/tokenizer-unicode-tables.cjs            # rewrite both files
//   node scripts/tokenizer-unicode-tables.cjs --check    # exit 1 if they differ from what is generated
const fs = require('node:fs');
const path = require('node:path');
const tk = require('tokenizers');

const ROOT = path.resolve(__dirname, '..');
const UNICODE_INC = path.join(ROOT, 'native/core/tokenizer/unicode_tables.inc');
const GRAPHEME_INC = path.join(ROOT, 'native/core/tokenizer/grapheme_tables.inc');
const MAX = 0x10ffff;
const isSurrogate = (cp) => cp >= 0xd800 && cp <= 0xdfff;

const clean = tk.bertNormalizer({ cleanText: true, handleChineseChars: false, stripAccents: false, lowercase: false });
const bertStrip = tk.bertNormalizer({ cleanText: false, handleChineseChars: false, stripAccents: true, lowercase: false });
const stripAccents = tk.stripAccentsNormalizer();
const lower = tk.lowercase();
const nfd = tk.nfdNormalizer();
const nfkd = tk.nfkdNormalizer();
const bertPre = tk.bertPreTokenizer();
const wsPre = tk.whitespacePreTokenizer();
const digits = tk.digitsPreTokenizer(true);

// A one-rule Precompiled charsmap ("a" -> "b") as a darts-clone double array: "a" + c normalizes to
// "b" exactly when c continues the grapheme cluster that "a" starts (the whole cluster, under 6
// bytes, is replaced by the rule of its shortest matching prefix).
function graphemeProbe() {
  const u = new Uint32Array(0x800);
  const O0 = 0x100;
  const O1 = 0x200;
  u[0] = O0 << 10;
  const p1 = O0 ^ 0x61;
  u[p1] = 0x61 | (1 << 8) | (O1 << 10);
  u[p1 ^ O1] = 0x80000000;  // leaf: value 0 (offset of "b" in the string pool)
  const blob = Buffer.alloc(4 + u.length * 4 + 2);
  blob.writeUInt32LE(u.length * 4, 0);
  for (let i = 0; i < u.length; i++) blob.writeUInt32LE(u[i], 4 + 4 * i);
  blob.write('b\0', 4 + u.length * 4, 'latin1');
  return tk.precompiled([...blob]);
}

const sets = { ctl: [], punc: [], mn: [], mark: [], word: [], numeric: [], ccc0: [], gext: [], nodecomp: [], nocompat: [] };
let otherDecomp = 0;
const lowerMap = [];
const gp = graphemeProbe();
for (let cp = 0; cp <= MAX; cp++) {
  if (isSurrogate(cp)) continue;
  const ch = String.fromCodePoint(cp);
  if (clean.normalizeString(ch) === '') sets.ctl.push(cp);
  if (bertPre.preTokenizeString('a' + ch + 'a').length === 3) sets.punc.push(cp);
  if (nfd.normalizeString(ch) === ch && bertStrip.normalizeString(ch) === '') sets.mn.push(cp);
  if (nfd.normalizeString(ch) === ch && stripAccents.normalizeString(ch) === '') sets.mark.push(cp);
  if (wsPre.preTokenizeString('!' + ch + '!').length === 3) sets.word.push(cp);
  if (digits.preTokenizeString('a' + ch + 'a').length === 3) sets.numeric.push(cp);
  const l = lower.normalizeString(ch);
  if (l !== ch && [...l].length === 1) lowerMap.push([cp, l.codePointAt(0)]);
  if (cp >= 0x300) {
    // Reordered by the modern NFD (Node's ICU) but not by the reference: no combining class there.
    const s = 'a' + ch + '\u0334';
    if (s.normalize('NFD') !== nfd.normalizeString(s)) sets.ccc0.push(cp);
  }
  if (cp >= 0x80 && gp.normalizeString('a' + ch) === 'b') sets.gext.push(cp);
  if (cp >= 0x80) {
    // Decomposed by the modern NFD / NFKD (Node's ICU; utf8proc is no newer) but not by the
    // reference (its tables predate the character's decomposition).
    const d = nfd.normalizeString(ch);
    if (d !== ch.normalize('NFD')) d === ch ? sets.nodecomp.push(cp) : otherDecomp++;
    const k = nfkd.normalizeString(ch);
    if (k !== ch.normalize('NFKD')) k === ch ? sets.nocompat.push(cp) : otherDecomp++;
  }
}

if (otherDecomp) {
  console.error(`${otherDecomp} code points decompose differently (not just not at all) in the reference: unsupported`);
  process.exit(2);
}

const hex = (n) => '0x' + n.toString(16).toUpperCase();
function ranges(cps) {
  const out = [];
  for (const c of cps) {
    const r = out[out.length - 1];
    if (r && r[1] === c - 1) r[1] = c;
    else out.push([c, c]);
  }
  return out;
}
function table(name, pairs, comment = '') {
  let s = comment;
  s += `static const uint32_t ${name}[][2] = {\n`;
  let line = ' ';
  for (const [a, b] of pairs) {
    const item = ` {${hex(a)}, ${hex(b)}},`;
    if (line.length + item.length > 101) {
      s += line + '\n';
      line = ' ';
    }
    line += item;
  }
  if (line.trim()) s += line + '\n';
  return s + '};\n';
}

const HEADER =
  '// Generated from tokenizers@0.23.2 (the Rust library) by probing every code point; see\n' +
  '// scripts/tokenizer-unicode-tables.cjs. Ranges are inclusive [lo, hi].\n\n';
const unicodeInc =
  HEADER +
  table('kBertControl', ranges(sets.ctl)) +
  table('kPunctuation', ranges(sets.punc)) +
  table('kMarkNonspacing', ranges(sets.mn)) +
  table('kCombiningMark', ranges(sets.mark)) +
  table('kWordChar', ranges(sets.word)) +
  table('kNumeric', ranges(sets.numeric)) +
  table(
    'kLower',
    lowerMap,
    '// Rust char::to_lowercase for code points whose lowercase differs (single-char mappings; U+0130\n' +
      '// maps to two chars and is handled in code).\n',
  ) +
  table(
    'kCccZeroInReference',
    ranges(sets.ccc0),
    '// Code points that have a non-zero canonical combining class in current Unicode but none in the\n' +
      '// (older) tables of the Rust library, so it never reorders them during NFD.\n',
  ) +
  table(
    'kNoCanonicalDecompositionInReference',
    ranges(sets.nodecomp),
    '// Code points with a canonical decomposition in current Unicode but none in the reference (NFD /\n' +
      '// NFC leave them alone, and NFC never composes into them).\n',
  ) +
  table(
    'kNoCompatDecompositionInReference',
    ranges(sets.nocompat),
    '// Code points that NFKD decomposes in current Unicode but the reference leaves alone.\n',
  );
const graphemeInc =
  HEADER +
  table(
    'kGraphemeExtend',
    ranges(sets.gext),
    '// Code points that continue a grapheme cluster after a letter in the reference (its UAX #29 tables:\n' +
      '// Extend | SpacingMark | ZWJ), probed through a one-rule Precompiled charsmap.\n',
  );

const check = process.argv.includes('--check');
let differ = 0;
for (const [file, text] of [[UNICODE_INC, unicodeInc], [GRAPHEME_INC, graphemeInc]]) {
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  if (old === text) {
    console.log(`${path.relative(ROOT, file)}: unchanged`);
    continue;
  }
  differ++;
  if (check) {
    const a = old.split('\n');
    const b = text.split('\n');
    const i = a.findIndex((l, k) => l !== b[k]);
    console.log(`${path.relative(ROOT, file)}: differs from line ${i + 1}\n  have: ${a[i]}\n  gen:  ${b[i]}`);
  } else {
    fs.writeFileSync(file, text);
    console.log(`${path.relative(ROOT, file)}: written`);
  }
}
process.exit(check && differ ? 1 : 0);
