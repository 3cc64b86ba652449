// text-embeddings-inference's routes and bodies: /rerank, /predict, /embed, /tokenize, /info.
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { runtimeInfo } from '../index';
import { Ctx, HttpError } from './app';
import { checkLengths, embed, rank, scorePairs } from './ops';
import type { ServedModel } from './models';
import { packageVersion } from './version';

const VERSION = packageVersion();

const stringOrList = { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] };
const truncation = {
  truncate: { type: ['boolean', 'null'] },
  truncation_direction: { type: 'string', enum: ['left', 'right', 'Left', 'Right'] },
};

/** Winnow truncates on the right only (the document of a pair, the end of a text). */
function checkDirection(direction: string | undefined): void {
  if (direction !== undefined && direction.toLowerCase() === 'left') {
    throw new HttpError('Validation', 'truncation_direction "left" is not supported: Winnow truncates on the right', 422);
  }
}

function list(x: string | string[]): string[] {
  return typeof x === 'string' ? [x] : x;
}

interface RerankBody { query: string; texts: string[]; raw_scores?: boolean; return_text?: boolean; truncate?: boolean | null; truncation_direction?: string; model?: string }
interface PredictBody { inputs: string | string[] | string[][]; raw_scores?: boolean; truncate?: boolean | null; truncation_direction?: string; model?: string }
interface EmbedBody { inputs: string | string[]; normalize?: boolean; dimensions?: number; prompt_name?: string | null; truncate?: boolean | null; truncation_direction?: string; model?: string }
interface TokenizeBody { inputs: string | string[]; add_special_tokens?: boolean; prompt_name?: string | null; model?: string }

/** TEI's /rerank: every text scored against the query, best first. */
export async function teiRerank(ctx: Ctx, req: Parameters<Ctx['infer']>[0], reply: Parameters<Ctx['infer']>[1], b: RerankBody): Promise<unknown> {
  const m = ctx.pick(b.model, ['rerank', 'prune']);
  ctx.checkBatch(b.texts.length, 'texts');
  checkDirection(b.truncation_direction);
  return ctx.infer(req, reply, 'rerank', b.texts.length, async (signal, timing) => {
    if (!ctx.truncates(b.truncate ?? undefined)) await timing.tokenize(() => checkLengths(m, b.texts.map((t) => [b.query, t] as const), '', signal));
    const ranked = await rank(m, b.query, b.texts, b.raw_scores ?? false, signal);
    return ranked.map((r) => (b.return_text ? { index: r.index, text: b.texts[r.index], score: r.score } : { index: r.index, score: r.score }));
  });
}

/** TEI's /predict input: a string, a pair, or a batch of [text] / [text, pair]. */
function predictInputs(inputs: PredictBody['inputs']): { single: boolean; items: Array<string | [string, string]> } {
  const seq = (x: unknown): string | [string, string] => {
    if (typeof x === 'string') return x;
    if (Array.isArray(x) && x.length === 1 && typeof x[0] === 'string') return x[0];
    if (Array.isArray(x) && x.length === 2 && x.every((s) => typeof s === 'string')) return [x[0], x[1]];
    throw new HttpError('Validation', 'Input validation error: expected a string, a pair of strings [string, string] or a batch of mixed strings and pairs [[string], [string, string], ...]', 422);
  };
  if (typeof inputs === 'string') return { single: true, items: [inputs] };
  if (inputs.length > 0 && inputs.every((x) => typeof x === 'string')) {
    if (inputs.length > 2) throw new HttpError('Validation', 'Input validation error: a sequence is a single string or a pair of strings', 422);
    return { single: true, items: [seq(inputs)] };
  }
  return { single: false, items: (inputs as unknown[]).map(seq) };
}

async function teiPredict(ctx: Ctx, req: Parameters<Ctx['infer']>[0], reply: Parameters<Ctx['infer']>[1], b: PredictBody): Promise<unknown> {
  const m = ctx.pick(b.model, ['rerank', 'classify', 'prune']);
  const { single, items } = predictInputs(b.inputs);
  ctx.checkBatch(items.length, 'inputs');
  checkDirection(b.truncation_direction);
  const pairs = items.map((x) => {
    if (typeof x === 'string') throw new HttpError('Validation', `model "${m.name}" scores pairs of texts: send [text, text_pair]`, 422);
    return x;
  });
  return ctx.infer(req, reply, 'predict', pairs.length, async (signal, timing) => {
    if (!ctx.truncates(b.truncate ?? undefined)) await timing.tokenize(() => checkLengths(m, pairs, '', signal));
    const scores = await scorePairs(m, pairs, b.raw_scores ?? false, signal);
    const k = m.labels.length || 1;
    const rows = pairs.map((_, i) => m.labels.map((label, j) => ({ score: scores[i * k + j], label })).sort((x, y) => y.score - x.score));
    return single ? rows[0] : rows;
  });
}

async function teiEmbed(ctx: Ctx, req: Parameters<Ctx['infer']>[0], reply: Parameters<Ctx['infer']>[1], b: EmbedBody): Promise<unknown> {
  const m = ctx.pick(b.model, ['embed']);
  const texts = list(b.inputs);
  ctx.checkBatch(texts.length, 'inputs');
  checkDirection(b.truncation_direction);
  return ctx.infer(req, reply, 'embed', texts.length, async (signal, timing) => {
    const prompt = b.prompt_name ?? undefined;
    if (!ctx.truncates(b.truncate ?? undefined)) await timing.tokenize(() => checkLengths(m, texts, promptPrefix(m, prompt), signal));
    // TEI normalizes unless told not to.
    const rows = await embed(m, texts, { normalize: b.normalize ?? true, dimensions: b.dimensions, promptName: prompt, signal });
    return rows.map((r) => Array.from(r));
  });
}

