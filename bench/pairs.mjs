// Deterministic (query, document) pairs from a BEIR-layout corpus (default: DBpedia-Entity test subset).
//   queries.jsonl {_id, text}, corpus.jsonl {_id, title, text}, qrels/test.tsv (query-id, corpus-id, score)
// Document text is `${title}. ${text}`, as rerankers are usually fed.
//
// pairs(n, perQuery): queries in qrels file order, each with its first `perQuery` judged documents
//   (qrels order) until n pairs: what a reranking service sees (several queries, their candidates).
// rankSet(k): the first query (qrels order) with at least k judged documents, and its first k of them.
import fs from 'node:fs';
import path from 'node:path';

export const DEFAULT_CORPUS = process.env.WINNOW_BENCH_CORPUS || '/work/shared/corpora/dbpedia-entity';

function readJsonl(file) {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

export function loadCorpus(dir = DEFAULT_CORPUS) {
  const queries = new Map(readJsonl(path.join(dir, 'queries.jsonl')).map((q) => [q._id, q.text]));
  const docs = new Map(readJsonl(path.join(dir, 'corpus.jsonl')).map((d) => [d._id, d.title ? `${d.title}. ${d.text}` : d.text]));
  const judged = new Map(); // query id -> [doc id] in qrels order
  const lines = fs.readFileSync(path.join(dir, 'qrels', 'test.tsv'), 'utf8').split('\n').slice(1);
  for (const line of lines) {
    if (!line.trim()) continue;
    const [qid, did] = line.split('\t');
    if (!queries.has(qid) || !docs.has(did)) continue;
    if (!judged.has(qid)) judged.set(qid, []);
    judged.get(qid).push(did);
  }
  return { dir, queries, docs, judged };
}

export function makePairs(corpus, n = 512, perQuery = 16) {
  const out = [];
  for (const [qid, dids] of corpus.judged) {
    for (const did of dids.slice(0, perQuery)) {
      out.push([corpus.queries.get(qid), corpus.docs.get(did)]);
      if (out.length === n) return out;
    }
  }
  throw new Error(`corpus ${corpus.dir} gives only ${out.length} pairs, ${n} wanted`);
}

export function makeRankSet(corpus, k = 100) {
  for (const [qid, dids] of corpus.judged) {
    if (dids.length >= k) return { queryId: qid, query: corpus.queries.get(qid), docs: dids.slice(0, k).map((d) => corpus.docs.get(d)) };
  }
  throw new Error(`no query in ${corpus.dir} has ${k} judged documents`);
}
