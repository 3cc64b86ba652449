// The benchmark texts: dbpedia-entity abstracts ("title. text"), in file order.
import fs from 'node:fs';
import path from 'node:path';

const CANDIDATES = [
  process.env.WINNOW_SHARED_DIR && path.join(process.env.WINNOW_SHARED_DIR, 'corpora/dbpedia-entity/corpus.jsonl'),
  new URL('../../../shared/corpora/dbpedia-entity/corpus.jsonl', import.meta.url).pathname,
  '/work/shared/corpora/dbpedia-entity/corpus.jsonl',
].filter(Boolean);

export function loadTexts(n = 5000) {
  const file = CANDIDATES.find((p) => fs.existsSync(p));
  if (!file) throw new Error('dbpedia-entity corpus not found; set WINNOW_SHARED_DIR');
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).slice(0, n).map((l) => {
    const j = JSON.parse(l);
    return `${j.title}. ${j.text}`;
  });
}
