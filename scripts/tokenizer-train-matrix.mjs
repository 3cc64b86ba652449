#!/usr/bin/env node
// Trains tokenizers with the reference library (npm tokenizers@0.23.2) under several normalizer /
// pre-tokenizer / post-processor combinations, saves each tokenizer.json into a temp dir and runs
// the parity harness (scripts/tokenizer-parity.mjs) against Winnow's tokenize_cli on each.
//
//   node scripts/tokenizer-train-matrix.mjs [--cli build-tok3/tokenize_cli] [--out DIR] [--keep]
//        [--singles 2000] [--pairs 500] [--only name,name]
//
// `tok.train(files)` always uses the default trainer of the model, and a trained tokenizer.json
// does not load back as is: WordPiece / WordLevel need their special tokens in the vocab,
// byte-level BPE needs the 256-char byte alphabet, Unigram needs `<unk>`. The script adds them
// (and sets post-processors / decoders / options the binding cannot express) by editing the JSON;
// the reference then loads the edited file, so both sides see exactly the same tokenizer.
// Exits 1 if any configuration has a mismatch. `trainMatrix()` is also exported for the tests.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const tk = require('tokenizers');
const here = dirname(fileURLToPath(import.meta.url));

const CORPUS = [
  process.env.WINNOW_SHARED_DIR && join(process.env.WINNOW_SHARED_DIR, 'corpora/dbpedia-entity/corpus.jsonl'),
  join(here, '../../shared/corpora/dbpedia-entity/corpus.jsonl'),
  '/work/shared/corpora/dbpedia-entity/corpus.jsonl',
].filter(Boolean);

// GPT-2 bytes_to_unicode alphabet.
function byteAlphabet() {
  const bs = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const out = [];
  let n = 0;
  for (let b = 0; b < 256; b++) out.push(String.fromCodePoint(bs.includes(b) ? b : 256 + n++));
  return out;
}

function addToVocab(model, tokens) {
  if (Array.isArray(model.vocab)) {
    for (const t of tokens) if (!model.vocab.some(([p]) => p === t)) model.vocab.push([t, -20]);
    return;
  }
  let next = Math.max(-1, ...Object.values(model.vocab)) + 1;
  for (const t of tokens) if (!(t in model.vocab)) model.vocab[t] = next++;
}

function addedToken(id, content, special = true, extra = {}) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: !special, special, ...extra };
}

const idOf = (j, t) => (Array.isArray(j.model.vocab) ? j.model.vocab.findIndex(([p]) => p === t) : j.model.vocab[t]);

// Puts special tokens first in the vocab (WordPiece / WordLevel) and registers them as added tokens.
function withSpecials(j, specials) {
  addToVocab(j.model, specials);
  j.added_tokens = specials.map((s) => addedToken(idOf(j, s), s));
  return j;
}

const bertTemplate = (j, cls = '[CLS]', sep = '[SEP]') => ({
  type: 'TemplateProcessing',
  single: [{ SpecialToken: { id: cls, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: sep, type_id: 0 } }],
  pair: [
    { SpecialToken: { id: cls, type_id: 0 } },
    { Sequence: { id: 'A', type_id: 0 } },
    { SpecialToken: { id: sep, type_id: 0 } },
    { Sequence: { id: 'B', type_id: 1 } },
    { SpecialToken: { id: sep, type_id: 1 } },
  ],
  special_tokens: {
    [cls]: { id: cls, ids: [idOf(j, cls)], tokens: [cls] },
    [sep]: { id: sep, ids: [idOf(j, sep)], tokens: [sep] },
  },
});

