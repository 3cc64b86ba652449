// Independent reference for cross-encoder scores: Hugging Face `tokenizers` (Rust) + onnxruntime-node,
// one pair per run, no Winnow code involved.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { Tokenizer as HfTokenizer } from 'tokenizers';

export const ROOT = path.resolve(__dirname, '..', '..');
export const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'models');
export const SHARED = path.resolve(ROOT, '..', 'shared');

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

export async function referenceLogits(
  dir: string,
  pairs: Array<[string, string]>,
  opts: { maxLength: number; file?: string; onnxPath?: string },
): Promise<number[][]> {
  const tok = HfTokenizer.fromFile(path.join(dir, 'tokenizer.json'));
  tok.setTruncation(opts.maxLength, { strategy: 'OnlySecond' as any });
  const onnx = opts.onnxPath ?? path.join(dir, 'onnx', opts.file ?? 'model.onnx');
  const session = await ort.InferenceSession.create(onnx, { intraOpNumThreads: 1 });
  const out: number[][] = [];
  for (const [a, b] of pairs) {
    const e = await tok.encode(a, b);
    const ids = e.getIds();
    const n = ids.length;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, n]),
      attention_mask: new ort.Tensor('int64', BigInt64Array.from(e.getAttentionMask().map(BigInt)), [1, n]),
    };
    if (session.inputNames.includes('token_type_ids'))
      feeds.token_type_ids = new ort.Tensor('int64', BigInt64Array.from(e.getTypeIds().map(BigInt)), [1, n]);
    const res = await session.run(feeds);
    out.push(Array.from(res.logits.data as Float32Array));
  }
  await session.release();
  return out;
}

interface CorpusDoc {
  _id: string;
  title: string;
  text: string;
}

/** Real (query, document) pairs from ../shared/corpora/dbpedia-entity, judged pairs first. */
export function corpusPairs(n: number): Array<[string, string]> {
  const base = path.join(SHARED, 'corpora', 'dbpedia-entity');
  const docs = new Map<string, CorpusDoc>();
  for (const line of fs.readFileSync(path.join(base, 'corpus.jsonl'), 'utf8').split('\n')) {
    if (line) {
      const d = JSON.parse(line) as CorpusDoc;
      docs.set(d._id, d);
    }
  }
  const queries = new Map<string, string>();
  for (const line of fs.readFileSync(path.join(base, 'queries.jsonl'), 'utf8').split('\n')) {
    if (line) {
      const q = JSON.parse(line) as { _id: string; text: string };
      queries.set(q._id, q.text);
    }
  }
  const pairs: Array<[string, string]> = [];
  const qrels = fs.readFileSync(path.join(base, 'qrels', 'test.tsv'), 'utf8').split('\n').slice(1);
  for (const line of qrels) {
    const [qid, did] = line.split('\t');
    const q = queries.get(qid);
    const d = docs.get(did);
    if (q && d) pairs.push([q, `${d.title}. ${d.text}`]);
    if (pairs.length >= n) break;
  }
  return pairs;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
