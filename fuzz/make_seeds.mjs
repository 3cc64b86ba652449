// Regenerates the seed corpora and the dictionary (node fuzz/make_seeds.mjs):
//   fuzz/seeds/json/    small tokenizer.json files: the ten-piece WordPiece from
//                       native/tests/tokenizer_test.cc, shrunken copies of the real tokenizers
//                       (vocab subsets, renumbered) and hand-written BPE/WordLevel/Unigram configs.
//   fuzz/seeds/encode/  [selector byte][text](0xFF [pair]) from test/helpers/multilingual-corpus.mjs.
//   fuzz/tokenizer.dict JSON keys and component type names found in native/core/tokenizer/*.cc.
import { readFileSync, writeFileSync, readdirSync, mkdirSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeCorpus } from '../test/helpers/multilingual-corpus.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const shared = process.env.WINNOW_SHARED_DIR ?? join(root, '../shared');
mkdirSync(join(here, 'seeds/json'), { recursive: true });
mkdirSync(join(here, 'seeds/encode'), { recursive: true });
const put = (name, obj) => writeFileSync(join(here, 'seeds/json', name), JSON.stringify(obj));

// 1. ten-piece WordPiece (same as TenPieceJson() in native/tests/tokenizer_test.cc).
const testSrc = readFileSync(join(root, 'native/tests/tokenizer_test.cc'), 'utf8');
const ten = JSON.parse(testSrc.match(/R"\((\{\s*"version"[\s\S]*?)\)"\);/)[1]);
put('tenpiece-wordpiece.json', ten);

// Renumbers the kept tokens and fixes ids in added_tokens / post_processor.
function renumber(j, keep /* token strings, in order */) {
  const id = new Map(keep.map((t, i) => [t, i]));
  for (const a of j.added_tokens ?? []) {
    if (!id.has(a.content)) { id.set(a.content, id.size); keep.push(a.content); }
    a.id = id.get(a.content);
  }
  const pp = j.post_processor;
  const fix = (p) => {
    if (p?.special_tokens) for (const s of Object.values(p.special_tokens)) s.ids = s.tokens.map((t) => id.get(t) ?? 0);
    if (p?.sep) p.sep[1] = id.get(p.sep[0]) ?? 0;
    if (p?.cls) p.cls[1] = id.get(p.cls[0]) ?? 0;
    for (const q of p?.processors ?? []) fix(q);
  };
  fix(pp);
  return id;
}

const load = (n) => {
  const p = join(shared, 'tokenizers', n, 'tokenizer.json');
  return existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) : null;
};

// 2. bert-base-uncased, 400 pieces.
const bert = load('bert-base-uncased');
if (bert) {
  const inv = Object.entries(bert.model.vocab).sort((a, b) => a[1] - b[1]).map((e) => e[0]);
  const keep = [...inv.slice(0, 110), ...inv.slice(1000, 1200), ...inv.slice(2000, 2100)];
  const id = renumber(bert, keep);
  bert.model.vocab = Object.fromEntries(keep.map((t) => [t, id.get(t)]));
  put('bert-small.json', bert);
}

// 3. modernbert-base (byte-level BPE): the byte alphabet + the first 300 merges.
const mb = load('modernbert-base');
if (mb) {
  const merges = mb.model.merges.slice(0, 300).map((m) => (Array.isArray(m) ? m : m.split(' ')));
  const keep = [];
  const seen = new Set();
  const add = (t) => { if (!seen.has(t)) { seen.add(t); keep.push(t); } };
  for (const t of Object.keys(mb.model.vocab)) if ([...t].length === 1) add(t);
  for (const [a, b] of merges) { add(a); add(b); add(a + b); }
  mb.added_tokens = mb.added_tokens.filter((a) => a.id < 2 || a.id > 50270);
  const id = renumber(mb, keep);
  mb.model.vocab = Object.fromEntries(keep.map((t) => [t, id.get(t)]));
  mb.model.merges = merges;
  put('modernbert-small.json', mb);
}

