// Independent reference for PruningEncoder (issue #6): its own sentence splitter written from the rules in
// docs/api.md (no Winnow code), Hugging Face `tokenizers` for tokenization, the pair template read from
// tokenizer.json, onnxruntime-node for the model, one block per run.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { Tokenizer as HfTokenizer } from 'tokenizers';

// ---- sentence splitting (UTF-16 offsets) ----

const ABBREVIATIONS = new Set(
  'mr mrs ms dr prof sr jr st mt vs fig no vol pp al approx inc ltd co corp gen col lt sgt capt rev cf dept est ca'.split(' '),
);
const SPACE = /^[\t\n\v\f\r \u0085\u00a0\u2028\u2029\u3000]$/u;
const LINE_BREAK = /^[\n\u2028\u2029]$/u;
const EN_END = new Set(['.', '!', '?']);
const JA_END = new Set(['。', '！', '？', '．']);
const CLOSERS = new Set(['"', "'", ')', ']', '}', '”', '’', '」', '』', '）', '】']);

const isKana = (c: number) => (c >= 0x3041 && c <= 0x30ff && c !== 0x30fb) || (c >= 0xff66 && c <= 0xff9f);
function isLetter(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0xc0 && c <= 0x24f && c !== 0xd7 && c !== 0xf7) ||
    (c >= 0x370 && c <= 0x4ff) || isKana(c) || (c >= 0x3400 && c <= 0x4dbf) || (c >= 0x4e00 && c <= 0x9fff) ||
    (c >= 0xf900 && c <= 0xfaff) || (c >= 0xac00 && c <= 0xd7af) || (c >= 0xff21 && c <= 0xff3a) || (c >= 0xff41 && c <= 0xff5a)
  );
}

export function detectLanguage(text: string): 'en' | 'ja' {
  let kana = 0;
  let letters = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (isKana(c)) kana++;
    if (isLetter(c)) letters++;
  }
  return kana * 10 > letters ? 'ja' : 'en';
}

/** Sentences as [start, end) UTF-16 ranges covering the text. */
export function splitSentences(text: string, language: 'en' | 'ja' | 'auto'): Array<[number, number]> {
  if (text === '') return [];
  const ja = (language === 'auto' ? detectLanguage(text) : language) === 'ja';
  const chars = Array.from(text); // code points
  const at: number[] = []; // UTF-16 offset of each code point
  let u = 0;
  for (const ch of chars) {
    at.push(u);
    u += ch.length;
  }
  at.push(u);
  const n = chars.length;
  const space = (k: number) => SPACE.test(chars[k]);
  const isEnd = (k: number) => EN_END.has(chars[k]) || (ja && JA_END.has(chars[k]));
  const hasContent = (a: number, b: number) => chars.slice(a, b).some((ch) => !SPACE.test(ch));
  const out: Array<[number, number]> = [];
  let start = 0;
  const endAfterSpaces = (k: number) => {
    while (k < n && space(k)) k++;
    return k;
  };
  const cutAt = (k: number) => {
    if (hasContent(start, k)) {
      out.push([at[start], at[k]]);
      start = k;
    }
  };
  const periodKeepsGoing = (dot: number): boolean => {
    let b = dot;
    while (b > 0 && !space(b - 1)) b--;
    let w0 = b;
    while (w0 < dot && !/^[A-Za-z0-9]$/.test(chars[w0])) w0++;
    if (w0 === dot) return false;
    const word = chars.slice(w0, dot).join('');
    if (word.includes('.')) return true;
    if (/^[A-Za-z]$/.test(word)) return true;
    if (ABBREVIATIONS.has(word.toLowerCase())) return true;
    if (/^[0-9]+$/.test(word)) {
      let k = b;
      while (k > 0 && space(k - 1) && !LINE_BREAK.test(chars[k - 1])) k--;
      if (k === 0 || LINE_BREAK.test(chars[k - 1])) return true;
    }
    return false;
  };
  let i = 0;
  while (i < n) {
    if (LINE_BREAK.test(chars[i])) {
      const e = endAfterSpaces(i + 1);
      cutAt(e);
      i = e;
      continue;
    }
    if (!isEnd(i)) {
      i++;
      continue;
    }
    let j = i;
    let japanese = false;
    while (j < n && isEnd(j)) {
      if (JA_END.has(chars[j])) japanese = true;
      j++;
    }
    const single = j === i + 1;
    while (j < n && CLOSERS.has(chars[j])) j++;
    let boundary: boolean;
    if (japanese) boundary = true;
    else if (j < n && !space(j)) boundary = false;
    else {
      const next = endAfterSpaces(j);
      boundary = !(next < n && /^[a-z]$/.test(chars[next]));
      if (boundary && chars[i] === '.' && single && periodKeepsGoing(i)) boundary = false;
    }
    if (boundary) {
      const e = endAfterSpaces(j);
      cutAt(e);
      i = e;
    } else i = j;
  }
  if (start < n) {
    if (hasContent(start, n) || out.length === 0) out.push([at[start], at[n]]);
    else out[out.length - 1][1] = at[n];
  }
  return out;
}