/** The literal prefix a prompt name stands for ('' when none). */
export function promptPrefix(m: ServedModel, name: string | undefined): string {
  const prompts = (m.model as { prompts?: Record<string, string> }).prompts ?? {};
  return name !== undefined ? prompts[name] ?? '' : '';
}

/** TEI's /tokenize: tokenized off the event loop, inside the same bound as inference (a flood of large bodies gets 429). */
async function teiTokenize(ctx: Ctx, req: Parameters<Ctx['infer']>[0], reply: Parameters<Ctx['infer']>[1], b: TokenizeBody): Promise<unknown> {
  const m = ctx.pick(b.model, ['rerank', 'classify', 'embed', 'prune']);
  const texts = list(b.inputs).map((t) => promptPrefix(m, b.prompt_name ?? undefined) + t);
  ctx.checkBatch(texts.length, 'inputs');
  const encodings = await ctx.infer(req, reply, 'tokenize', texts.length, (signal, timing) =>
    timing.tokenize(() => m.tokenizer.encodeBatch(texts, { addSpecialTokens: b.add_special_tokens ?? true, signal })));
  return texts.map((text, k) => {
    const e = encodings[k];
    return Array.from(e.ids, (id, i) => {
      const special = e.specialTokensMask[i] === 1;
      const start = e.offsets[2 * i];
      const stop = e.offsets[2 * i + 1];
      return { id, text: special ? m.tokenizer.idToToken(id) ?? '' : text.slice(start, stop), special, start: special ? null : start, stop: special ? null : stop };
    });
  });
}

/** `file` relative to the model folder `dir`; its name alone when it lies elsewhere (a graph built into a cache). */
function inFolder(dir: string, file: string): string {
  const rel = path.relative(dir, file);
  const outside = rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel);
  return outside ? path.basename(file) : rel.split(path.sep).join('/');
}

/** TEI's /info for a model. */
export function teiInfo(ctx: Ctx, m: ServedModel): Record<string, unknown> {
  const d = m.describe();
  const modelType = m.task === 'embed' ? { embedding: { pooling: d.pooling ?? 'mean' } }
    : { [m.task === 'classify' ? 'classifier' : 'reranker']: {
      id2label: Object.fromEntries(m.labels.map((l, i) => [String(i), l])),
      label2id: Object.fromEntries(m.labels.map((l, i) => [l, i])),
    } };
  return {
    model_id: m.id, model_sha: null, model_dtype: 'float32', model_type: modelType,
    max_concurrent_requests: ctx.options.maxConcurrentRequests, max_input_length: m.maxLength,
    max_batch_tokens: null, max_batch_requests: null, max_client_batch_size: ctx.options.maxClientBatchSize,
    auto_truncate: ctx.options.autoTruncate, tokenization_workers: null, version: VERSION, sha: null, docker_label: null,
    // Winnow's own: every model served (its files relative to its folder: the server's layout is not the client's
    // business), and the runtime.
    models: ctx.options.models.map((x) => {
      const d = x.describe();
      return { name: x.name, id: x.id, task: x.task, ...d, ...(typeof d.file === 'string' ? { file: inFolder(x.dir, d.file) } : {}) };
    }),
    runtime: runtimeInfo().version,
  };
}

export function teiRoutes(app: FastifyInstance, ctx: Ctx): void {
  const model = { model: { type: 'string' } };
  app.post<{ Body: RerankBody }>('/rerank', {
    config: { method: 'rerank' },
    schema: { body: { type: 'object', required: ['query', 'texts'], properties: {
      query: { type: 'string' }, texts: { type: 'array', items: { type: 'string' } },
      raw_scores: { type: 'boolean' }, return_text: { type: 'boolean' }, ...truncation, ...model } } },
  }, (req, reply) => teiRerank(ctx, req, reply, req.body));

  app.post<{ Body: PredictBody }>('/predict', {
    config: { method: 'predict' },
    schema: { body: { type: 'object', required: ['inputs'], properties: {
      inputs: { anyOf: [{ type: 'string' }, { type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] } }] },
      raw_scores: { type: 'boolean' }, ...truncation, ...model } } },
  }, (req, reply) => teiPredict(ctx, req, reply, req.body));

  app.post<{ Body: EmbedBody }>('/embed', {
    config: { method: 'embed' },
    schema: { body: { type: 'object', required: ['inputs'], properties: {
      inputs: stringOrList, normalize: { type: 'boolean' }, dimensions: { type: 'integer', minimum: 1 },
      prompt_name: { type: ['string', 'null'] }, ...truncation, ...model } } },
  }, (req, reply) => teiEmbed(ctx, req, reply, req.body));

  app.post<{ Body: TokenizeBody }>('/tokenize', {
    config: { method: 'tokenize' },
    schema: { body: { type: 'object', required: ['inputs'], properties: {
      inputs: stringOrList, add_special_tokens: { type: 'boolean' }, prompt_name: { type: ['string', 'null'] }, ...model } } },
  }, (req, reply) => teiTokenize(ctx, req, reply, req.body));

  app.get<{ Querystring: { model?: string } }>('/info', {
    schema: { querystring: { type: 'object', properties: model } },
  }, async (req) => {
    const m = req.query.model !== undefined ? ctx.options.models.find((x) => x.name === req.query.model) : ctx.options.models[0];
    if (!m) throw new HttpError('NotFound', `no model named "${req.query.model}"`);
    return teiInfo(ctx, m);
  });
}

export { teiEmbed, teiPredict };
export type { EmbedBody, PredictBody, RerankBody };
