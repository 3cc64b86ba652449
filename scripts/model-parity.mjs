// Model-level parity: Winnow's BPE / Unigram models (through native/tools/model_cli) against
// Hugging Face `tokenizers` (npm), on real tokenizer.json files and on random synthetic models.
//
//   node scripts/model-parity.mjs [--cli build-tok2/model_cli] [--docs 2000] [--fuzz 300] [--bench]
//
// Pieces are produced the way the real pipeline would: the reference tokenizer's own normalizer and
// pre-tokenizer (ByteLevel for modernbert-base, WhitespaceSplit+Metaspace for t5-small). The
// reference *model* runs inside a tokenizer.json that has only the `model` section (no normalizer,
// pre-tokenizer or added tokens), so each piece is encoded by the model alone. The reference reports
// offsets in code points, Winnow in bytes; bytes are converted before comparing.
// Exits non-zero on any mismatch.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { Tokenizer } = require('tokenizers');
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const arg = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const CLI = arg('--cli', join(root, 'build-tok2/model_cli'));
const NDOCS = Number(arg('--docs', 2000));
const NFUZZ = Number(arg('--fuzz', 300));
const BENCH = args.includes('--bench');
const SHARED = arg('--shared', join(root, '../shared'));
const tmp = mkdtempSync(join(tmpdir(), 'model-parity-'));

// ---------------------------------------------------------------------------------------------
const MULTILINGUAL = [
  'Café déjà vu — naïve façade, Ångström, Øresund, Straße, İstanbul, ﬁnancial ½ №5',
  '東京都は日本の首都であり、人口は約1400万人です。中华人民共和国成立于1949年。',
  '한국어 텍스트와 일본어 カタカナ ひらがな を混ぜる',
  'Emoji: 😀😃😄 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ ✨ 🤖 e\u0301 a\u0308',
  'العربية هي لغة سامية، يتحدث بها أكثر من 400 مليون شخص.',
  'ภาษาไทยเป็นภาษาที่มีวรรณยุกต์ กรุงเทพมหานคร',
  'Русский язык — один из восточнославянских языков. Ελληνικά γλώσσα. עברית שפה',
  'हिन्दी भारत की राजभाषा है। বাংলা ভাষা। தமிழ் மொழி',
  'Tiếng Việt có dấu: Nguyễn, Trần, Lê, Phạm. Zażółć gęślą jaźń. Čeština Ťažký',
  'Mixed: x²+y²=z², ∑∫∂ √π ≈ 3.14159, €100 £50 ¥1000 ₹20, <0x41> <unk> </s> \u00a0nbsp',
  'Weird spacing\ttabs\nnewlines   many   spaces\u3000ideographic\u2028sep',
  'Long: ' + 'supercalifragilisticexpialidocious'.repeat(8) + ' ' + 'ab'.repeat(200),
  'Zero width\u200bjoiner\u200dnon\u200cjoiner \ufeffBOM \u{1F9D1}\u{200D}\u{1F4BB} 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝒳',
];

function corpusTexts(n) {
  const lines = readFileSync(join(SHARED, 'corpora/dbpedia-entity/corpus.jsonl'), 'utf8').split('\n');
  const out = [];
  for (const l of lines) {
    if (!l.trim()) continue;
    const d = JSON.parse(l);
    out.push(d.title + ' ' + d.text);
    if (out.length >= n) break;
  }
  return out;
}

// Byte offsets -> code point offsets the way the reference reports them: HF maps a byte range
// through per-byte alignments, so a range is widened to whole characters (model offsets can fall
// inside a character when unknown characters are dropped or bytes fall back to <0xXX>).
const charOfByte = (s) => {
  const out = [];
  let cp = 0;
  for (const ch of s) {
    for (let k = 0; k < Buffer.byteLength(ch, 'utf8'); k++) out.push(cp);
    cp++;
  }
  return out;
};
const toCp = (map, s, e) => (s < map.length && e > s ? [map[s], map[e - 1] + 1] : [-1, -1]);

function runCli(tokJson, pieces, extra = []) {
  const tokPath = join(tmp, 'tok.json');
  writeFileSync(tokPath, tokJson);
  const input = pieces.map((p) => JSON.stringify(p)).join('\n') + '\n';
  const r = spawnSync(CLI, [tokPath, ...extra], { input, maxBuffer: 1 << 30, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`model_cli failed (${r.status}): ${r.stderr}${r.stdout.slice(0, 500)}`);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l));
}

function miniTokenizerJson(model) {
  return JSON.stringify({
    version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null,
    pre_tokenizer: null, post_processor: null, decoder: null, model,
  });
}

async function reference(model, pieces) {
  const t = Tokenizer.fromString(miniTokenizerJson(model));
  const out = [];
  const B = 2000;
  for (let i = 0; i < pieces.length; i += B) {
    const encs = await t.encodeBatch(pieces.slice(i, i + B), { addSpecialTokens: false });
    for (const e of encs) out.push({ ids: e.getIds(), offsets: e.getOffsets() });
  }
  return out;
}

