// Tokenizer.load of folders without tokenizer.json (issue 26): the slow files built into the tokenizer transformers'
// fast conversion makes of them, against independent references.
//  - vocab.txt BERT (made from bert-base-uncased's and all-MiniLM-L6-v2's tokenizer.json) == Hugging Face
//    `tokenizers` on that tokenizer.json: ids, type ids, offsets, special mask, DBpedia texts and pairs.
//  - vocab.json + merges.txt (modernbert-base's byte-level BPE) as RobertaTokenizer / GPT2Tokenizer files ==
//    `tokenizers` on the tokenizer.json RobertaConverter / GPT2Converter build from them (written out here).
//  - BertJapaneseTokenizer (../shared/tokenizers/bert-base-japanese-v3) == NFKC + `mecab -Owakati` + `tokenizers`
//    WordPiece (scripts/japanese-tokenizer-parity.mjs), with ipadic-utf8 (unidic-lite is not installable here).
//  - A japanese-reranker-cross-encoder-like folder (vocab.txt + tokenizer_config.json + ONNX) scores through
//    CrossEncoder.load as onnxruntime-node does on the reference tokenization.
//  - Load errors: codes and messages.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { CrossEncoder, Tokenizer } from '../lib/index';
import { charToUtf16 } from './helpers/offsets.mjs';
// @ts-ignore -- plain ESM helper without types
import { makeCorpus } from './helpers/multilingual-corpus.mjs';
import { stateDictFromOnnx, writeSafetensors } from './helpers/onnx-checkpoint.mjs';
import { FIXTURES, ROOT, SHARED, corpusPairs, maxAbsDiff, sigmoid } from './helpers/reference';

const require_ = createRequire(__filename);
const hf = require_('tokenizers');

const TOKENIZERS = path.join(SHARED, 'tokenizers');
const JA = path.join(TOKENIZERS, 'bert-base-japanese-v3');
const IPADIC = '/var/lib/mecab/dic/ipadic-utf8';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-slow-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function folder(name: string, files: Record<string, string | Buffer>): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), content);
  return dir;
}

// DBpedia abstracts and queries, a multilingual corpus (accents, CJK, emoji, odd spaces), and DBpedia pairs.
const dbpedia = fs.readFileSync(path.join(SHARED, 'corpora/dbpedia-entity/corpus.jsonl'), 'utf8').split('\n')
  .filter(Boolean).slice(0, 1000).map((l) => JSON.parse(l).text as string);
const TEXTS: string[] = [...dbpedia, ...makeCorpus(11, 300).map((s: string) => s.toWellFormed())];
const PAIRS = corpusPairs(200);

type Flat = { ids: number[]; typeIds: number[]; offsets: number[][]; special: number[] };
function refFlat(e: any, a: string, b: string | null): Flat {
  const seq = e.getSequenceIds();
  const ca = charToUtf16(a);
  const cb = b === null ? ca : charToUtf16(b);
  return {
    ids: e.getIds(), typeIds: e.getTypeIds(), special: e.getSpecialTokensMask(),
    offsets: e.getOffsets().map(([s, t]: number[], k: number) =>
      (seq[k] === null || seq[k] === undefined ? [s, t] : [(seq[k] === 1 ? cb : ca)(s), (seq[k] === 1 ? cb : ca)(t)])),
  };
}
function ourFlat(e: any): Flat {
  const offsets: number[][] = [];
  for (let i = 0; i < e.ids.length; i++) offsets.push([e.offsets[2 * i], e.offsets[2 * i + 1]]);
  return { ids: Array.from(e.ids), typeIds: Array.from(e.typeIds), special: Array.from(e.specialTokensMask), offsets };
}

/** Encodes every text and pair with both; returns the inputs that differ (the first few printed). */
async function differences(ours: Tokenizer, ref: any): Promise<number> {
  let bad = 0;
  const check = (what: string, a: Flat, b: Flat) => {
    if (JSON.stringify(a) === JSON.stringify(b)) return;
    if (bad++ < 3) console.log(`${what}\n ours ${JSON.stringify(a).slice(0, 500)}\n ref  ${JSON.stringify(b).slice(0, 500)}`);
  };
  for (const t of TEXTS) check(JSON.stringify(t).slice(0, 200), ourFlat(ours.encode(t)), refFlat(await ref.encode(t), t, null));
  for (const [a, b] of PAIRS) check(JSON.stringify(a), ourFlat(ours.encode(a, b)), refFlat(await ref.encode(a, b), a, b));
  return bad;
}

