// Shared settings and data for the sentence-embedding benchmark (issue #5).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const benchDir = path.resolve(here, '..');
export const root = path.resolve(benchDir, '..');

export const settings = {
  model: 'e5-small', // bench/models/e5-small: intfloat/e5-small shape, mean pooling + Normalize
  texts: 512,
  threads: 2,
  batch: 32,
  maxLength: 512,
  warmup: 0, // extra untimed full passes (the parity pass already warms up)
  reps: 2, // timed full passes
  queries: 50, // one-text calls timed one by one (a search service embedding each incoming query)
};

export const modelDir = path.join(benchDir, 'models', settings.model);
const CORPUS = path.resolve(root, '..', 'shared', 'corpora', 'dbpedia-entity');

/** The first `n` documents of dbpedia-entity as `${title}. ${text}`. */
export function loadTexts(n = settings.texts) {
  const file = path.join(CORPUS, 'corpus.jsonl');
  const out = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const d = JSON.parse(line);
    out.push(`${d.title}. ${d.text}`);
    if (out.length >= n) break;
  }
  return out;
}

/** The first `n` dbpedia-entity queries as e5 queries (`query: ${text}`), for one-text calls. */
export function loadQueries(n = settings.queries) {
  const file = path.join(CORPUS, 'queries.jsonl');
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).slice(0, n).map((l) => `query: ${JSON.parse(l).text}`);
}