// Returns number of mismatching pieces; prints the first few.
// Offsets are not compared for BPE models combining byte_fallback with a continuing_subword_prefix /
// end_of_word_suffix: HF counts the affix bytes into the offsets there (running past the piece),
// Winnow clamps them to the piece (documented deviation). Ids are always compared.
async function compare(label, model, pieces, { quiet = false } = {}) {
  const checkOffsets = !(model.byte_fallback && (model.continuing_subword_prefix || model.end_of_word_suffix));
  let refs;
  let refError = null;
  try {
    refs = await reference(model, pieces);
  } catch (e) {
    refError = e;
  }
  const mine = runCli(miniTokenizerJson(model), pieces);
  if (refError) {
    // The reference refused the whole batch; ours must refuse at least one piece (or the load).
    const ok = mine.some((m) => m && (m.error || m.load_error));
    if (!ok && !quiet) console.log(`${label}: reference error ${refError} but Winnow succeeded`);
    return { mismatches: ok ? 0 : 1, pieces: pieces.length, skipped: true };
  }
  if (mine.length === 1 && mine[0].load_error) {
    console.log(`${label}: Winnow failed to load: ${mine[0].load_error}`);
    return { mismatches: pieces.length, pieces: pieces.length };
  }
  let bad = 0;
  for (let i = 0; i < pieces.length; i++) {
    const m = mine[i];
    const r = refs[i];
    let same = Array.isArray(m) && m.length === r.ids.length;
    if (same) {
      const map = charOfByte(pieces[i]);
      for (let k = 0; k < m.length && same; k++) {
        const [id, s, e] = m[k];
        const [cs, ce] = toCp(map, s, e);
        if (id !== r.ids[k] || (checkOffsets && (cs !== r.offsets[k][0] || ce !== r.offsets[k][1]))) same = false;
      }
    }
    if (!same) {
      if (bad < 5 && !quiet)
        console.log(`${label} MISMATCH piece=${JSON.stringify(pieces[i])}\n  ref=${JSON.stringify(r.ids)} ${JSON.stringify(r.offsets)}\n  win=${JSON.stringify(m)}`);
      bad++;
    }
  }
  return { mismatches: bad, pieces: pieces.length };
}

// ---------------------------------------------------------------------------------------------
async function realModel(name, texts) {
  const file = join(SHARED, `tokenizers/${name}/tokenizer.json`);
  const full = JSON.parse(readFileSync(file, 'utf8'));
  const tok = Tokenizer.fromFile(file);
  const norm = tok.getNormalizer();
  const pre = tok.getPreTokenizer();
  const pieces = [];
  for (const t of texts) {
    const n = norm ? norm.normalizeString(t) : t;
    for (const [w] of pre.preTokenizeString(n)) pieces.push(w);
  }
  const t0 = performance.now();
  const res = await compare(name, full.model, pieces);
  const uniq = new Set(pieces).size;
  console.log(`${name}: ${res.pieces} pieces (${uniq} distinct), ${res.mismatches} mismatches (${(performance.now() - t0).toFixed(0)} ms)`);
  if (BENCH) await bench(name, full.model, pieces);
  return res.mismatches;
}

async function bench(name, model, pieces) {
  const R = 5;
  const json = miniTokenizerJson(model);
  // Reference: one encode() of all pieces joined by '\n' with a CharDelimiterSplit('\n')
  // pre-tokenizer (no piece contains '\n'), so one Rust thread runs the model on every piece
  // (plus a trivial split and building one Encoding).
  const spec = JSON.parse(json);
  spec.pre_tokenizer = { type: 'CharDelimiterSplit', delimiter: '\n' };
  const refTok = Tokenizer.fromString(JSON.stringify(spec));
  const joined = pieces.join('\n');
  await refTok.encode(joined, null, { addSpecialTokens: false }); // warm (fills HF's cache too)
  const t0 = performance.now();
  for (let r = 0; r < R; r++) await refTok.encode(joined, null, { addSpecialTokens: false });
  const refRate = (pieces.length * R) / ((performance.now() - t0) / 1000);
  const cached = runCli(json, pieces, ['--bench', String(R)])[0];
  const nocache = runCli(json, pieces, ['--bench', String(R), '--no-cache'])[0];
  console.log(`${name} speed (pieces/s, 1 thread): reference ${refRate.toFixed(0)}; ` +
    `Winnow ${cached.pieces_per_s.toFixed(0)}` + (model.type === 'BPE' ? ` (cache on), ${nocache.pieces_per_s.toFixed(0)} (cache off)` : ''));
}

// ---------------------------------------------------------------------------------------------
// Synthetic models: random vocabularies/merges, every BPE/Unigram option.
let seed = 12345; // mulberry32
const rnd = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (a) => a[Math.floor(rnd() * a.length)];
const ALPHA = ['a', 'b', 'c', 'd', 'é', '中', '😀', ' ', 'x'];
const EXTRA = ['z', 'ß', '€', '🤖']; // not in the vocab