function vocabTxt(tokenizerJson: string): string {
  const vocab = JSON.parse(fs.readFileSync(tokenizerJson, 'utf8')).model.vocab as Record<string, number>;
  const byId: string[] = [];
  for (const [t, id] of Object.entries(vocab)) byId[id] = t;
  return byId.join('\n') + '\n';
}

describe('vocab.txt BERT equals its tokenizer.json', () => {
  it('has ≥ 1,000 DBpedia texts to compare', () => {
    expect(dbpedia.length).toBeGreaterThanOrEqual(1000);
  });

  it('bert-base-uncased: hub files (tokenizer_config.json without tokenizer_class, config.json model_type bert)', async () => {
    const src = path.join(TOKENIZERS, 'bert-base-uncased', 'tokenizer.json');
    const dir = folder('bert-base-uncased', {
      'vocab.txt': vocabTxt(src),
      'tokenizer_config.json': JSON.stringify({ do_lower_case: true, model_max_length: 512 }),
      'config.json': JSON.stringify({ model_type: 'bert' }),
    });
    const ref = hf.Tokenizer.fromFile(src);
    expect(await differences(await Tokenizer.load(dir), ref)).toBe(0);
  }, 120_000);

  it('all-MiniLM-L6-v2: tokenizer_class BertTokenizer with added_tokens_decoder, CRLF vocab.txt', async () => {
    const src = path.join(TOKENIZERS, 'all-minilm-l6-v2', 'tokenizer.json');
    const special = (content: string) => ({ content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true });
    const dir = folder('all-minilm', {
      'vocab.txt': vocabTxt(src).replace(/\n/g, '\r\n'),
      'tokenizer_config.json': JSON.stringify({
        added_tokens_decoder: { 0: special('[PAD]'), 100: special('[UNK]'), 101: special('[CLS]'), 102: special('[SEP]'), 103: special('[MASK]') },
        clean_up_tokenization_spaces: true, cls_token: '[CLS]', do_basic_tokenize: true, do_lower_case: true,
        mask_token: '[MASK]', model_max_length: 512, never_split: null, pad_token: '[PAD]', sep_token: '[SEP]',
        strip_accents: null, tokenize_chinese_chars: true, tokenizer_class: 'BertTokenizer', unk_token: '[UNK]',
      }),
    });
    const ref = hf.Tokenizer.fromFile(src);
    ref.disableTruncation();
    ref.disablePadding();
    expect(await differences(await Tokenizer.load(dir), ref)).toBe(0);
  }, 120_000);

  it('do_lower_case false / strip_accents / tokenize_chinese_chars reach the normalizer', async () => {
    const src = path.join(TOKENIZERS, 'bert-base-uncased', 'tokenizer.json');
    const dir = folder('bert-cased-like', {
      'vocab.txt': vocabTxt(src),
      'tokenizer_config.json': JSON.stringify({ tokenizer_class: 'BertTokenizerFast', do_lower_case: false, strip_accents: true, tokenize_chinese_chars: false }),
    });
    const json = JSON.parse(fs.readFileSync(src, 'utf8'));
    json.normalizer = { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: false, strip_accents: true, lowercase: false };
    const ref = hf.Tokenizer.fromString(JSON.stringify(json));
    expect(await differences(await Tokenizer.load(dir), ref)).toBe(0);
  }, 120_000);
});