// ---- model ----

export interface RefSentence {
  text: string;
  probability: number;
  kept: boolean;
}
export interface RefResult {
  rankingScore: number;
  prunedDocument: string;
  compressionRatio: number;
  tokensRemoved: number;
  keptSpans: Array<[number, number]>;
  sentences: RefSentence[];
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

export class PruningReference {
  private constructor(
    private readonly tok: HfTokenizer,
    private readonly session: ort.InferenceSession,
    private readonly template: { pair: any[]; specials: Record<string, number[]> },
    readonly maxLength: number,
    readonly threshold: number,
  ) {}

  static async load(dir: string, maxLength?: number): Promise<PruningReference> {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'winnow_pruning.json'), 'utf8'));
    const tj = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
    if (tj.post_processor?.type !== 'TemplateProcessing') throw new Error('reference supports TemplateProcessing only');
    const specials: Record<string, number[]> = {};
    for (const [k, s] of Object.entries<any>(tj.post_processor.special_tokens)) specials[k] = s.ids;
    const session = await ort.InferenceSession.create(path.join(dir, meta.model ?? 'model.onnx'), { intraOpNumThreads: 1 });
    return new PruningReference(HfTokenizer.fromFile(path.join(dir, 'tokenizer.json')), session,
      { pair: tj.post_processor.pair, specials }, maxLength ?? meta.max_length ?? 512, meta.threshold ?? 0.1);
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  async ids(text: string): Promise<{ ids: number[]; offsets: number[][] }> {
    const e = await this.tok.encode(text, null, { addSpecialTokens: false });
    return { ids: e.getIds(), offsets: e.getOffsets() };
  }

  /** [CLS] a [SEP] b [SEP] from the pair template: ids, type ids, and where b's tokens sit. */
  block(a: number[], b: number[]): { ids: number[]; types: number[]; bAt: number[] } {
    const ids: number[] = [];
    const types: number[] = [];
    const bAt: number[] = [];
    for (const piece of this.template.pair) {
      if (piece.SpecialToken) {
        for (const id of this.template.specials[piece.SpecialToken.id]) {
          ids.push(id);
          types.push(piece.SpecialToken.type_id);
        }
      } else {
        const seq = piece.Sequence.id === 'A' ? a : b;
        for (const id of seq) {
          if (piece.Sequence.id === 'B') bAt.push(ids.length);
          ids.push(id);
          types.push(piece.Sequence.type_id);
        }
      }
    }
    return { ids, types, bAt };
  }

  get specials(): number {
    return this.block([], []).ids.length;
  }

  /** ranking score and per-position keep probabilities for one block. */
  async run(ids: number[], types: number[]): Promise<{ score: number; keep: number[] }> {
    const n = ids.length;
    const t = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), [1, n]);
    const feeds: Record<string, ort.Tensor> = { input_ids: t(ids), attention_mask: t(ids.map(() => 1)) };
    if (this.session.inputNames.includes('token_type_ids')) feeds.token_type_ids = t(types);
    const out = await this.session.run(feeds);
    const logits = out.pruning_logits.data as Float32Array;
    const keep: number[] = [];
    for (let k = 0; k < n; k++) {
      const l0 = logits[2 * k];
      const l1 = logits[2 * k + 1];
      const m = Math.max(l0, l1);
      keep.push(Math.exp(l1 - m) / (Math.exp(l0 - m) + Math.exp(l1 - m)));
    }
    return { score: sigmoid((out.ranking_logits.data as Float32Array)[0]), keep };
  }

  async queryIds(query: string): Promise<number[]> {
    const q = (await this.ids(query)).ids;
    if (q.length + this.specials >= this.maxLength) throw Object.assign(new RangeError('query too long'), { code: 'QUERY_TOO_LONG' });
    return q;
  }

  /** OpenProvence process(): sentences, fragments, greedy blocks, mean of fragment means. */
  async process(query: string, doc: string | string[], opts: { threshold?: number; language?: 'en' | 'ja' | 'auto'; zeroScoreWhenEmpty?: boolean } = {}): Promise<RefResult> {
    const threshold = opts.threshold ?? this.threshold;
    const text = typeof doc === 'string' ? doc : doc.join('');
    const spans: Array<[number, number]> = [];
    if (typeof doc === 'string') spans.push(...splitSentences(doc, opts.language ?? 'auto'));
    else {
      let at = 0;
      for (const s of doc) {
        if (s.length) spans.push([at, at + s.length]);
        at += s.length;
      }
    }
    const q = await this.queryIds(query);
    const room = this.maxLength - q.length - this.specials;
    const sentIds = await Promise.all(spans.map(([s, e]) => this.ids(text.slice(s, e)).then((r) => r.ids)));
    // fragments: [sentence, ids]
    type Frag = { sentence: number; ids: number[]; mean?: number };
    const blocks: Frag[][] = [];
    let cur: Frag[] = [];
    let fill = 0;
    sentIds.forEach((ids, s) => {
      for (let from = 0; from < ids.length; from += room) {
        const f: Frag = { sentence: s, ids: ids.slice(from, from + room) };
        if (fill + f.ids.length > room && cur.length) {
          blocks.push(cur);
          cur = [];
          fill = 0;
        }
        cur.push(f);
        fill += f.ids.length;
      }
    });
    if (cur.length) blocks.push(cur);
    let score = 0;
    for (const frags of blocks) {
      const b = this.block(q, frags.flatMap((f) => f.ids));
      const r = await this.run(b.ids, b.types);
      score = Math.max(score, r.score);
      let k = 0;
      for (const f of frags) {
        let sum = 0;
        for (let t = 0; t < f.ids.length; t++) sum += r.keep[b.bAt[k++]];
        f.mean = sum / f.ids.length;
      }
    }
    const perSentence: number[][] = spans.map(() => []);
    for (const frags of blocks) for (const f of frags) perSentence[f.sentence].push(f.mean!);
    const sentences: RefSentence[] = spans.map(([s, e], i) => {
      const m = perSentence[i];
      const p = m.length ? m.reduce((x, y) => x + y, 0) / m.length : 0;
      return { text: text.slice(s, e), probability: p, kept: m.length > 0 && p > threshold };
    });
    const keptSpans: Array<[number, number]> = [];
    let tokensTotal = 0;
    let tokensKept = 0;
    sentences.forEach((s, i) => {
      tokensTotal += sentIds[i].length;
      if (!s.kept) return;
      tokensKept += sentIds[i].length;
      const last = keptSpans[keptSpans.length - 1];
      if (last && last[1] === spans[i][0]) last[1] = spans[i][1];
      else keptSpans.push([spans[i][0], spans[i][1]]);
    });
    const prunedDocument = keptSpans.map(([s, e]) => text.slice(s, e)).join('');
    if ((opts.zeroScoreWhenEmpty ?? true) && keptSpans.length === 0) score = 0;
    return {
      rankingScore: score,
      prunedDocument,
      compressionRatio: text.length ? (100 * (text.length - prunedDocument.length)) / text.length : 0,
      tokensRemoved: tokensTotal ? (tokensTotal - tokensKept) / tokensTotal : 0,
      keptSpans,
      sentences,
    };
  }

  /** sentence-transformers' predict_with_pruning: one truncated window, tokens kept above 0.5. */
  async processTokens(query: string, doc: string, threshold = 0.5): Promise<Omit<RefResult, 'sentences'>> {
    const q = await this.queryIds(query);
    const d = await this.ids(doc);
    const room = this.maxLength - q.length - this.specials;
    const ids = d.ids.slice(0, room);
    if (ids.length === 0) return { rankingScore: 0, prunedDocument: '', compressionRatio: 0, tokensRemoved: 0, keptSpans: [] };
    const b = this.block(q, ids);
    const r = await this.run(b.ids, b.types);
    // tokenizers' offsets are UTF-16 code units in the Node binding.
    const keptSpans: Array<[number, number]> = [];
    let kept = 0;
    let prev = false;
    ids.forEach((_, k) => {
      const keep = r.keep[b.bAt[k]] > threshold;
      if (keep) {
        kept++;
        const [s, e] = d.offsets[k];
        if (prev) keptSpans[keptSpans.length - 1][1] = Math.max(keptSpans[keptSpans.length - 1][1], e);
        else keptSpans.push([s, e]);
      }
      prev = keep;
    });
    const chars = keptSpans.reduce((a, [s, e]) => a + e - s, 0);
    return {
      rankingScore: keptSpans.length ? r.score : 0,
      prunedDocument: keptSpans.map(([s, e]) => doc.slice(s, e)).join(' '),
      compressionRatio: doc.length ? (100 * (doc.length - chars)) / doc.length : 0,
      tokensRemoved: (ids.length - kept) / ids.length,
      keptSpans,
    };
  }

  /** One block, document truncated: the CrossEncoder-compatible score. */
  async predict(query: string, doc: string): Promise<number> {
    const q = await this.queryIds(query);
    const d = (await this.ids(doc)).ids.slice(0, this.maxLength - q.length - this.specials);
    const b = this.block(q, d);
    return (await this.run(b.ids, b.types)).score;
  }
}
