// Writes the GPU benchmark's pairs (from ../shared/corpora/dbpedia-entity) to a JSON file:
// "short" pairs (query + a ~60-word abstract, about 100 tokens) and "long" ones (query + several
// abstracts, cut at 512 tokens by every library).   node scripts/gpu/make_pairs.mjs OUT.json [N]
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const base = path.resolve(root, '..', 'shared', 'corpora', 'dbpedia-entity');
const n = Number(process.argv[3] ?? 2048);
const docs = readFileSync(path.join(base, 'corpus.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const queries = readFileSync(path.join(base, 'queries.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).text);
const text = (d) => `${d.title}. ${d.text}`;
const short = [];
const long = [];
for (let i = 0; i < n; i++) {
  const q = queries[i % queries.length];
  short.push([q, text(docs[i % docs.length]).split(' ').slice(0, 60).join(' ')]);
  long.push([q, [0, 1, 2, 3, 4, 5].map((k) => text(docs[(i * 7 + k) % docs.length])).join(' ')]);
}
writeFileSync(process.argv[2], JSON.stringify({ sets: { short, long }, batch_sizes: [32, 128] }));
console.log(`wrote ${n} short and ${n} long pairs to ${process.argv[2]}`);