describe('vocab.json + merges.txt equal the byte-level BPE tokenizer.json built from them', () => {
  const modern = JSON.parse(fs.readFileSync(path.join(TOKENIZERS, 'modernbert-base', 'tokenizer.json'), 'utf8'));
  const baseVocab = modern.model.vocab as Record<string, number>;
  const merges: string[] = modern.model.merges.map((m: string | string[]) => (Array.isArray(m) ? m.join(' ') : m));
  const mergesTxt = `#version: 0.2\n${merges.join('\n')}\n`;
  const robertaSpecials = ['<s>', '<pad>', '</s>', '<unk>', '<mask>'];
  const robertaVocab: Record<string, number> = { ...baseVocab };
  robertaSpecials.forEach((t, i) => (robertaVocab[t] = 50280 + i));
  const added = (content: string, lstrip = false) =>
    ({ id: robertaVocab[content], content, single_word: false, lstrip, rstrip: false, normalized: false, special: true });

  // What RobertaConverter / GPT2Converter produce (convert_slow_tokenizer.py), written out independently.
  function converted(vocab: Record<string, number>, addedTokens: object[], prefixSpace: boolean, post: object) {
    return JSON.stringify({
      version: '1.0', truncation: null, padding: null, added_tokens: addedTokens, normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: prefixSpace, trim_offsets: true, use_regex: true },
      post_processor: post,
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
        fuse_unk: false, byte_fallback: false, vocab, merges },
    });
  }

  for (const prefixSpace of [false, true]) {
    it(`RobertaTokenizer (add_prefix_space ${prefixSpace})`, async () => {
      const dir = folder(`roberta-${prefixSpace}`, {
        'vocab.json': JSON.stringify(robertaVocab), 'merges.txt': mergesTxt,
        'tokenizer_config.json': JSON.stringify({ tokenizer_class: 'RobertaTokenizer', add_prefix_space: prefixSpace }),
      });
      const ref = hf.Tokenizer.fromString(converted(robertaVocab,
        robertaSpecials.map((t) => added(t, t === '<mask>')), prefixSpace,
        { type: 'RobertaProcessing', sep: ['</s>', robertaVocab['</s>']], cls: ['<s>', robertaVocab['<s>']], trim_offsets: true, add_prefix_space: prefixSpace }));
      expect(await differences(await Tokenizer.load(dir), ref)).toBe(0);
      // <mask> strips the space on its left. Its ids equal tokenizers'; its offsets equal Winnow's own on the same
      // tokenizer.json (both keep that space in its span, where tokenizers' offset trimming drops it: a difference
      // of the tokenizer.json path, not of the slow files).
      const masked = 'The capital of France is <mask>.';
      const slow = ourFlat((await Tokenizer.load(dir)).encode(masked));
      expect(slow.ids).toEqual(refFlat(await ref.encode(masked), masked, null).ids);
      expect(slow).toEqual(ourFlat((await Tokenizer.fromJSON(converted(robertaVocab,
        robertaSpecials.map((t) => added(t, t === '<mask>')), prefixSpace,
        { type: 'RobertaProcessing', sep: ['</s>', robertaVocab['</s>']], cls: ['<s>', robertaVocab['<s>']], trim_offsets: true, add_prefix_space: prefixSpace }))).encode(masked)));
    }, 120_000);
  }

  it('GPT2Tokenizer', async () => {
    const dir = folder('gpt2', {
      'vocab.json': JSON.stringify(baseVocab), 'merges.txt': mergesTxt,
      'tokenizer_config.json': JSON.stringify({ tokenizer_class: 'GPT2Tokenizer' }),
    });
    const eot = { id: baseVocab['<|endoftext|>'], content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
    const ref = hf.Tokenizer.fromString(converted(baseVocab, [eot], false,
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true }));
    expect(await differences(await Tokenizer.load(dir), ref)).toBe(0);
  }, 120_000);

  it('a merges.txt line that is not two tokens: TOKENIZER_INVALID naming the file and line', async () => {
    const dir = folder('bad-merges', {
      'vocab.json': JSON.stringify(baseVocab), 'merges.txt': `#version: 0.2\n${merges[0]}\nĠ t x\n\n`,
      'tokenizer_config.json': JSON.stringify({ tokenizer_class: 'GPT2Tokenizer' }),
    });
    const e = await Tokenizer.load(dir).catch((x) => x);
    expect(e.code).toBe('TOKENIZER_INVALID');
    expect(e.message).toContain(`${path.join(dir, 'merges.txt')}: line 3 must hold two tokens`);
  });
});

