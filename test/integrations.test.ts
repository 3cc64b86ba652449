// The framework adapters run inside the real frameworks: LangChain's MemoryVectorStore retriever feeding a
// ContextualCompressionRetriever with WinnowReranker (the flow of sentence-transformers' CrossEncoderReranker,
// top_n 3), the pruning compressor, LangChain Embeddings; LlamaIndex's VectorStoreIndex retriever feeding the node
// postprocessors, and its BaseEmbedding. Expected values come from Winnow's own public API.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Document } from '@langchain/core/documents';
import { ContextualCompressionRetriever } from '@langchain/classic/retrievers/contextual_compression';
import { MemoryVectorStore } from '@langchain/classic/vectorstores/memory';
import { Document as LlamaDocument, MetadataMode, TextNode, VectorStoreIndex, Settings } from 'llamaindex';
import { CrossEncoder, PruningEncoder, SentenceEncoder, StaticModel } from '../lib/index';
import { WinnowEmbeddings, WinnowPruner, WinnowReranker } from '../lib/integrations/langchain';
import { WinnowEmbedding, WinnowPrune, WinnowRerank } from '../lib/integrations/llamaindex';
import { errorOf } from './helpers/errors';
import { FIXTURES, ROOT } from './helpers/reference';

const TEXTS = [
  'Paris is the capital and largest city of France.',
  'Berlin is the capital of Germany and its largest city.',
  'The Eiffel Tower is a wrought-iron lattice tower in Paris, France.',
  'Tokyo is the capital of Japan.',
  'France is a country in Western Europe; its capital is Paris.',
  'Bananas are rich in potassium.',
  'The Seine flows through Paris before reaching the English Channel.',
  'Madrid is the capital of Spain.',
];
const QUERY = 'What is the capital of France?';

let ce: CrossEncoder;
let e5: SentenceEncoder;
let pruner: PruningEncoder;
let potion: StaticModel;
let prompted: SentenceEncoder;
let promptedDir: string;

beforeAll(async () => {
  ce = await CrossEncoder.load(path.join(FIXTURES, 'bert-ce-tiny'), { threads: 1 });
  e5 = await SentenceEncoder.load(path.join(FIXTURES, 'e5-tiny'), { threads: 1 });
  pruner = await PruningEncoder.load(path.join(FIXTURES, 'pruning-bert-tiny'), { threads: 1 });
  potion = await StaticModel.load(path.join(FIXTURES, 'potion-tiny'), { threads: 1 });
  // e5-tiny whose config names query and passage prompts, to see which one each side of the adapters uses.
  promptedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-e5-prompts-'));
  fs.cpSync(path.join(FIXTURES, 'e5-tiny'), promptedDir, { recursive: true });
  fs.writeFileSync(path.join(promptedDir, 'config_sentence_transformers.json'), JSON.stringify({ prompts: { query: 'query: ', passage: 'passage: ' } }));
  prompted = await SentenceEncoder.load(promptedDir, { threads: 1 });
});
afterAll(() => {
  for (const m of [ce, e5, pruner, potion, prompted]) m?.dispose();
  fs.rmSync(promptedDir, { recursive: true, force: true });
});

function langchainDocs(): Document[] {
  return TEXTS.map((t, i) => new Document({ pageContent: t, metadata: { source: `doc-${i}`, tags: ['geo', i] }, id: `id-${i}` }));
}