// Each configuration: the model to train, the binding components used while training, and a
// `finish(json)` that completes the saved tokenizer.json.
export const CONFIGS = [
  {
    name: 'wordpiece-nfkc-lower-whitespace',
    model: () => tk.WordPiece.empty(),
    normalizer: () => tk.sequenceNormalizer([tk.nfkcNormalizer(), tk.lowercase()]),
    preTokenizer: () => tk.whitespacePreTokenizer(),
    finish(j) {
      withSpecials(j, ['[UNK]', '[CLS]', '[SEP]', '[PAD]', '[MASK]']);
      j.model.unk_token = '[UNK]';
      j.post_processor = bertTemplate(j);
      j.decoder = { type: 'WordPiece', prefix: '##', cleanup: true };
    },
  },
  {
    name: 'wordlevel-nfd-stripaccents-digits-punct',
    model: () => tk.WordLevel.empty(),
    normalizer: () => tk.sequenceNormalizer([tk.nfdNormalizer(), tk.stripAccentsNormalizer()]),
    preTokenizer: () =>
      tk.sequencePreTokenizer([tk.whitespaceSplitPreTokenizer(), tk.digitsPreTokenizer(true), tk.punctuationPreTokenizer()]),
    finish(j) {
      withSpecials(j, ['[UNK]', '[CLS]', '[SEP]']);
      j.model.unk_token = '[UNK]';
      j.post_processor = { type: 'BertProcessing', sep: ['[SEP]', idOf(j, '[SEP]')], cls: ['[CLS]', idOf(j, '[CLS]')] };
    },
  },
  {
    name: 'bytelevel-bpe-prefix-roberta',
    model: () => tk.BPE.empty(),
    preTokenizer: () => tk.byteLevelPreTokenizer(true, true),
    finish(j) {
      addToVocab(j.model, byteAlphabet());
      withSpecials(j, ['<s>', '</s>', '<pad>', '<mask>']);
      j.added_tokens.find((t) => t.content === '<mask>').lstrip = true;
      j.pre_tokenizer = { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true };
      j.post_processor = {
        type: 'RobertaProcessing',
        sep: ['</s>', idOf(j, '</s>')],
        cls: ['<s>', idOf(j, '<s>')],
        trim_offsets: true,
        add_prefix_space: true,
      };
      j.decoder = { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true };
    },
  },
  {
    name: 'bytelevel-bpe-nfc-bytelevel-post',
    model: () => tk.BPE.empty(),
    normalizer: () => tk.nfcNormalizer(),
    preTokenizer: () => tk.byteLevelPreTokenizer(false, true),
    finish(j) {
      addToVocab(j.model, byteAlphabet());
      withSpecials(j, ['<|endoftext|>']);
      j.model.ignore_merges = true;
      j.pre_tokenizer = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
      j.post_processor = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
      j.decoder = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
    },
  },
  {
    name: 'unigram-metaspace-first',
    lines: 3000,
    model: () => tk.Unigram.empty(),
    normalizer: () => tk.nfkcNormalizer(),
    preTokenizer: () => tk.metaspacePreTokenizer('▁', 'first', true),
    finish(j) {
      addToVocab(j.model, ['<unk>', '<s>', '</s>']);
      j.model.unk_id = idOf(j, '<unk>');
      j.added_tokens = ['<unk>', '<s>', '</s>'].map((s) => addedToken(idOf(j, s), s));
      j.post_processor = bertTemplate(j, '<s>', '</s>');
      j.decoder = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true };
    },
  },
  {
    name: 'unigram-nmt-whitespacesplit-metaspace-never',
    lines: 3000,
    model: () => tk.Unigram.empty(),
    normalizer: () => tk.nmt(),
    preTokenizer: () => tk.sequencePreTokenizer([tk.whitespaceSplitPreTokenizer(), tk.metaspacePreTokenizer('▁', 'never', false)]),
    finish(j) {
      addToVocab(j.model, ['<unk>', '</s>']);
      j.model.unk_id = idOf(j, '<unk>');
      j.added_tokens = ['<unk>', '</s>'].map((s) => addedToken(idOf(j, s), s));
      j.post_processor = {
        type: 'TemplateProcessing',
        single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
        pair: [
          { Sequence: { id: 'A', type_id: 0 } },
          { SpecialToken: { id: '</s>', type_id: 0 } },
          { Sequence: { id: 'B', type_id: 1 } },
          { SpecialToken: { id: '</s>', type_id: 1 } },
        ],
        special_tokens: { '</s>': { id: '</s>', ids: [idOf(j, '</s>')], tokens: ['</s>'] } },
      };
      j.decoder = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'never', split: false };
    },
  },
  {
    name: 'bpe-replace-split-regex',
    model: () => tk.BPE.empty(),
    normalizer: () => tk.sequenceNormalizer([tk.replace('``', '"'), tk.lowercase()]),
    preTokenizer: () => tk.whitespacePreTokenizer(),
    finish(j) {
      withSpecials(j, ['<unk>', '[CLS]', '[SEP]']);
      j.model.unk_token = '<unk>';
      j.normalizer = {
        type: 'Sequence',
        normalizers: [
          { type: 'Replace', pattern: { String: '``' }, content: '"' },
          { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
          { type: 'Lowercase' },
        ],
      };
      j.pre_tokenizer = {
        type: 'Split',
        pattern: { Regex: "\\p{L}+|\\p{N}{1,3}|[^\\s\\p{L}\\p{N}]+|\\s+" },
        behavior: 'Isolated',
        invert: false,
      };
      j.post_processor = bertTemplate(j);
    },
  },
  {
    name: 'bpe-sequence-pretok-bytefallback',
    model: () => tk.BPE.empty({}),
    preTokenizer: () =>
      tk.sequencePreTokenizer([tk.whitespacePreTokenizer(), tk.digitsPreTokenizer(false), tk.punctuationPreTokenizer('isolated')]),
    finish(j) {
      const bytes = [];
      for (let b = 0; b < 256; b++) bytes.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
      withSpecials(j, ['<unk>', '<s>', '</s>']);
      addToVocab(j.model, bytes);
      j.model.unk_token = '<unk>';
      j.model.byte_fallback = true;
      j.post_processor = bertTemplate(j, '<s>', '</s>');
      j.decoder = { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Fuse' }] };
    },
  },
  {
    name: 'wordpiece-bert-split-merged',
    model: () => tk.WordPiece.empty(),
    normalizer: () => tk.bertNormalizer({ lowercase: false }),
    preTokenizer: () => tk.bertPreTokenizer(),
    finish(j) {
      withSpecials(j, ['[UNK]', '[CLS]', '[SEP]']);
      j.model.unk_token = '[UNK]';
      j.pre_tokenizer = {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { String: ' ' }, behavior: 'MergedWithNext', invert: false },
          { type: 'Punctuation', behavior: 'Contiguous' },
          { type: 'Whitespace' },
        ],
      };
      j.post_processor = bertTemplate(j);
      j.decoder = { type: 'WordPiece', prefix: '##', cleanup: true };
    },
  },
];

