// Benchmark texts: `${title}. ${text}` per line of dbpedia-entity/corpus.jsonl (5,000 lines in
// /work/shared), cycled to n texts.
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const SHARED = process.env.WINNOW_SHARED_DIR ?? join(here, '../../../shared');
export function loadTexts(n = 20000) {
  const lines = readFileSync(join(SHARED, 'corpora/dbpedia-entity/corpus.jsonl'), 'utf8').split('\n').filter(Boolean);
  const base = lines.map((l) => { const j = JSON.parse(l); return `${j.title}. ${j.text}`; });
  return Array.from({ length: n }, (_, i) => base[i % base.length]);
}