describe('LangChain', () => {
  it('MemoryVectorStore retriever -> ContextualCompressionRetriever with WinnowReranker (topN 3)', async () => {
    const store = await MemoryVectorStore.fromDocuments(langchainDocs(), new WinnowEmbeddings({ model: e5 }));
    const baseRetriever = store.asRetriever(6);
    const retriever = new ContextualCompressionRetriever({ baseCompressor: new WinnowReranker({ model: ce, topN: 3 }), baseRetriever });
    const got = await retriever.invoke(QUERY);

    // What the base retriever hands the compressor, ranked by the library itself.
    const base = await baseRetriever.invoke(QUERY);
    expect(base).toHaveLength(6);
    const expected = await ce.rank(QUERY, base.map((d) => d.pageContent), { topK: 3 });
    expect(got).toHaveLength(3);
    expect(got.map((d) => d.pageContent)).toEqual(expected.map((r) => base[r.index].pageContent));
    expect(got.map((d) => d.metadata.relevanceScore)).toEqual(expected.map((r) => r.score));
    for (let i = 1; i < got.length; i++) expect(got[i - 1].metadata.relevanceScore).toBeGreaterThanOrEqual(got[i].metadata.relevanceScore);
    for (const d of got) {
      const i = TEXTS.indexOf(d.pageContent);
      expect(d.metadata).toEqual({ source: `doc-${i}`, tags: ['geo', i], relevanceScore: d.metadata.relevanceScore });
      expect(d.id).toBe(`id-${i}`);
    }
  });

  it('WinnowReranker leaves its input documents unmodified', async () => {
    const docs = langchainDocs();
    const before = structuredClone(docs.map((d) => ({ pageContent: d.pageContent, metadata: d.metadata, id: d.id })));
    const out = await new WinnowReranker({ model: ce, topN: 3 }).compressDocuments(docs, QUERY);
    expect(docs.map((d) => ({ pageContent: d.pageContent, metadata: d.metadata, id: d.id }))).toEqual(before);
    for (const d of out) expect(docs).not.toContain(d);
    // topN defaults to 3, as CohereRerank's
    expect(await new WinnowReranker({ model: ce }).compressDocuments(docs, QUERY)).toHaveLength(3);
    const all = await new WinnowReranker({ model: ce, topN: 100 }).rerank(docs, QUERY);
    expect(all.map((r) => r.index).sort()).toEqual(docs.map((_, i) => i));
  });

  it('WinnowPruner: pruned page content, score, compression and kept spans in metadata; minScore drops', async () => {
    const docs = langchainDocs();
    const before = structuredClone(docs.map((d) => ({ pageContent: d.pageContent, metadata: d.metadata })));
    const results = await pruner.prune(QUERY, TEXTS);
    const out = await new WinnowPruner({ model: pruner }).compressDocuments(docs, QUERY);
    expect(out).toHaveLength(TEXTS.length);
    out.forEach((d, i) => {
      expect(d.pageContent).toBe(results[i].prunedDocument);
      expect(d.metadata).toEqual({
        source: `doc-${i}`, tags: ['geo', i],
        relevanceScore: results[i].rankingScore, compressionRatio: results[i].compressionRatio, keptSpans: results[i].keptSpans,
      });
      expect(d.id).toBe(`id-${i}`);
    });
    expect(docs.map((d) => ({ pageContent: d.pageContent, metadata: d.metadata }))).toEqual(before);

    const scores = results.map((r) => r.rankingScore);
    const cut = [...scores].sort((a, b) => a - b)[Math.floor(scores.length / 2)];
    const kept = await new WinnowPruner({ model: pruner, minScore: cut }).compressDocuments(docs, QUERY);
    expect(kept.map((d) => d.metadata.source)).toEqual(docs.filter((_, i) => scores[i] >= cut).map((d) => d.metadata.source));
    expect(kept.length).toBeLessThan(docs.length);

    const strict = await pruner.prune(QUERY, TEXTS, { threshold: 0.9 });
    const outStrict = await new WinnowPruner({ model: pruner, threshold: 0.9 }).compressDocuments(docs, QUERY);
    expect(outStrict.map((d) => d.pageContent)).toEqual(strict.map((r) => r.prunedDocument));
  });

  it('WinnowEmbeddings: query and document prompts (SentenceEncoder), StaticModel, number[] vectors', async () => {
    const emb = new WinnowEmbeddings({ model: prompted });
    const q = await emb.embedQuery(QUERY);
    expect(Array.isArray(q)).toBe(true);
    expect(q).toEqual(Array.from((await prompted.encode([QUERY], { prompt: 'query: ' })).row(0)));
    expect(q).not.toEqual(Array.from((await prompted.encode([QUERY], { prompt: '' })).row(0)));
    const d = await emb.embedDocuments(TEXTS.slice(0, 3));
    expect(d).toEqual((await prompted.encode(TEXTS.slice(0, 3), { prompt: 'passage: ' })).toArray().map((r) => Array.from(r)));

    const s = new WinnowEmbeddings({ model: potion });
    expect(await s.embedQuery(QUERY)).toEqual(Array.from((await potion.encode([QUERY])).row(0)));
    expect(await s.embedDocuments(TEXTS)).toEqual((await potion.encode(TEXTS)).toArray().map((r) => Array.from(r)));
  });

  it('constructor arguments are checked', async () => {
    expect((await errorOf(() => new WinnowReranker({ model: e5 as any }))).message).toBe(
      'Expected a loaded model with rank() for model but received an object of type object');
    expect((await errorOf(() => new WinnowReranker({ model: ce, topN: 0 }))).code).toBe('INVALID_ARGUMENT');
    expect((await errorOf(() => new WinnowPruner({ model: pruner, minScore: 2 }))).message).toBe(
      'Expected a number between 0 and 1 for minScore but received 2 of type number');
    expect((await errorOf(() => new WinnowEmbeddings(undefined as any))).code).toBe('INVALID_ARGUMENT');
  });
});