function randomWords(n, maxLen) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const len = 1 + Math.floor(rnd() * maxLen);
    let w = '';
    for (let k = 0; k < len; k++) w += rnd() < 0.12 ? pick(EXTRA) : pick(ALPHA);
    out.push(w);
  }
  return out;
}

function randomBpe() {
  const prefix = rnd() < 0.3 ? '##' : null;
  const suffix = rnd() < 0.3 ? '</w>' : null;
  const vocab = {};
  const add = (t) => {
    if (!(t in vocab)) vocab[t] = Object.keys(vocab).length;
  };
  const alpha = ALPHA.filter(() => rnd() < 0.9);
  const unkToken = rnd() < 0.7 ? '<unk>' : null;
  if (unkToken) add(unkToken);
  const byteFallback = rnd() < 0.4;
  if (byteFallback) for (let b = 0; b < 256; b++) if (rnd() < 0.9) add('<0x' + b.toString(16).toUpperCase().padStart(2, '0') + '>');
  const base = [];
  for (const c of alpha) {
    for (const v of [c, ...(prefix ? [prefix + c] : [])]) {
      base.push(v);
      if (suffix) base.push(v + suffix);
    }
  }
  for (const t of base) add(t);
  const toks = [...base];
  const merges = [];
  const pairsFormat = rnd() < 0.5; // HF wants one format for the whole list
  const nm = Math.floor(rnd() * 60);
  for (let k = 0; k < nm; k++) {
    const a = pick(toks);
    const b = prefix ? pick(toks.filter((t) => t.startsWith(prefix))) : pick(toks);
    if (!b) continue;
    if (suffix && a.endsWith(suffix)) continue;
    const merged = a + (prefix ? b.slice(prefix.length) : b);
    add(merged);
    toks.push(merged);
    merges.push([a, b]);
  }
  const legacy = !pairsFormat && !merges.some(([a, b]) => a.includes(' ') || b.includes(' '));
  // sometimes duplicate a merge (last wins)
  if (merges.length > 3 && rnd() < 0.3) merges.push(merges[Math.floor(rnd() * merges.length)]);
  return {
    type: 'BPE', dropout: null, unk_token: unkToken, continuing_subword_prefix: prefix,
    end_of_word_suffix: suffix, fuse_unk: rnd() < 0.5, byte_fallback: byteFallback,
    ignore_merges: rnd() < 0.3, vocab, merges: legacy ? merges.map(([a, b]) => `${a} ${b}`) : merges,
  };
}

function randomUnigram() {
  const vocab = [['<unk>', 0]];
  const seen = new Set(['<unk>']);
  const scoreSet = [-1, -2, -2.5, -3, -4.25, -7];
  const alpha = ALPHA.filter(() => rnd() < 0.85);
  for (const c of alpha) if (rnd() < 0.9) { vocab.push([c, pick(scoreSet)]); seen.add(c); }
  const n = 5 + Math.floor(rnd() * 60);
  for (let k = 0; k < n; k++) {
    const len = 2 + Math.floor(rnd() * 4);
    let w = '';
    for (let i = 0; i < len; i++) w += pick(alpha.length ? alpha : ALPHA);
    if (seen.has(w)) continue;
    seen.add(w);
    vocab.push([w, rnd() < 0.5 ? pick(scoreSet) : -Math.round(rnd() * 1000) / 100]);
  }
  const byteFallback = rnd() < 0.5;
  if (byteFallback) for (let b = 0; b < 256; b++) if (rnd() < 0.95) vocab.push(['<0x' + b.toString(16).toUpperCase().padStart(2, '0') + '>', 0]);
  return { type: 'Unigram', unk_id: 0, vocab, byte_fallback: byteFallback };
}

async function fuzz() {
  let bad = 0;
  let pieces = 0;
  let skipped = 0;
  for (let i = 0; i < NFUZZ; i++) {
    for (const [kind, model] of [['bpe', randomBpe()], ['unigram', randomUnigram()]]) {
      const words = randomWords(60, 12);
      const r = await compare(`fuzz-${kind}-${i}`, model, words);
      if (r.mismatches && bad < 3) console.log(JSON.stringify(model).slice(0, 3000));
      bad += r.mismatches;
      pieces += r.pieces;
      if (r.skipped) skipped++;
    }
  }
  console.log(`fuzz: ${NFUZZ * 2} random models, ${pieces} pieces, ${bad} mismatches (${skipped} models where the reference errored)`);
  return bad;
}

let total = 0;
const texts = [...corpusTexts(NDOCS), ...MULTILINGUAL, ...MULTILINGUAL.map((s) => s.toUpperCase())];
total += await realModel('modernbert-base', texts);
total += await realModel('t5-small', texts);
if (NFUZZ > 0) total += await fuzz();
console.log(total === 0 ? 'PARITY OK' : `PARITY FAILED: ${total} mismatches`);
process.exit(total === 0 ? 0 : 1);
