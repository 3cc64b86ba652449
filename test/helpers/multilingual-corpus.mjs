// Deterministic multilingual corpus for tokenizer parity tests: makeCorpus(seed, n) -> string[].
// Mixes scripts, emoji (ZWJ sequences, skin tones), combining marks, control characters,
// whitespace runs, very long words, mojibake, punctuation clusters, numbers and real text lines
// from the dbpedia-entity corpus (when /work/shared is present).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const here = dirname(fileURLToPath(import.meta.url));
const DBPEDIA = [
  process.env.WINNOW_SHARED_DIR && join(process.env.WINNOW_SHARED_DIR, 'corpora/dbpedia-entity/corpus.jsonl'),
  join(here, '../../../shared/corpora/dbpedia-entity/corpus.jsonl'),
  '/work/shared/corpora/dbpedia-entity/corpus.jsonl',
].filter(Boolean);

let dbpediaCache = null;
function dbpediaLines() {
  if (dbpediaCache) return dbpediaCache;
  dbpediaCache = [];
  const file = DBPEDIA.find((p) => existsSync(p));
  if (!file) return dbpediaCache;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    try {
      const j = JSON.parse(line);
      dbpediaCache.push(`${j.title}. ${j.text}`);
    } catch {
      /* skip */
    }
    if (dbpediaCache.length >= 4000) break;
  }
  return dbpediaCache;
}

const range = (lo, hi) => ({ lo, hi });
const SCRIPTS = {
  latin: [range(0x61, 0x7a), range(0x41, 0x5a)],
  accented: [range(0xc0, 0xff), range(0x100, 0x17f), range(0x1e00, 0x1eff)],
  cjk: [range(0x4e00, 0x9fff), range(0x3400, 0x4dbf), range(0x20000, 0x2a6df), range(0xf900, 0xfaff)],
  kana: [range(0x3041, 0x3096), range(0x30a1, 0x30fa), range(0xff66, 0xff9d)],
  hangul: [range(0xac00, 0xd7a3), range(0x1100, 0x11ff), range(0x3131, 0x318e)],
  arabic: [range(0x621, 0x64a), range(0x660, 0x669), range(0x64b, 0x652)],
  devanagari: [range(0x905, 0x939), range(0x93e, 0x94d), range(0x966, 0x96f)],
  thai: [range(0xe01, 0xe3a), range(0xe40, 0xe5b)],
  greekCyrillic: [range(0x391, 0x3c9), range(0x400, 0x4ff)],
  combining: [range(0x300, 0x36f), range(0x1ab0, 0x1aff), range(0x20d0, 0x20ff)],
  symbols: [range(0x2000, 0x206f), range(0x2190, 0x21ff), range(0x2e00, 0x2e5d), range(0x3000, 0x303f), range(0xff01, 0xff5e)],
  any: [range(0x80, 0x2fff), range(0xa000, 0xfffd), range(0x10000, 0x1fbff), range(0xe0000, 0xe007f)],
};
const EMOJI = ['😀', '👍🏽', '👨‍👩‍👧‍👦', '🏳️‍🌈', '👩🏿‍💻', '🇯🇵', '❤️', '🧑‍🤝‍🧑', '🥰', '🫠', '✋🏻', '🤷‍♀️', '#️⃣', '🦀'];
const CONTROLS = ['\u0000', '\u0001', '\u0007', '\u000b', '\u000c', '\u001f', '\u007f', '\u0085', '\u200b', '\u200d', '\u200e', '\u2060', '\ufeff', '\ufffd', '\ue000', '\u{f0000}', '\u00ad'];
const SPACES = [' ', '  ', '\t', '\n', '\r\n', '\u3000', '\u00a0', '\u2003', ' \t \n ', '\u2028', '\u1680'];
const PUNCT = ['...', '?!', '—', '«»', '“”', '()', '[', ']', '{}', '!!!', '¿', '¡', '、', '。', '・', '@#$%^&*', '--', '~`|\\', '‽', '،', '।', '«', '’s', "n't", '[CLS]', '[SEP]', '[MASK]', '[UNK]', '[PAD]'];
const MOJIBAKE = ['Ã©', 'Ã¨', 'â€™', 'â€œ', 'Ã¼', 'ï»¿', 'Ã', 'Â ', 'æ—¥æœ¬'];

export function makeCorpus(seed = 1, n = 1000) {
  const rnd = mulberry32(seed);
  const pick = (arr) => arr[Math.floor(rnd() * arr.length)];
  const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
  const charFrom = (ranges) => {
    const r = pick(ranges);
    let cp = int(r.lo, r.hi);
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x41;
    return String.fromCodePoint(cp);
  };
  const word = (script, len) => {
    let s = '';
    for (let i = 0; i < len; i++) s += charFrom(SCRIPTS[script]);
    return s;
  };
  const lines = dbpediaLines();
  const scriptNames = Object.keys(SCRIPTS);
  const pieces = [
    () => word(pick(['latin', 'latin', 'latin', 'accented']), int(1, 12)),
    () => word(pick(scriptNames), int(1, 8)),
    () => pick(EMOJI),
    () => pick(CONTROLS),
    () => pick(SPACES),
    () => pick(PUNCT),
    () => pick(MOJIBAKE),
    () => String(int(0, 1e6)) + (rnd() < 0.3 ? '.' + int(0, 99) : ''),
    () => word('latin', 1) + word('combining', int(1, 3)),
    () => word('latin', int(90, 130)),  // around max_input_chars_per_word
    () => (lines.length ? pick(lines).slice(0, int(10, 200)) : word('latin', 8)),
    () => String.fromCharCode(0xd800 + int(0, 0x7ff)),  // lone surrogate
  ];
  const out = [];
  for (let i = 0; i < n; i++) {
    const kind = rnd();
    let s;
    if (kind < 0.25 && lines.length) {
      s = pick(lines);
      if (rnd() < 0.5) s = s.slice(0, int(1, 600));
    } else if (kind < 0.3) {
      s = rnd() < 0.5 ? '' : pick(SPACES);
    } else {
      const k = int(1, 25);
      s = '';
      for (let j = 0; j < k; j++) {
        s += pick(pieces)();
        if (rnd() < 0.6) s += ' ';
      }
      if (rnd() < 0.3) s = rnd() < 0.5 ? s.toUpperCase() : s.normalize(rnd() < 0.5 ? 'NFD' : 'NFC');
    }
    out.push(s);
  }
  return out;
}