const mecabMissing = spawnSync('mecab', ['-v']).error ? 'the `mecab` command is not installed (apt-get install mecab)'
  : !fs.existsSync(path.join(IPADIC, 'sys.dic')) ? `no MeCab dictionary at ${IPADIC} (apt-get install mecab-ipadic-utf8)` : null;
if (mecabMissing) console.warn(`test/slow-tokenizer.test.ts: skipping the MeCab tests: ${mecabMissing}`);

describe.skipIf(mecabMissing !== null)(`BertJapaneseTokenizer${mecabMissing ? ` (skipped: ${mecabMissing})` : ''}`, () => {
  function parity(extra: string[] = []): any {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts/japanese-tokenizer-parity.mjs'), '--dic', IPADIC, ...extra],
      { encoding: 'utf8', maxBuffer: 1 << 26 });
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect({ status: r.status, summary }, r.stderr.slice(0, 4000)).toMatchObject({ status: 0, summary: { identical: true } });
    expect(summary.corpusTexts).toBeGreaterThanOrEqual(2000);
    expect(summary.pairs).toBeGreaterThanOrEqual(1000);
    return summary;
  }
  it('ids == NFKC + mecab -Owakati + tokenizers WordPiece, singles and pairs, ≥ 2,000 JSQuAD texts + edge cases', () => {
    expect(parity().mismatches).toBe(0);
  }, 300_000);
  it('do_lower_case: the text lowercased before NFKC and each MeCab word after', () => {
    expect(parity(['--lower']).mismatches).toBe(0);
  }, 300_000);
  it('subword_tokenizer_type character', () => {
    expect(parity(['--character']).mismatches).toBe(0);
  }, 300_000);

  it('offsets in UTF-16 units of the original text through NFKC (half-width kana, full-width Latin, emoji, ligatures)', async () => {
    const tok = await Tokenizer.load(JA, { mecabDictionary: IPADIC });
    const text = 'ｶﾀｶﾅ😀ＡＢＣ ﬁ㍻';
    const e = tok.encode(text, null, { addSpecialTokens: false });
    const pieces = Array.from(e.ids, (id, i) => [tok.idToToken(id), text.slice(e.offsets[2 * i], e.offsets[2 * i + 1])]);
    // ｶﾀｶﾅ -> カタカナ (4 -> 4 chars), 😀 two UTF-16 units, ＡＢＣ -> ABC, ﬁ -> f ##i (both pieces cover it), ㍻ -> 平成 (1 -> 2 chars).
    expect(pieces).toEqual([['カタカナ', 'ｶﾀｶﾅ'], ['[UNK]', '😀'], ['ABC', 'ＡＢＣ'], ['f', 'ﬁ'], ['##i', 'ﬁ'], ['平成', '㍻']]);
    // A char NFKC composes (ｶﾞ -> ガ) is aligned with its base char alone, as Hugging Face aligns NFKC: each token's
    // offsets are those of its first and last normalized chars under tokenizers' own NFKC, char by char.
    const ref = new hf.Tokenizer(hf.WordLevel.init({ '[UNK]': 0 }, { unkToken: '[UNK]' }));
    ref.setNormalizer(hf.nfkcNormalizer());
    ref.setPreTokenizer(hf.splitPreTokenizer('', 'isolated'));
    for (const s of ['ｶﾞｷﾞｸﾞ', 'ﾊﾟｿｺﾝでﾃﾞｰﾀﾍﾞｰｽ', 'か\u3099は\u309aﾎﾟ']) {
      const chars = (await ref.encode(s)).getOffsets().map(([a, b]: number[]) => [charToUtf16(s)(a), charToUtf16(s)(b)]);
      const got = tok.encode(s, null, { addSpecialTokens: false });
      let at = 0;
      for (let i = 0; i < got.ids.length; i++) {
        const n = [...tok.idToToken(got.ids[i])!.replace(/^##/, '')].length;
        expect([got.offsets[2 * i], got.offsets[2 * i + 1]], `${s} token ${i}`).toEqual([chars[at][0], chars[at + n - 1][1]]);
        at += n;
      }
      expect(at).toBe(chars.length);
    }
  });

  it('[CLS] / [SEP] in the text stay special tokens (never split, never lowercased)', async () => {
    const tok = await Tokenizer.load(JA, { mecabDictionary: IPADIC });
    const e = tok.encode('東京[SEP]大阪');
    expect(Array.from(e.ids, (id) => tok.idToToken(id))).toEqual(['[CLS]', '東京', '[SEP]', '大阪', '[SEP]']);
  });

  it('WINNOW_MECAB_DICDIR is used when no option names a dictionary; the option wins over it', async () => {
    const before = process.env.WINNOW_MECAB_DICDIR;
    try {
      process.env.WINNOW_MECAB_DICDIR = path.join(tmp, 'no-dictionary-here');
      const e = await Tokenizer.load(JA).catch((x) => x);
      expect(e.code).toBe('MODEL_NOT_FOUND');
      expect(e.message).toContain(`WINNOW_MECAB_DICDIR names ${path.join(tmp, 'no-dictionary-here')}, which holds no compiled MeCab dictionary`);
      const viaOption = await Tokenizer.load(JA, { mecabDictionary: IPADIC });
      process.env.WINNOW_MECAB_DICDIR = IPADIC;
      const viaEnv = await Tokenizer.load(JA);
      const text = 'すもももももももものうち';
      expect(Array.from(viaEnv.encode(text).ids)).toEqual(Array.from(viaOption.encode(text).ids));
    } finally {
      if (before === undefined) delete process.env.WINNOW_MECAB_DICDIR;
      else process.env.WINNOW_MECAB_DICDIR = before;
    }
  });

  it('load errors: codes and messages', async () => {
    const vocab = fs.readFileSync(path.join(JA, 'vocab.txt'));
    const ja = (name: string, config: object) => folder(name, {
      'vocab.txt': vocab, 'tokenizer_config.json': JSON.stringify({ tokenizer_class: 'BertJapaneseTokenizer', ...config }),
    });
    const err = (p: Promise<unknown>) => p.then(() => null, (x) => x);
    const sudachi = await err(Tokenizer.load(ja('sudachi', { word_tokenizer_type: 'sudachi' })));
    expect(sudachi.code).toBe('TOKENIZER_UNSUPPORTED');
    expect(sudachi.message).toContain('word_tokenizer_type "sudachi" is not supported');
    const juman = await err(Tokenizer.load(ja('jumanpp', { word_tokenizer_type: 'jumanpp' })));
    expect(juman.code).toBe('TOKENIZER_UNSUPPORTED');
    const dic = await err(Tokenizer.load(ja('jumandic', { word_tokenizer_type: 'mecab', mecab_kwargs: { mecab_dic: 'jumandic' } })));
    expect(dic.code).toBe('TOKENIZER_UNSUPPORTED');
    expect(dic.message).toContain('mecab_dic "jumandic" is not one Winnow knows');
    const noDic = await err(Tokenizer.load(JA, { mecabDictionary: tmp }));
    expect(noDic.code).toBe('MODEL_NOT_FOUND');
    expect(noDic.message).toContain('the mecabDictionary option names');
    if (fs.existsSync('/var/lib/mecab/dic/ipadic/sys.dic')) {  // Debian's mecab-ipadic: EUC-JP
      const euc = await err(Tokenizer.load(JA, { mecabDictionary: '/var/lib/mecab/dic/ipadic' }));
      expect(euc.code).toBe('TOKENIZER_UNSUPPORTED');
      expect(euc.message).toContain('only UTF-8 dictionaries are supported');
    }
    const badOption = await err(Tokenizer.load(JA, { mecabDictionary: '' }));
    expect(badOption.code).toBe('INVALID_ARGUMENT');
    const unknown = await err(Tokenizer.load(folder('unknown-class', { 'tokenizer_config.json': '{"tokenizer_class": "FooTokenizer"}' })));
    expect(unknown.code).toBe('TOKENIZER_UNSUPPORTED');
    expect(unknown.message).toContain('"FooTokenizer" is not a class Winnow builds');
    const empty = await err(Tokenizer.load(folder('empty', {})));
    expect(empty.code).toBe('MODEL_NOT_FOUND');
    expect(empty.message).toContain('tokenizer.json');
  });
});

describe.skipIf(mecabMissing !== null)('a Japanese reranker folder without tokenizer.json scores through CrossEncoder', () => {
  it('vocab.txt + tokenizer_config.json (BertJapaneseTokenizer, MeCab) + ONNX: scores == onnxruntime on the reference tokenization', async () => {
    // bert-ce-tiny's random BERT (vocab 30,522) under the first 30,522 pieces of bert-base-japanese-v3's vocab.
    const fixture = path.join(FIXTURES, 'bert-ce-tiny');
    const config = JSON.parse(fs.readFileSync(path.join(fixture, 'config.json'), 'utf8'));
    const lines = fs.readFileSync(path.join(JA, 'vocab.txt'), 'utf8').split('\n').slice(0, config.vocab_size);
    const dir = folder('ja-reranker', {
      'vocab.txt': lines.join('\n') + '\n',
      'tokenizer_config.json': fs.readFileSync(path.join(JA, 'tokenizer_config.json')),
      'config.json': JSON.stringify(config),
    });
    fs.mkdirSync(path.join(dir, 'onnx'));
    fs.copyFileSync(path.join(fixture, 'onnx', 'model.onnx'), path.join(dir, 'onnx', 'model.onnx'));
    const pairs = fs.readFileSync(path.join(SHARED, 'corpora/jsquad/pairs.jsonl'), 'utf8').split('\n').filter(Boolean)
      .slice(0, 24).map((l) => { const d = JSON.parse(l); return [d.query, d.passage] as [string, string]; });
    const ce = await CrossEncoder.load(dir, { mecabDictionary: IPADIC, threads: 1, maxLength: 128 });
    const ours = await ce.predict(pairs);

    // Reference: NFKC + mecab -Owakati + tokenizers WordPiece over the same vocab, truncated as CrossEncoder does.
    const wakati = spawnSync('mecab', ['-d', IPADIC, '-Owakati', '-b', String(1 << 22)],
      { input: pairs.flat().map((s) => s.normalize('NFKC')).join('\n') + '\n', encoding: 'utf8' }).stdout.split('\n');
    const vocab: Record<string, number> = {};
    lines.forEach((t, i) => (vocab[t] = i));
    const ref = new hf.Tokenizer(hf.WordPiece.init(vocab, { unkToken: '[UNK]' }));
    ref.setPreTokenizer(hf.whitespaceSplitPreTokenizer());
    ref.setPostProcessor(hf.templateProcessing('[CLS] $A [SEP]', '[CLS] $A [SEP] $B:1 [SEP]:1', [['[CLS]', vocab['[CLS]']], ['[SEP]', vocab['[SEP]']]]));
    ref.setTruncation(128, { strategy: 'OnlySecond' as any });
    const session = await ort.InferenceSession.create(path.join(dir, 'onnx', 'model.onnx'), { intraOpNumThreads: 1 });
    const expected: number[] = [];
    for (let i = 0; i < pairs.length; i++) {
      const e = await ref.encode(wakati[2 * i], wakati[2 * i + 1]);
      const n = e.getIds().length;
      const t = (a: number[]) => new ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), [1, n]);
      const feeds: Record<string, ort.Tensor> = { input_ids: t(e.getIds()), attention_mask: t(e.getAttentionMask()) };
      if (session.inputNames.includes('token_type_ids')) feeds.token_type_ids = t(e.getTypeIds());
      expected.push((await session.run(feeds)).logits.data[0] as number);
    }
    await session.release();
    expect(maxAbsDiff(ours, expected.map(sigmoid))).toBeLessThan(1e-5);
    ce.dispose();

    // As hotchpotch/japanese-reranker-cross-encoder-* ship it: the same weights as model.safetensors, no ONNX file,
    // the graph built at load; the same reference.
    writeSafetensors(path.join(dir, 'model.safetensors'), stateDictFromOnnx(path.join(dir, 'onnx', 'model.onnx')));
    fs.rmSync(path.join(dir, 'onnx'), { recursive: true });
    const built = await CrossEncoder.load(dir, { mecabDictionary: IPADIC, threads: 1, maxLength: 128 });
    expect(built.source).toEqual({ file: 'model.safetensors', built: true });
    expect(maxAbsDiff(await built.predict(pairs), expected.map(sigmoid))).toBeLessThan(1e-5);
    built.dispose();
  }, 120_000);
});
