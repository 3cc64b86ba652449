// The other shapes users' clients speak: Cohere rerank v1 (and Jina's, the same path and body) and v2, OpenAI
// embeddings, SageMaker's /invocations, and Winnow's /prune.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Ctx, HttpError } from './app';
import { cutToTokens, embed, prune, rank, scorePairs, tokenCounts } from './ops';
import { teiEmbed, teiPredict, teiRerank } from './routes-tei';
import type { EmbedBody, PredictBody, RerankBody } from './routes-tei';

interface CohereBody {
  model?: string;
  query: string;
  documents: Array<string | { text: string }>;
  top_n?: number | null;
  return_documents?: boolean | null;
  max_tokens_per_doc?: number | null;
  max_chunks_per_doc?: number | null;
}

interface OpenAIBody { input: string | string[]; model?: string; encoding_format?: 'float' | 'base64'; dimensions?: number; user?: string }

interface PruneBody {
  query: string;
  texts?: string[];
  documents?: string[];
  threshold?: number;
  granularity?: 'sentence' | 'token';
  language?: 'en' | 'ja' | 'auto';
  return_sentences?: boolean;
  model?: string;
}

const cohereSchema = (v2: boolean) => ({
  body: { type: 'object', required: ['query', 'documents'], properties: {
    model: { type: 'string' }, query: { type: 'string' },
    documents: { type: 'array', items: v2 ? { type: 'string' } : { anyOf: [{ type: 'string' }, { type: 'object', required: ['text'], properties: { text: { type: 'string' } } }] } },
    // Clients send null for options they leave unset (LangChain's CohereRerank: max_chunks_per_doc).
    top_n: { type: ['integer', 'null'], minimum: 1 }, return_documents: { type: ['boolean', 'null'] },
    max_tokens_per_doc: { type: ['integer', 'null'], minimum: 1 }, max_chunks_per_doc: { type: ['integer', 'null'], minimum: 1 },
  } },
});

/** Little-endian float32 bytes in base64, as OpenAI's `encoding_format: 'base64'` (every platform Winnow builds for is little-endian). */
function base64(row: Float32Array): string {
  return Buffer.from(row.buffer, row.byteOffset, row.byteLength).toString('base64');
}

