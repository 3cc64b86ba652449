// How well a cross-encoder ranks the benchmark pairs (bench/pairs.mjs: each query's first 16 judged documents),
// against the graded judgements (qrels/test.tsv: 0, 1, 2): nDCG@10 within each query's 16, the fraction of
// (relevant, non-relevant) document pairs of a query scored in the right order (ties count half), and the median gap
// between neighbours' scores in a top 10 (agreement.mjs medianTop10Gap), with Winnow fp32 scores; and nDCG@10 of
// a random order (mean over 1000 seeded shuffles) for scale.
// --options: load options as JSON (e.g. '{"source":"checkpoint","quantize":"int8"}': how far int8 moves the ranking).
//   node bench/relevance.mjs [--model minilm-ce-trained] [--pairs 640] [--threads 2] [--max-length N] [--options JSON]
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCorpus, makePairs } from './pairs.mjs';
import { medianTop10Gap } from './agreement.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const arg = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);

const modelName = arg('model', 'minilm-ce-trained');
const n = Number(arg('pairs', 640)), threads = Number(arg('threads', 2)), perQuery = 16;
const corpus = loadCorpus();
const pairs = makePairs(corpus, n, perQuery);

// Grades in makePairs' order (query ids in qrels order, each query's first `perQuery` judged documents).
const grade = new Map();
for (const line of fs.readFileSync(path.join(corpus.dir, 'qrels', 'test.tsv'), 'utf8').split('\n').slice(1)) {
  const [qid, did, g] = line.split('\t');
  if (did) grade.set(`${qid}\t${did}`, Number(g));
}
const grades = [];
for (const [qid, dids] of corpus.judged) {
  for (const did of dids.slice(0, perQuery)) {
    if (grades.length === n) break;
    if (corpus.docs.get(did) !== pairs[grades.length][1]) throw new Error('pairs out of step with makePairs');
    grades.push(grade.get(`${qid}\t${did}`));
  }
}

const { CrossEncoder } = require(path.join(here, '..', 'dist', 'cjs', 'index.js'));
const maxLength = arg('max-length') ? { maxLength: Number(arg('max-length')) } : {};
const options = JSON.parse(arg('options', '{}'));
const ce = await CrossEncoder.load(path.join(here, 'models', modelName), { threads, ...maxLength, ...options });
const scores = Array.from(await ce.predict(pairs));
await ce.dispose();

const dcg = (gs) => gs.slice(0, 10).reduce((s, g, i) => s + (2 ** g - 1) / Math.log2(i + 2), 0);
let ndcgSum = 0, ndcgQueries = 0, right = 0, pairsSeen = 0;
for (let s = 0; s < n; s += perQuery) {
  const idx = Array.from({ length: Math.min(perQuery, n - s) }, (_, i) => s + i);
  const byScore = [...idx].sort((a, b) => scores[b] - scores[a] || a - b).map((i) => grades[i]);
  const ideal = dcg(idx.map((i) => grades[i]).sort((a, b) => b - a));
  if (ideal > 0) {
    ndcgSum += dcg(byScore) / ideal;
    ndcgQueries++;
  }
  for (const i of idx) {
    for (const j of idx) {
      if (grades[i] > 0 && grades[j] === 0) {
        pairsSeen++;
        right += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
      }
    }
  }
}
// nDCG@10 of random orders of the same documents: what a model that knows nothing gets on average.
let seed = 1;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
let randomSum = 0;
const shuffles = 1000;
for (let r = 0; r < shuffles; r++) {
  for (let s = 0; s < n; s += perQuery) {
    const gs = grades.slice(s, s + perQuery);
    const ideal = dcg([...gs].sort((a, b) => b - a));
    if (ideal === 0) continue;
    for (let i = gs.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [gs[i], gs[j]] = [gs[j], gs[i]];
    }
    randomSum += dcg(gs) / ideal;
  }
}

const sorted = [...scores].sort((a, b) => a - b);
console.log(JSON.stringify({
  model: modelName, ...maxLength, options, pairs: n, queries: n / perQuery,
  ndcg10: ndcgSum / ndcgQueries, ndcgQueries, ndcg10RandomOrder: randomSum / (shuffles * ndcgQueries),
  relevantAboveNonRelevant: right / pairsSeen, comparedPairs: pairsSeen,
  medianTop10Gap: medianTop10Gap(scores, perQuery),
  scores: { min: sorted[0], median: sorted[sorted.length >> 1], max: sorted[sorted.length - 1] },
}, null, 2));
