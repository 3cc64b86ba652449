// The HTTP server through real clients (cohere-ai, LangChain's CohereRerank, openai, undici): answers equal the
// library's own results; limits, back-pressure, disconnects, auth, metrics; SIGTERM drain in a child process.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { CohereClient, CohereClientV2 } from 'cohere-ai';
import { CohereRerank } from '@langchain/cohere';
import OpenAI from 'openai';
import { request } from 'undici';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CrossEncoder, PruningEncoder, SentenceEncoder } from '../lib/index';
import { createServer } from '../lib/server/app';
import { disposeModels, loadModels, ServedModel } from '../lib/server/models';
import { tokenCounts } from '../lib/server/ops';
import { FIXTURES, ROOT } from './helpers/reference';

const CE = path.join(FIXTURES, 'bert-ce-tiny');
const E5 = path.join(FIXTURES, 'e5-tiny');
const PRUNE = path.join(FIXTURES, 'pruning-bert-tiny');
const CLI = path.join(ROOT, 'dist/cjs/cli/main.js');

const query = 'what is the capital of france';
const docs = ['Berlin is in Germany.', 'Paris is the capital of France.', 'The Nile is a river.', 'France borders Spain.', 'Lyon is a French city.'];
const texts = ['hello world', 'the quick brown fox', 'Paris is the capital of France.'];

let models: ServedModel[];
let app: FastifyInstance;
let url: string;
let ce: CrossEncoder;
let enc: SentenceEncoder;
let pe: PruningEncoder;

async function post(route: string, body: unknown, headers: Record<string, string> = {}, base = url) {
  const r = await postWithHeaders(route, body, headers, base);
  return { status: r.status, body: r.body };
}