export function compatRoutes(app: FastifyInstance, ctx: Ctx): void {
  // Cohere's rerank (v1 takes strings or { text } objects, v2 strings) and Jina's (v1's path and body).
  const cohere = (v2: boolean) => async (req: Parameters<Ctx['infer']>[0], reply: Parameters<Ctx['infer']>[1]) => {
    const b = req.body as CohereBody;
    const m = ctx.pick(b.model, ['rerank', 'prune']);
    ctx.checkBatch(b.documents.length, 'documents');
    const texts = b.documents.map((d) => (typeof d === 'string' ? d : d.text));
    const ranked = await ctx.infer(req, reply, v2 ? 'rerank_v2' : 'rerank_v1', texts.length, async (signal, timing) => {
      const limit = b.max_tokens_per_doc;
      const cut = limit != null && limit < m.maxLength ? await timing.tokenize(() => cutToTokens(m, texts, limit, signal)) : texts;
      return rank(m, b.query, cut, false, signal);
    });
    const kept = b.top_n == null ? ranked : ranked.slice(0, b.top_n);
    // Jina's API returns the documents unless told not to; Cohere v1's (the same path and body) leaves them out. The
    // path follows Jina: a Cohere client reads the extra `document` as its own API's, and can send false. v2 has none.
    const withDocs = b.return_documents ?? !v2;
    return {
      id: randomUUID(),
      results: kept.map((r) => (withDocs
        ? { index: r.index, relevance_score: r.score, document: { text: texts[r.index] } }
        : { index: r.index, relevance_score: r.score })),
      meta: { api_version: { version: v2 ? '2' : '1' }, billed_units: { search_units: 1 } },
    };
  };
  app.post('/v1/rerank', { config: { method: 'rerank_v1' }, schema: cohereSchema(false) }, cohere(false));
  app.post('/v2/rerank', { config: { method: 'rerank_v2' }, schema: cohereSchema(true) }, cohere(true));

  app.post<{ Body: OpenAIBody }>('/v1/embeddings', {
    config: { method: 'openai_embeddings' },
    schema: { body: { type: 'object', required: ['input'], properties: {
      input: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
      model: { type: 'string' }, encoding_format: { type: 'string', enum: ['float', 'base64'] },
      dimensions: { type: 'integer', minimum: 1 }, user: { type: 'string' } } } },
  }, async (req, reply) => {
    const b = req.body;
    const m = ctx.pick(b.model, ['embed']);
    const texts = typeof b.input === 'string' ? [b.input] : b.input;
    ctx.checkBatch(texts.length, 'input');
    const { rows, tokens } = await ctx.infer(req, reply, 'openai_embeddings', texts.length, async (signal, timing) => {
      // The model's own normalization (OpenAI's embeddings are normalized; so are most sentence-transformers models').
      const rows = await embed(m, texts, { dimensions: b.dimensions, signal });
      const counts = await timing.tokenize(() => tokenCounts(m, texts, true, '', signal));
      return { rows, tokens: counts.reduce((s, n) => s + n, 0) };
    });
    return {
      object: 'list',
      data: rows.map((r, index) => ({ object: 'embedding', index, embedding: b.encoding_format === 'base64' ? base64(r) : Array.from(r) })),
      model: b.model ?? m.name,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    };
  });

  // SageMaker: {"pairs": [[q, d], ...]} -> {"scores": [...]}, or TEI's bodies (rerank, embed, predict).
  app.post('/invocations', {
    config: { method: 'invocations' },
    schema: { body: { type: 'object', properties: {
      pairs: { type: 'array', items: { type: 'array', items: { type: 'string' }, minItems: 2, maxItems: 2 } },
      query: { type: 'string' }, texts: { type: 'array', items: { type: 'string' } },
      inputs: { anyOf: [{ type: 'string' }, { type: 'array' }] }, model: { type: 'string' } } } },
  }, async (req, reply) => {
    const b = req.body as { pairs?: Array<[string, string]>; query?: string; texts?: string[]; inputs?: unknown; model?: string; raw_scores?: boolean };
    if (b.pairs !== undefined) {
      const m = ctx.pick(b.model, ['rerank', 'classify', 'prune']);
      ctx.checkBatch(b.pairs.length, 'pairs');
      const scores = await ctx.infer(req, reply, 'invocations', b.pairs.length, (signal) => scorePairs(m, b.pairs!, b.raw_scores === true, signal));
      return { scores: Array.from(scores) };
    }
    if (typeof b.query === 'string' && Array.isArray(b.texts)) return teiRerank(ctx, req, reply, b as RerankBody);
    if (b.inputs !== undefined) {
      const m = ctx.pick(b.model, ['embed', 'rerank', 'classify', 'prune']);
      return m.task === 'embed' ? teiEmbed(ctx, req, reply, b as EmbedBody) : teiPredict(ctx, req, reply, b as PredictBody);
    }
    throw new HttpError('Validation', 'Input validation error: expected {"pairs": [[query, document], ...]}, {"query", "texts"} or {"inputs"}', 422);
  });

  // Winnow's /prune: per document the ranking score, the pruned text, how much was removed and the spans kept.
  app.post<{ Body: PruneBody }>('/prune', {
    config: { method: 'prune' },
    schema: { body: { type: 'object', required: ['query'], properties: {
      query: { type: 'string' }, texts: { type: 'array', items: { type: 'string' } }, documents: { type: 'array', items: { type: 'string' } },
      threshold: { type: 'number', minimum: 0, maximum: 1 }, granularity: { type: 'string', enum: ['sentence', 'token'] },
      language: { type: 'string', enum: ['en', 'ja', 'auto'] }, return_sentences: { type: 'boolean' }, model: { type: 'string' } } } },
  }, async (req, reply) => {
    const b = req.body;
    const docs = b.texts ?? b.documents;
    if (docs === undefined) throw new HttpError('Validation', 'Input validation error: `texts` (or `documents`) is required', 422);
    const m = ctx.pick(b.model, ['prune']);
    ctx.checkBatch(docs.length, 'texts');
    const results = await ctx.infer(req, reply, 'prune', docs.length, (signal) =>
      prune(m, b.query, docs, { threshold: b.threshold, granularity: b.granularity, language: b.language, returnSentences: b.return_sentences, signal }));
    return results.map((r, index) => ({
      index, score: r.rankingScore, pruned_text: r.prunedDocument, compression_ratio: r.compressionRatio,
      tokens_removed: r.tokensRemoved, kept_spans: r.keptSpans,
      ...(r.sentences ? { sentences: r.sentences } : {}),
    }));
  });
}