describe('LlamaIndex', () => {
  it('VectorStoreIndex retriever with WinnowEmbedding -> WinnowRerank (topN 3)', async () => {
    const embedModel = new WinnowEmbedding({ model: prompted });
    Settings.embedModel = embedModel; // this file's process only
    {
      const docs = TEXTS.map((t, i) => new LlamaDocument({ text: t, id_: `id-${i}`, metadata: { source: `doc-${i}` } }));
      const index = await VectorStoreIndex.fromDocuments(docs);
      const nodes = await index.asRetriever({ similarityTopK: 6 }).retrieve({ query: QUERY });
      expect(nodes).toHaveLength(6);
      const before = nodes.map((n) => ({ score: n.score, text: n.node.getContent(MetadataMode.NONE), metadata: { ...n.node.metadata } }));

      const got = await new WinnowRerank({ model: ce, topN: 3 }).postprocessNodes(nodes, QUERY);
      const expected = await ce.rank(QUERY, nodes.map((n) => n.node.getContent(MetadataMode.NONE)), { topK: 3 });
      expect(got.map((n) => n.node)).toEqual(expected.map((r) => nodes[r.index].node));
      expect(got.map((n) => n.score)).toEqual(expected.map((r) => r.score));
      expect(got.every((n) => n.node.metadata.source === `doc-${TEXTS.indexOf(n.node.getContent(MetadataMode.NONE))}`)).toBe(true);
      expect(nodes.map((n) => ({ score: n.score, text: n.node.getContent(MetadataMode.NONE), metadata: { ...n.node.metadata } }))).toEqual(before);

      // The query embedding the retriever used is encodeQuery's; the nodes' are encodeDocument's.
      const q = Array.from(await prompted.encode(QUERY, { prompt: 'query: ' }));
      expect(await embedModel.getQueryEmbedding({ type: 'text', text: QUERY })).toEqual(q);
      expect(await embedModel.getQueryEmbedding(QUERY as any)).toEqual(q);
      expect(q).not.toEqual(Array.from(await prompted.encode(QUERY, { prompt: 'passage: ' })));
      expect(await embedModel.getTextEmbeddings(TEXTS.slice(0, 2))).toEqual((await prompted.encode(TEXTS.slice(0, 2), { prompt: 'passage: ' })).toArrays());
      expect(await embedModel.getTextEmbedding(TEXTS[0])).toEqual(Array.from(await prompted.encode(TEXTS[0], { prompt: 'passage: ' })));
    }
  });

  it('WinnowPrune: pruned TextNodes with the ranking score, ids and metadata kept; minScore drops', async () => {
    const nodes = TEXTS.map((t, i) => ({ node: new TextNode({ text: t, id_: `id-${i}`, metadata: { source: `doc-${i}` } }), score: 0.5 }));
    const results = await pruner.prune(QUERY, TEXTS);
    const out = await new WinnowPrune({ model: pruner }).postprocessNodes(nodes, QUERY);
    out.forEach((n, i) => {
      expect(n.node).toBeInstanceOf(TextNode);
      expect(n.node.getContent(MetadataMode.NONE)).toBe(results[i].prunedDocument);
      expect(n.score).toBe(results[i].rankingScore);
      expect(n.node.id_).toBe(`id-${i}`);
      expect(n.node.metadata).toEqual({ source: `doc-${i}`, compressionRatio: results[i].compressionRatio, keptSpans: results[i].keptSpans });
      expect(nodes[i].node.getContent(MetadataMode.NONE)).toBe(TEXTS[i]);
      expect(nodes[i].node.metadata).toEqual({ source: `doc-${i}` });
    });
    const scores = results.map((r) => r.rankingScore);
    const cut = [...scores].sort((a, b) => a - b)[Math.floor(scores.length / 2)];
    const kept = await new WinnowPrune({ model: pruner, minScore: cut }).postprocessNodes(nodes, QUERY);
    expect(kept.map((n) => n.node.id_)).toEqual(nodes.filter((_, i) => scores[i] >= cut).map((n) => n.node.id_));
    expect((await errorOf(() => new WinnowRerank({ model: ce }).postprocessNodes(nodes))).code).toBe('INVALID_ARGUMENT');
  });

  it('WinnowEmbedding over a StaticModel', async () => {
    const emb = new WinnowEmbedding({ model: potion, embedBatchSize: 4 });
    expect(await emb.getTextEmbedding(TEXTS[0])).toEqual(Array.from(await potion.encode(TEXTS[0])));
    expect(await emb.getTextEmbeddingsBatch(TEXTS)).toEqual((await potion.encode(TEXTS)).toArrays());
  });
});