// 4. t5-small (Unigram + Metaspace), 400 pieces; one copy without the (300 KB) Precompiled map.
const t5 = load('t5-small');
if (t5) {
  t5.model.vocab = t5.model.vocab.slice(0, 400);
  t5.added_tokens = t5.added_tokens.filter((a) => a.id < 3);
  const full = structuredClone(t5);
  t5.normalizer = { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Replace', pattern: { String: '  ' }, content: ' ' }] };
  put('t5-small-nomap.json', t5);
  put('t5-small-precompiled.json', full);
}

// 5. hand-written configurations.
const added = (list) => list.map((c, i) => ({ id: i, content: c, special: true, normalized: false, single_word: false, lstrip: false, rstrip: false }));
put('bpe-bytefallback-metaspace.json', {
  version: '1.0', truncation: null, padding: null,
  added_tokens: added(['<unk>', '<s>', '</s>']),
  normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
  pre_tokenizer: null,
  post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } } },
  decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
  model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false,
    vocab: Object.fromEntries([['<unk>', 0], ['<s>', 1], ['</s>', 2], ...Array.from({ length: 256 }, (_, i) => [`<0x${i.toString(16).toUpperCase().padStart(2, '0')}>`, 3 + i]),
      ['▁', 259], ['h', 260], ['e', 261], ['l', 262], ['o', 263], ['▁h', 264], ['ll', 265], ['▁he', 266], ['llo', 267], ['▁hello', 268], ['w', 269], ['r', 270], ['d', 271]]),
    merges: ['▁ h', 'l l', '▁h e', 'll o', '▁he llo'] },
});
put('wordlevel-whitespace.json', {
  version: '1.0', added_tokens: added(['[UNK]', '[PAD]']),
  normalizer: { type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'StripAccents' }, { type: 'Lowercase' }, { type: 'Strip', strip_left: true, strip_right: true }] },
  pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Whitespace' }, { type: 'Digits', individual_digits: true }, { type: 'Punctuation', behavior: 'Isolated' },
    { type: 'Split', pattern: { Regex: '\\p{L}+' }, behavior: 'MergedWithNext', invert: false }] },
  post_processor: { type: 'BertProcessing', sep: ['[PAD]', 1], cls: ['[UNK]', 0] },
  decoder: null, padding: { strategy: { Fixed: 8 }, direction: 'Right', pad_to_multiple_of: null, pad_id: 1, pad_type_id: 0, pad_token: '[PAD]' },
  model: { type: 'WordLevel', unk_token: '[UNK]', vocab: { '[UNK]': 0, '[PAD]': 1, hello: 2, world: 3, '1': 4, '!': 5 } },
});
put('bpe-bytelevel-roberta.json', {
  version: '1.0', added_tokens: [...added(['<s>', '</s>', '<unk>']), { id: 3, content: '<mask>', special: true, normalized: false, single_word: false, lstrip: true, rstrip: false }],
  normalizer: null,
  pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  post_processor: { type: 'RobertaProcessing', sep: ['</s>', 1], cls: ['<s>', 0], trim_offsets: true, add_prefix_space: true },
  decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false,
    vocab: Object.fromEntries([['<s>', 0], ['</s>', 1], ['<unk>', 2], ['<mask>', 3], ['Ġ', 4], ['h', 5], ['i', 6], ['Ġh', 7], ['Ġhi', 8]]), merges: [['Ġ', 'h'], ['Ġh', 'i']] },
});