async function postWithHeaders(route: string, body: unknown, headers: Record<string, string> = {}, base = url) {
  const r = await request(base + route, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
  const text = await r.body.text();
  return { status: r.statusCode, body: text ? JSON.parse(text) : undefined, headers: r.headers };
}

/** The value of one metric line (labels as written), or 0 when absent. */
async function metric(name: string, labels = '', base = url): Promise<number> {
  const text = await (await request(base + '/metrics')).body.text();
  const line = text.split('\n').find((l) => l.startsWith(labels ? `${name}{${labels}}` : `${name} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/** Polls `check` until it holds (a guard against hanging, not a timing assertion: it gives up after 3,000 tries). */
async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; !(await check()); i++) {
    if (i > 3000) throw new Error('gave up waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  models = await loadModels([{ name: 'ce', id: CE }, { name: 'e5', id: E5 }, { name: 'pruner', id: PRUNE }]);
  app = createServer({ models, maxClientBatchSize: 64 });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
  ce = await CrossEncoder.load(CE);
  enc = await SentenceEncoder.load(E5);
  pe = await PruningEncoder.load(PRUNE);
});

afterAll(async () => {
  await app?.close();
  if (models) await disposeModels(models);
  ce?.dispose();
  enc?.dispose();
  pe?.dispose();
});

describe('real clients', () => {
  it('cohere-ai v1 rerank equals CrossEncoder.rank', async () => {
    const client = new CohereClient({ token: 'unused', environment: url });
    const r = await client.rerank({ model: 'ce', query, documents: docs, topN: 3, returnDocuments: true });
    const expected = (await ce.rank(query, docs)).slice(0, 3);
    expect(r.results.map((x) => [x.index, x.relevanceScore, x.document?.text])).toEqual(expected.map((x) => [x.index, x.score, docs[x.index]]));
  });

  it('cohere-ai v2 rerank equals CrossEncoder.rank', async () => {
    const client = new CohereClientV2({ token: 'unused', environment: url });
    const r = await client.rerank({ model: 'rerank-v3.5', query, documents: docs });
    const expected = await ce.rank(query, docs);
    expect(r.results.map((x) => [x.index, x.relevanceScore])).toEqual(expected.map((x) => [x.index, x.score]));
  });

  it("LangChain's CohereRerank pointed at the server", async () => {
    const reranker = new CohereRerank({ client: new CohereClient({ token: 'unused', environment: url }), model: 'ce', topN: 2 });
    const r = await reranker.rerank(docs, query);
    const expected = (await ce.rank(query, docs)).slice(0, 2);
    expect(r).toEqual(expected.map((x) => ({ index: x.index, relevanceScore: x.score })));
  });

  it('openai embeddings.create (base64 by default, and float) equals SentenceEncoder.encode', async () => {
    const client = new OpenAI({ apiKey: 'unused', baseURL: url + '/v1' });
    const expected = (await enc.encode(texts)).toArray().map((r) => Array.from(r));
    const b64 = await client.embeddings.create({ model: 'e5', input: texts });
    expect(b64.data.map((d) => d.embedding)).toEqual(expected);
    expect(b64.usage.prompt_tokens).toBeGreaterThan(texts.length * 2);
    const float = await client.embeddings.create({ model: 'e5', input: texts[0], encoding_format: 'float', dimensions: 8 });
    const cut = (await enc.encode([texts[0]], { dimensions: 8 })).toArray()[0];
    expect(float.data[0].embedding).toEqual(Array.from(cut));
    expect(float.data[0].embedding).toHaveLength(8);
  });

  it('TEI routes through undici: /rerank, /predict, /embed, /tokenize, /info, /health', async () => {
    const ranked = await post('/rerank', { query, texts: docs, return_text: true });
    expect(ranked.status).toBe(200);
    expect(ranked.body).toEqual((await ce.rank(query, docs)).map((x) => ({ index: x.index, text: docs[x.index], score: x.score })));

    const raw = await post('/rerank', { query, texts: docs, raw_scores: true });
    const logits = await (await CrossEncoder.load(CE, { activation: 'none' })).rank(query, docs);
    expect(raw.body).toEqual(logits.map((x) => ({ index: x.index, score: x.score })));

    const pairs = docs.map((d) => [query, d] as [string, string]);
    const predicted = await post('/predict', { inputs: pairs });
    const scores = await ce.predict(pairs);
    expect(predicted.body).toEqual(Array.from(scores, (s) => [{ score: s, label: 'LABEL_0' }]));
    expect((await post('/predict', { inputs: pairs[0] })).body).toEqual([{ score: scores[0], label: 'LABEL_0' }]);

    const embedded = await post('/embed', { inputs: texts });
    expect(embedded.body).toEqual((await enc.encode(texts, { normalize: true })).toArray().map((r) => Array.from(r)));

    const tokens = await post('/tokenize', { inputs: 'hello world', model: 'ce' });
    expect(tokens.body).toEqual([[
      { id: 101, text: '[CLS]', special: true, start: null, stop: null },
      { id: 7592, text: 'hello', special: false, start: 0, stop: 5 },
      { id: 2088, text: 'world', special: false, start: 6, stop: 11 },
      { id: 102, text: '[SEP]', special: true, start: null, stop: null },
    ]]);

    const info = await request(url + '/info');
    const body = (await info.body.json()) as Record<string, any>;
    expect(body.model_id).toBe(CE);
    expect(body.model_type).toEqual({ reranker: { id2label: { 0: 'LABEL_0' }, label2id: { LABEL_0: 0 } } });
    expect(body.max_client_batch_size).toBe(64);
    expect(body.models.map((m: { name: string; task: string }) => [m.name, m.task])).toEqual([['ce', 'rerank'], ['e5', 'embed'], ['pruner', 'prune']]);
    expect((await request(url + '/health')).statusCode).toBe(200);
  });

  it('SageMaker /invocations {"pairs"} -> {"scores"}, /ping', async () => {
    const pairs = docs.map((d) => [query, d] as [string, string]);
    const r = await post('/invocations', { pairs });
    expect(r).toEqual({ status: 200, body: { scores: Array.from(await ce.predict(pairs)) } });
    expect((await post('/invocations', { query, texts: docs })).body[0].index).toBe((await ce.rank(query, docs))[0].index);
    expect((await request(url + '/ping')).statusCode).toBe(200);
  });

  it('/prune equals PruningEncoder.prune', async () => {
    const documents = ['Paris is the capital of France. The Nile is a river in Africa.', 'Bananas are yellow.'];
    const r = await post('/prune', { query, texts: documents, model: 'pruner' });
    const expected = await pe.prune(query, documents);
    expect(r.body).toEqual(expected.map((x, index) => ({
      index, score: x.rankingScore, pruned_text: x.prunedDocument, compression_ratio: x.compressionRatio,
      tokens_removed: x.tokensRemoved, kept_spans: x.keptSpans,
    })));
  });
});

describe('review fixes: Jina defaults, /info paths', () => {
  it('/v1/rerank returns the documents unless told not to (Jina\'s default); /v2/rerank does not', async () => {
    const expected = await ce.rank(query, docs);
    const v1 = await post('/v1/rerank', { query, documents: docs, top_n: 2 });
    expect(v1.status).toBe(200);
    expect(v1.body.results).toEqual(expected.slice(0, 2).map((x) => ({ index: x.index, relevance_score: x.score, document: { text: docs[x.index] } })));
    const without = await post('/v1/rerank', { query, documents: docs, top_n: 2, return_documents: false });
    expect(without.body.results).toEqual(expected.slice(0, 2).map((x) => ({ index: x.index, relevance_score: x.score })));
    const v2 = await post('/v2/rerank', { query, documents: docs, top_n: 2 });
    expect(v2.body.results).toEqual(expected.slice(0, 2).map((x) => ({ index: x.index, relevance_score: x.score })));
  });

  it('/info names each model\'s files relative to its folder, not by the server\'s absolute paths', async () => {
    const body = (await (await request(url + '/info')).body.json()) as Record<string, any>;
    expect(body.model_id).toBe(CE); // TEI's model_id: the folder or hub id as given
    const dirs: Record<string, string> = { ce: CE, e5: E5, pruner: PRUNE };
    for (const m of body.models as Array<{ name: string; id: string; file: string; source: { file: string } }>) {
      expect(path.isAbsolute(m.file), m.file).toBe(false);
      expect(existsSync(path.join(dirs[m.name], m.file)), m.file).toBe(true);
      expect(path.isAbsolute(m.source.file)).toBe(false);
    }
    const { model_id: _id, models: listed, ...rest } = body;
    const withoutIds = { ...rest, models: listed.map(({ id: _mid, ...m }: { id: string }) => m) };
    expect(JSON.stringify(withoutIds)).not.toContain(FIXTURES);
  });
});

describe('metrics: queue, tokenization and inference time (TEI names)', () => {
  const count = (name: string, method: string, base = url) => metric(`${name}_count`, `method="${method}"`, base);

  it('each request observes what it did: a model call (queue + inference), the server tokenizing (tokenization)', async () => {
    const names = ['te_request_queue_duration', 'te_request_inference_duration', 'te_request_tokenization_duration'] as const;
    const snapshot = async (method: string) => Promise.all(names.map((n) => count(n, method)));
    const delta = async (method: string, send: () => Promise<{ status: number }>) => {
      const before = await snapshot(method);
      expect((await send()).status).toBe(200);
      const after = await snapshot(method);
      return after.map((x, i) => x - before[i]);
    };
    // The library tokenizes a rerank itself: one model call, no tokenizing by the server.
    expect(await delta('rerank', () => post('/rerank', { query, texts: docs }))).toEqual([1, 1, 0]);
    // Truncation off: the server counts tokens first (one tokenization), then the model call.
    expect(await delta('rerank', () => post('/rerank', { query, texts: docs, truncate: false }))).toEqual([1, 1, 1]);
    // /tokenize is tokenization only; max_tokens_per_doc cuts the documents before the model call.
    expect(await delta('tokenize', () => post('/tokenize', { inputs: texts, model: 'ce' }))).toEqual([0, 0, 1]);
    expect(await delta('rerank_v1', () => post('/v1/rerank', { query, documents: docs, max_tokens_per_doc: 3 }))).toEqual([1, 1, 1]);
    expect(await delta('openai_embeddings', () => post('/v1/embeddings', { input: texts, model: 'e5' }))).toEqual([1, 1, 1]);
    const text = await (await request(url + '/metrics')).body.text();
    for (const n of names) expect(text).toContain(`# TYPE ${n} histogram`);
  });

  it('te_request_queue_duration holds the time a request waited behind another call on its model', async () => {
    // Requests wait in the model's queue when they do not share batches (with batchAcrossCalls, the default, a
    // second request joins the running one's next round instead of waiting for it to end).
    const own = await loadModels([{ name: 'ce', id: CE }], { batchAcrossCalls: false });
    const busy = createServer({ models: own, maxClientBatchSize: 100_000, payloadLimit: 10_000_000 });
    const base = await busy.listen({ port: 0, host: '127.0.0.1' });
    try {
      const many = Array.from({ length: 60_000 }, (_, i) => `document number ${i} about something`);
      const controller = new AbortController();
      const slow = request(base + '/rerank', { method: 'POST', body: JSON.stringify({ query, texts: many }), headers: { 'content-type': 'application/json' }, signal: controller.signal });
      slow.catch(() => undefined);
      const model = own[0].model;
      await until(async () => model.counters().running === 1);
      const waiting = post('/rerank', { query, texts: docs }, {}, base);
      // Two sightings of the second call still in the queue bound its wait from below.
      await until(async () => model.counters().queued === 1);
      const first = process.hrtime.bigint();
      for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 20));
      expect(model.counters().queued).toBe(1);
      const last = process.hrtime.bigint();
      controller.abort(); // the slow call stops (not observed: it failed), and the waiting one runs
      const answer = await waiting;
      expect(answer.status).toBe(200);
      expect(await count('te_request_queue_duration', 'rerank', base)).toBe(1);
      expect(await metric('te_request_queue_duration_sum', 'method="rerank"', base)).toBeGreaterThanOrEqual(Number(last - first) / 1e9);
    } finally {
      await busy.close();
      await disposeModels(own);
    }
  });
});

