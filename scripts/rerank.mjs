#!/usr/bin/env node
// Reranks documents against a query with a cross-encoder model folder (or a hub id in the local Hugging Face cache).
//   npm run rerank -- <model-dir> "<query>" "<doc 1>" "<doc 2>" ...
//   npm run rerank -- <model-dir> "<query>" < docs.txt        (one document per line)
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { CrossEncoder, runtimeInfo } = require('../dist/cjs/index.js');

const [dir, query, ...docsArg] = process.argv.slice(2);
if (!dir || query === undefined) {
  console.error('usage: npm run rerank -- <model-dir or hub id> "<query>" ["<doc>" ...]  (documents from stdin, one per line, when none are given)');
  process.exit(2);
}
const docs = docsArg.length ? docsArg : readFileSync(0, 'utf8').split('\n').filter((l) => l.trim());
const t0 = performance.now();
const ce = await CrossEncoder.load(dir).catch((e) => {
  console.error(`${e.code ?? 'ERROR'}: ${e.message}`);
  process.exit(1);
});
const t1 = performance.now();
const ranked = await ce.rank(query, docs, { returnDocuments: true });
const t2 = performance.now();
const info = runtimeInfo();
const file = ce.file.startsWith(dir + '/') ? ce.file.slice(dir.length + 1) : ce.file; // a hub id loads from its cached snapshot
console.log(`model ${dir} (${ce.device}, ONNX Runtime ${info.version}, ${file}): loaded in ${(t1 - t0).toFixed(0)} ms, ranked ${docs.length} documents in ${(t2 - t1).toFixed(1)} ms`);
for (const r of ranked) console.log(`${r.score.toFixed(4)}  [${r.index}] ${r.text.length > 100 ? r.text.slice(0, 100) + '…' : r.text}`);
ce.dispose();