// 6. hostile configurations (issue 32): Sequences nested to the bound and past it, JSON nested past the
//    parser's bound, padding / truncation sizes at and past their bound. Built as strings: JSON.stringify
//    recurses too deep for thousands of levels.
const ten2 = JSON.parse(JSON.stringify(ten));
const nest = (field, key, leaf, depth) => {
  const j = structuredClone(ten2);
  j[field] = '@@';
  return JSON.stringify(j).replace('"@@"', `{"type":"Sequence","${key}":[`.repeat(depth) + leaf + ']}'.repeat(depth));
};
const nestable = [
  ['normalizer', 'normalizers', '{"type":"Lowercase"}'],
  ['pre_tokenizer', 'pretokenizers', '{"type":"Whitespace"}'],
  ['decoder', 'decoders', '{"type":"Fuse"}'],
  ['post_processor', 'processors', JSON.stringify(ten2.post_processor)],
];
for (const [field, key, leaf] of nestable) {
  for (const depth of [64, 65, 3000]) writeFileSync(join(here, 'seeds/json', `deep-${field}-${depth}.json`), nest(field, key, leaf, depth));
}
{
  const j = structuredClone(ten2);
  j.extra = '@@';
  writeFileSync(join(here, 'seeds/json', 'deep-array-20000.json'), JSON.stringify(j).replace('"@@"', '['.repeat(20000) + ']'.repeat(20000)));
}
const padded = (name, edit) => {
  const j = structuredClone(ten2);
  edit(j);
  put(name, j);
};
padded('pad-multiple-4e9.json', (j) => (j.padding = { strategy: 'BatchLongest', direction: 'Right', pad_to_multiple_of: 4000000000, pad_id: 0, pad_type_id: 0, pad_token: '[PAD]' }));
padded('pad-multiple-at-bound.json', (j) => (j.padding = { strategy: 'BatchLongest', direction: 'Left', pad_to_multiple_of: 1048576, pad_id: 0, pad_type_id: 0, pad_token: '[PAD]' }));
padded('pad-fixed-past-bound.json', (j) => (j.padding = { strategy: { Fixed: 1048577 }, direction: 'Right', pad_to_multiple_of: null, pad_id: 0, pad_type_id: 0, pad_token: '[PAD]' }));
padded('pad-fixed-2e53.json', (j) => (j.padding = { strategy: { Fixed: 9007199254740991 }, direction: 'Right', pad_to_multiple_of: 8, pad_id: 0, pad_type_id: 0, pad_token: '[PAD]' }));
padded('truncation-max-length-4e9.json', (j) => (j.truncation = { direction: 'Right', max_length: 4000000000, strategy: 'LongestFirst', stride: 0 }));
padded('truncation-stride-huge.json', (j) => (j.truncation = { direction: 'Left', max_length: 16, strategy: 'OnlyFirst', stride: 4294967295 }));

// Encode seeds: [selector][text](0xFF[pair]).
const texts = makeCorpus(7, 160).map((t) => t.slice(0, 600));
let n = 0;
for (let i = 0; i < texts.length; ++i) {
  const sel = Buffer.from([(i * 37) & 0xff]);
  const a = Buffer.from(texts[i], 'utf8');
  const parts = i % 3 === 0 && i + 1 < texts.length ? [sel, a, Buffer.from([0xff]), Buffer.from(texts[i + 1], 'utf8')] : [sel, a];
  writeFileSync(join(here, 'seeds/encode', `text-${String(n++).padStart(3, '0')}`), Buffer.concat(parts));
}

// Dictionary.
const words = new Set();
for (const f of readdirSync(join(root, 'native/core/tokenizer'))) {
  if (!f.endsWith('.cc')) continue;
  for (const m of readFileSync(join(root, 'native/core/tokenizer', f), 'utf8').matchAll(/"([A-Za-z_][A-Za-z0-9_]{1,40})"/g)) words.add(m[1]);
}
const dict = [...words].sort().map((w) => `"\\"${w}\\""`);
dict.push('"{"', '"}"', '"["', '"]"', '":"', '","', '"null"', '"true"', '"false"', '"-1"', '"1e309"', '"\\"\\\\u0000\\""', '"\\"\\\\ud800\\""');
// Sizes at and past the length bound, and nesting openers.
dict.push('"1048576"', '"1048577"', '"4000000000"', '"9007199254740991"', '"{\\"type\\":\\"Sequence\\",\\"normalizers\\":["', '"[[[[[[[["');
writeFileSync(join(here, 'tokenizer.dict'), dict.join('\n') + '\n');
console.log(`json seeds: ${readdirSync(join(here, 'seeds/json')).length}, encode seeds: ${n}, dict entries: ${dict.length}`);