export function trainMatrix({ out, lines = 20000, only = null, log = () => {} } = {}) {
  const file = CORPUS.find((p) => existsSync(p));
  if (!file) throw new Error('dbpedia-entity corpus not found');
  const text = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const j = JSON.parse(line);
    text.push(`${j.title}. ${j.text}`);
    if (text.length >= lines) break;
  }
  const trainFiles = new Map();
  const trainFile = (n) => {
    if (!trainFiles.has(n)) {
      const f = join(out, `train-${n}.txt`);
      writeFileSync(f, text.slice(0, n).join('\n') + '\n');
      trainFiles.set(n, f);
    }
    return trainFiles.get(n);
  };
  const files = [];
  for (const c of CONFIGS) {
    if (only && !only.includes(c.name)) continue;
    const t0 = Date.now();
    const tok = new tk.Tokenizer(c.model());
    if (c.normalizer) tok.setNormalizer(c.normalizer());
    if (c.preTokenizer) tok.setPreTokenizer(c.preTokenizer());
    tok.train([trainFile(Math.min(c.lines ?? lines, lines))]);
    const raw = join(out, `${c.name}.trained.json`);
    tok.save(raw);
    const j = JSON.parse(readFileSync(raw, 'utf8'));
    c.finish(j);
    const path = join(out, `${c.name}.json`);
    writeFileSync(path, JSON.stringify(j));
    tk.Tokenizer.fromFile(path);  // the reference must load it
    log(`trained ${c.name} in ${Date.now() - t0} ms`);
    files.push({ name: c.name, path });
  }
  return files;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : dflt;
  };
  const cli = opt('--cli', 'build-tok3/tokenize_cli');
  const out = opt('--out', null) ?? mkdtempSync(join(tmpdir(), 'winnow-train-'));
  const only = opt('--only', null)?.split(',') ?? null;
  const files = trainMatrix({ out, only, log: (m) => console.log(m) });
  let failed = 0;
  for (const f of files) {
    const r = spawnSync(
      process.execPath,
      [join(here, 'tokenizer-parity.mjs'), f.path, '--cli', cli, '--singles', opt('--singles', '5000'), '--pairs', opt('--pairs', '2000')],
      { encoding: 'utf8', maxBuffer: 1 << 28 },
    );
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
    console.log(`${f.name}: ${r.status === 0 ? 'OK (0 mismatches)' : 'MISMATCH'}`);
    if (r.status !== 0) failed++;
  }
  if (!args.includes('--keep') && !opt('--out', null)) rmSync(out, { recursive: true, force: true });
  else console.log(`tokenizers kept in ${out}`);
  process.exit(failed ? 1 : 0);
}