describe('raw scores and token counts', () => {
  it('raw_scores answers equal the logits, run by the one model served (no second copy loaded)', async () => {
    const load = vi.spyOn(CrossEncoder, 'load');
    const logitsModel = await CrossEncoder.load(CE, { activation: 'none' });
    load.mockClear();
    try {
      const pairs = docs.map((d) => [query, d] as [string, string]);
      const logits = await logitsModel.predict(pairs);
      const rows0 = await metric('winnow_model_rows', 'model="ce"');
      const ranked = await post('/rerank', { query, texts: docs, raw_scores: true });
      expect(ranked.body).toEqual((await logitsModel.rank(query, docs)).map((x) => ({ index: x.index, score: x.score })));
      const predicted = await post('/predict', { inputs: pairs, raw_scores: true });
      expect(predicted.body).toEqual(Array.from(logits, (s) => [{ score: s, label: 'LABEL_0' }]));
      const invoked = await post('/invocations', { pairs, raw_scores: true });
      expect(invoked.body).toEqual({ scores: Array.from(logits) });
      // The served model ran all three requests' rows itself, and nothing was loaded on the way.
      expect(await metric('winnow_model_rows', 'model="ce"')).toBe(rows0 + 3 * docs.length);
      expect(load).not.toHaveBeenCalled();
      // Scores without raw_scores still have the model's activation.
      expect((await post('/predict', { inputs: pairs[0] })).body).toEqual([{ score: (await ce.predict([pairs[0]]))[0], label: 'LABEL_0' }]);
    } finally {
      load.mockRestore();
      logitsModel.dispose();
    }
  });

  it('token counts: a single text among pairs counts as it does alone (no empty pair added)', async () => {
    const m = models[0];
    const alone = await tokenCounts(m, ['hello world', 'the quick brown fox'], false);
    const pair = await tokenCounts(m, [['hello', 'world']], false);
    expect(await tokenCounts(m, ['hello world', ['hello', 'world'], 'the quick brown fox'], false)).toEqual([alone[0], pair[0], alone[1]]);
  });
});