describe('package subpaths', () => {
  // Through the package's own name and "exports", as a user's file resolves them (a file inside the package).
  const OUT = path.join(ROOT, 'build', 'integration-imports');
  beforeAll(() => fs.mkdirSync(OUT, { recursive: true }));
  afterAll(() => fs.rmSync(OUT, { recursive: true, force: true }));

  it('winnow-native/langchain and /llamaindex load as CommonJS and as ESM, extending the frameworks\' own classes', () => {
    const ce = JSON.stringify(path.join(FIXTURES, 'bert-ce-tiny'));
    const esm = path.join(OUT, 'imports.mjs');
    fs.writeFileSync(esm, `import { WinnowReranker, WinnowEmbeddings } from 'winnow-native/langchain';
import { WinnowRerank, WinnowEmbedding } from 'winnow-native/llamaindex';
import { BaseDocumentCompressor } from '@langchain/core/retrievers/document_compressors';
import { Embeddings } from '@langchain/core/embeddings';
import { BaseEmbedding } from '@llamaindex/core/embeddings';
import { CrossEncoder, StaticModel } from 'winnow-native';
const model = await CrossEncoder.load(${ce}, { threads: 1 });
const r = new WinnowReranker({ model, topN: 1 });
if (!(r instanceof BaseDocumentCompressor)) throw new Error('not the ESM BaseDocumentCompressor');
const potion = await StaticModel.load(${JSON.stringify(path.join(FIXTURES, 'potion-tiny'))});
if (!(new WinnowEmbeddings({ model: potion }) instanceof Embeddings)) throw new Error('not the ESM Embeddings');
if (!(new WinnowEmbedding({ model: potion }) instanceof BaseEmbedding)) throw new Error('not the ESM BaseEmbedding');
const docs = await r.compressDocuments([{ pageContent: 'Paris is in France.', metadata: {} }, { pageContent: 'Bananas.', metadata: {} }], 'capital of France');
console.log(docs.length, typeof WinnowRerank);\n`);
    expect(execFileSync(process.execPath, [esm], { cwd: OUT, encoding: 'utf8' }).trim()).toBe('1 function');
    const cjs = path.join(OUT, 'require.cjs');
    fs.writeFileSync(cjs, `const { WinnowReranker } = require('winnow-native/langchain');
const { WinnowRerank } = require('winnow-native/llamaindex');
const { BaseDocumentCompressor } = require('@langchain/core/retrievers/document_compressors');
const { CrossEncoder } = require('winnow-native');
CrossEncoder.load(${ce}, { threads: 1 }).then((model) => {
  const r = new WinnowReranker({ model });
  if (!(r instanceof BaseDocumentCompressor)) throw new Error('not the CommonJS BaseDocumentCompressor');
  console.log(typeof WinnowRerank);
});\n`);
    expect(execFileSync(process.execPath, [cjs], { cwd: OUT, encoding: 'utf8' }).trim()).toBe('function');
  }, 60_000);
});
