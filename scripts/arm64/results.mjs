// Runs Winnow's public API on the test fixtures and the shared tokenizers and writes every result as JSON
// (floats as their bit patterns, so nothing is lost). scripts/arm64.mjs runs it once with this machine's node
// and once with the arm64 node under qemu, then compares the two files.
//   node scripts/arm64/results.mjs OUT.json
import { createRequire } from 'node:module';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeCorpus } from '../../test/helpers/multilingual-corpus.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const w = require(path.join(root, 'dist', 'cjs', 'index.js'));
const models = path.join(root, 'test', 'fixtures', 'models');
const tokenizers = path.join(root, '..', 'shared', 'tokenizers');

const bits = (a) => Array.from(new Uint32Array(Float32Array.from(a).buffer));
const info = w.runtimeInfo();
const out = { arch: process.arch, addon: info.addon, ort: info.version, simd: info.simd, results: {} };
const put = (key, value) => { out.results[key] = value; };

const texts = makeCorpus(7, 60);
const queries = ['capital of france', 'who wrote hamlet', 'tallest mountain on earth', 'rivers of africa'];
const pairs = texts.slice(0, 40).map((t, i) => [queries[i % queries.length], t]);

// Tokenizers: ids, type ids and offsets of 1,000 texts (every script, emoji, control characters, mojibake, long
// words: byte handling is where char signedness and the like would show) and 40 pairs; decoded text of 200.
const manyTexts = makeCorpus(11, 1000);
for (const name of ['bert-base-uncased', 'modernbert-base', 't5-small', 'all-minilm-l6-v2', 'potion-base-8m']) {
  const file = path.join(tokenizers, name, 'tokenizer.json');
  if (!existsSync(file)) continue;
  const tok = await w.Tokenizer.fromFile(file);
  const singles = await tok.encodeBatch(manyTexts);
  const withPairs = await tok.encodeBatch(pairs);
  put(`tokenizer/${name}`, [...singles, ...withPairs].map((e) => ({ ids: Array.from(e.ids), typeIds: Array.from(e.typeIds), offsets: Array.from(e.offsets) })));
  put(`tokenizer/${name}/decode`, singles.slice(0, 200).map((e) => tok.decode(e.ids, { skipSpecialTokens: true })));
}

// Cross-encoders, fp32 and int8, with the layer norms fused (the default) and as written.
for (const file of ['onnx/model.onnx', 'onnx/model_quantized.onnx']) {
  for (const fuseLayerNorm of [undefined, false]) {
    const ce = await w.CrossEncoder.load(path.join(models, 'bert-ce-tiny'), { file, fuseLayerNorm, threads: 2 });
    put(`cross-encoder/${file}/fuseLayerNorm=${fuseLayerNorm}`, { fused: ce.fusedLayerNorms, scores: bits(await ce.predict(pairs)) });
    const one = [];
    for (const p of pairs.slice(0, 6)) one.push(...(await ce.predict([p])));
    put(`cross-encoder/${file}/fuseLayerNorm=${fuseLayerNorm}/one-by-one`, { scores: bits(one) });
    ce.dispose();
  }
}

// Sentence embeddings (mean pooling + normalisation natively; CLS; an in-graph sentence_embedding).
for (const name of ['e5-tiny', 'e5-tiny-cls', 'e5-tiny-sentence-embedding']) {
  const enc = await w.SentenceEncoder.load(path.join(models, name), { threads: 2 });
  const e = await enc.encode(texts, { prompt: 'passage: ' });
  put(`sentence/${name}`, { fused: enc.fusedLayerNorms, dim: e.dim, data: bits(e.data) });
  enc.dispose();
}

// Static embeddings in every stored dtype.
for (const name of ['potion-tiny', 'potion-tiny-f16', 'potion-tiny-bf16', 'potion-tiny-int8', 'potion-tiny-vocabq']) {
  const sm = await w.StaticModel.load(path.join(models, name));
  const e = await sm.encode(texts);
  put(`static/${name}`, { dim: e.dim, data: bits(e.data) });
}

// Context pruning, sentence and token granularity.
for (const name of ['pruning-bert-tiny', 'pruning-modernbert-tiny']) {
  const pe = await w.PruningEncoder.load(path.join(models, name), { threads: 2 });
  for (const granularity of ['sentence', 'token']) {
    const r = await pe.predictWithPruning(pairs.slice(0, 16), { granularity, threshold: 0.5 });
    put(`pruning/${name}/${granularity}`, r.map((x) => ({ score: bits([x.rankingScore])[0], text: x.prunedDocument, spans: x.keptSpans })));
  }
  pe.dispose();
}

writeFileSync(process.argv[2], JSON.stringify(out));
console.log(`${process.arch}: ${Object.keys(out.results).length} results in ${process.argv[2]} (addon ${out.addon})`);