describe('limits and errors (TEI bodies and status codes)', () => {
  it('413 past the batch limit, 400 for an empty batch, 422 for a body the schema refuses', async () => {
    const many = await post('/rerank', { query, texts: Array(65).fill('x') });
    expect(many).toEqual({ status: 413, body: { error: 'batch size 65 > maximum allowed batch size 64 (max_client_batch_size)', error_type: 'Validation' } });
    expect(await post('/rerank', { query, texts: [] })).toEqual({ status: 400, body: { error: '`texts` cannot be empty', error_type: 'Empty' } });
    const bad = await post('/rerank', { query, texts: 'not a list' });
    expect(bad.status).toBe(422);
    expect(bad.body.error_type).toBe('Validation');
    expect((await post('/embed', { inputs: 'x', truncation_direction: 'left' })).status).toBe(422);
  });

  it('413 for a body over the payload limit', async () => {
    const small = createServer({ models, payloadLimit: 1000 });
    const base = await small.listen({ port: 0, host: '127.0.0.1' });
    try {
      const r = await post('/rerank', { query, texts: ['x'.repeat(2000)] }, {}, base);
      expect(r).toEqual({ status: 413, body: { error: 'the request body is larger than the payload limit of 1000 bytes (payload_limit)', error_type: 'Validation' } });
    } finally {
      await small.close();
    }
  });

  it('413 for an input longer than the model maximum when truncation is off (truncate: false)', async () => {
    const long = 'word '.repeat(600);
    const r = await post('/rerank', { query, texts: [long], truncate: false });
    expect(r.status).toBe(413);
    expect(r.body.error).toMatch(/^`inputs` must have less than 512 tokens\. Given: 60\d/);
    expect((await post('/rerank', { query, texts: [long] })).status).toBe(200); // auto-truncate by default
  });

  it('401 without the bearer token when one is set; /health stays open', async () => {
    const locked = createServer({ models, apiKey: 'sesame' });
    const base = await locked.listen({ port: 0, host: '127.0.0.1' });
    try {
      expect((await post('/rerank', { query, texts: docs }, {}, base)).status).toBe(401);
      expect((await post('/rerank', { query, texts: docs }, { authorization: 'Bearer wrong' }, base)).status).toBe(401);
      const client = new CohereClient({ token: 'sesame', environment: base });
      expect((await client.rerank({ query, documents: docs })).results).toHaveLength(docs.length);
      expect((await request(base + '/health')).statusCode).toBe(200);
      // The exemption is for the route, whatever the query string; other routes stay locked whatever theirs says.
      expect((await request(base + '/health?x=1')).statusCode).toBe(200);
      expect((await request(base + '/ping?probe=1')).statusCode).toBe(200);
      expect((await request(base + '/info?/health')).statusCode).toBe(401);
      expect((await request(base + '/metrics')).statusCode).toBe(401);
      expect((await post('/rerank', { query, texts: docs }, { authorization: 'Bearer sesamf' }, base)).status).toBe(401);
    } finally {
      await locked.close();
    }
  });

  it('an empty API key is refused at startup (it would lock every client out, or let any in)', async () => {
    expect(() => createServer({ models, apiKey: '' })).toThrow(expect.objectContaining({
      code: 'INVALID_ARGUMENT', message: 'Expected a non-empty string for apiKey but received "" of type string',
    }));
  });

  it('429 past max_concurrent_requests, and a client that disconnects aborts its work', async () => {
    const busy = createServer({ models, maxConcurrentRequests: 1, maxClientBatchSize: 100_000, payloadLimit: 10_000_000 });
    const base = await busy.listen({ port: 0, host: '127.0.0.1' });
    try {
      const many = Array.from({ length: 60_000 }, (_, i) => `document number ${i} about something`);
      const controller = new AbortController();
      const slow = request(base + '/rerank', { method: 'POST', body: JSON.stringify({ query, texts: many }), headers: { 'content-type': 'application/json' }, signal: controller.signal });
      slow.catch(() => undefined);
      await until(async () => (await metric('winnow_requests_in_flight', '', base)) === 1);
      const refused = await post('/rerank', { query, texts: docs }, {}, base);
      expect(refused).toEqual({ status: 429, body: { error: 'Model is overloaded: 1 requests at work (max_concurrent_requests)', error_type: 'Overloaded' } });
      expect(await metric('te_request_failure', 'err="overloaded"', base)).toBe(1);
      controller.abort();
      await until(async () => (await metric('winnow_requests_in_flight', '', base)) === 0);
      // The work stopped (the library call rejected ABORTED) rather than running to its end unread.
      expect(await metric('te_request_failure', 'err="aborted"', base)).toBe(1);
      expect(await metric('te_request_success', 'method="rerank"', base)).toBe(0);
      expect(models[0].model.counters()).toMatchObject({ queued: 0, running: 0 });
      expect((await post('/rerank', { query, texts: docs }, {}, base)).status).toBe(200);
    } finally {
      await busy.close();
    }
  });

  it('/tokenize counts against max_concurrent_requests: 429 while the bound is full', async () => {
    const busy = createServer({ models, maxConcurrentRequests: 1, maxClientBatchSize: 100_000, payloadLimit: 10_000_000 });
    const base = await busy.listen({ port: 0, host: '127.0.0.1' });
    try {
      const many = Array.from({ length: 60_000 }, (_, i) => `document number ${i} about something`);
      const controller = new AbortController();
      const slow = request(base + '/rerank', { method: 'POST', body: JSON.stringify({ query, texts: many }), headers: { 'content-type': 'application/json' }, signal: controller.signal });
      slow.catch(() => undefined);
      await until(async () => (await metric('winnow_requests_in_flight', '', base)) === 1);
      const refused = await post('/tokenize', { inputs: many.slice(0, 1000), model: 'ce' }, {}, base);
      expect(refused).toEqual({ status: 429, body: { error: 'Model is overloaded: 1 requests at work (max_concurrent_requests)', error_type: 'Overloaded' } });
      // So is Cohere's max_tokens_per_doc, which tokenizes too.
      expect((await post('/v1/rerank', { query, documents: docs, max_tokens_per_doc: 3 }, {}, base)).status).toBe(429);
      controller.abort();
      await until(async () => (await metric('winnow_requests_in_flight', '', base)) === 0);
      const tokens = await post('/tokenize', { inputs: ['hello world', 'the quick brown fox'], model: 'ce' }, {}, base);
      expect(tokens.status).toBe(200);
      expect(tokens.body.map((t: Array<{ id: number }>) => t.map((x) => x.id))).toEqual(['hello world', 'the quick brown fox'].map((t) => Array.from(models[0].tokenizer.encode(t).ids)));
    } finally {
      await busy.close();
    }
  });

  it('/tokenize and max_tokens_per_doc tokenize with encodeBatch (native threads), never the synchronous encode', async () => {
    const tokenizer = models[0].tokenizer;
    const sync = vi.spyOn(tokenizer, 'encode');
    const batch = vi.spyOn(tokenizer, 'encodeBatch');
    try {
      expect((await post('/tokenize', { inputs: texts, model: 'ce' })).status).toBe(200);
      expect((await post('/v1/rerank', { query, documents: docs, max_tokens_per_doc: 3 })).status).toBe(200);
      expect(sync).not.toHaveBeenCalled();
      expect(batch).toHaveBeenCalledTimes(2);
    } finally {
      sync.mockRestore();
      batch.mockRestore();
    }
  });

  it('max_tokens_per_doc ranks the documents cut to that many tokens', async () => {
    const long = ['Paris is the capital of France and its largest city.', 'Berlin is in Germany, a country in Europe.'];
    const cut = ['Paris is the', 'Berlin is in'];
    const r = await post('/v2/rerank', { query, documents: long, max_tokens_per_doc: 3 });
    expect(r.body.results).toEqual((await ce.rank(query, cut)).map((x) => ({ index: x.index, relevance_score: x.score })));
  });

  it('/metrics: TEI names', async () => {
    await post('/rerank', { query, texts: docs });
    const text = await (await request(url + '/metrics')).body.text();
    for (const name of ['te_request_count', 'te_request_success', 'te_request_duration_bucket', 'te_inference_duration_bucket', 'te_batch_size_bucket', 'te_queue_size', 'winnow_model_tokens']) {
      expect(text).toContain(name);
    }
    expect(await metric('te_request_count', 'method="rerank"')).toBeGreaterThan(0);
  });
});

describe('winnow serve in a child process', () => {
  it('SIGTERM drains: every accepted request is answered, then the process exits 0', async () => {
    const child = spawn(process.execPath, [CLI, 'serve', `ce=${CE}`, '--port', '0', '--host', '127.0.0.1', '--max-client-batch-size', '10000', '--log-level', 'silent'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await until(async () => /listening on (http:\/\/\S+)/.test(stderr));
      const base = /listening on (http:\/\/\S+)/.exec(stderr)![1];
      const many = Array.from({ length: 1000 }, (_, i) => `document ${i} on the subject`);
      const sent = Array.from({ length: 6 }, () => postWithHeaders('/rerank', { query, texts: many }, {}, base));
      await until(async () => (await metric('te_request_count', 'method="rerank"', base)) === 6);
      child.kill('SIGTERM');
      const answers = await Promise.all(sent);
      const expected = await ce.rank(query, many);
      for (const a of answers) {
        expect(a.status).toBe(200);
        expect(a.body).toEqual(expected.map((x) => ({ index: x.index, score: x.score })));
        // Answers given while draining close their connection, so no idle keep-alive connection holds the exit.
        expect(a.headers.connection).toBe('close');
      }
      expect(await exited).toBe(0);
      expect(stderr).toContain('drained');
      await expect(request(base + '/health')).rejects.toThrow();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it("an empty --api-key or WINNOW_API_KEY='' is an error at startup, before any model loads", () => {
    for (const [args, env] of [[['--api-key', ''], {}], [[], { WINNOW_API_KEY: '' }]] as const) {
      const r = spawnSync(process.execPath, [CLI, 'serve', `ce=${CE}`, '--port', '0', '--host', '127.0.0.1', '--log-level', 'silent', ...args],
        { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toContain('API key');
      expect(r.stderr).toContain('(INVALID_ARGUMENT)');
      expect(r.stderr).not.toContain('listening');
    }
  });
});
