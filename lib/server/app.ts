// The HTTP server: fastify with a JSON schema per route, the routes of text-embeddings-inference, Cohere, Jina,
// OpenAI and SageMaker over the public API, back-pressure (a bound on requests at work, 429 beyond it), payload and
// batch limits, client disconnects aborting their work, optional bearer-token auth and Prometheus metrics.
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import { isWinnowError } from '../index';
import { invalidArgument } from '../errors';
import { DEFAULTS } from './defaults';
import { ErrorType, HttpError } from './http-error';
import { Metrics } from './metrics';
import type { ServedModel, Task } from './models';
import { RequestTiming, timeCalls, withTiming } from './timing';
import { teiRoutes } from './routes-tei';
import { compatRoutes } from './routes-compat';

export interface ServerOptions {
  models: ServedModel[];
  /** Requests at work at once (all models, all routes); more are answered 429. Default 512 (TEI's). */
  maxConcurrentRequests?: number;
  /** Inputs (texts, pairs, documents) per request at most; more are answered 413. Default 32 (TEI's). */
  maxClientBatchSize?: number;
  /** Request body bytes at most; more are answered 413. Default 2,000,000 (TEI's). */
  payloadLimit?: number;
  /** When set, every route but /health and /ping needs `Authorization: Bearer <apiKey>`. An empty key is refused. */
  apiKey?: string;
  /** Truncate inputs longer than the model's maximum when a request does not say (`truncate`). Default true. */
  autoTruncate?: boolean;
  /** fastify's logger option (pino): false, true or pino options. Default false. */
  logger?: FastifyServerOptions['logger'];
}


/** The error body each family of clients expects. */
export type Family = 'tei' | 'openai' | 'cohere';
function errorBody(family: Family, e: HttpError): unknown {
  if (family === 'openai') return { error: { message: e.message, type: e.type, code: e.status } };
  if (family === 'cohere') return { message: e.message };
  return { error: e.message, error_type: e.type };
}

/** A library error as the HTTP error it means. */
function fromLibrary(e: unknown): HttpError {
  if (e instanceof HttpError) return e;
  if (isWinnowError(e)) {
    switch (e.code) {
      case 'QUERY_TOO_LONG': return new HttpError('Validation', e.message);
      case 'INVALID_ARGUMENT': return new HttpError('Validation', e.message, 422);
      case 'TOKENIZER_INVALID': case 'TOKENIZER_UNSUPPORTED': return new HttpError('Tokenizer', e.message);
      case 'DISPOSED': return new HttpError('Unhealthy', e.message);
      case 'INTERNAL': return new HttpError('Backend', e.message, 500);
      default: return new HttpError('Backend', e.message);
    }
  }
  return new HttpError('Backend', e instanceof Error ? e.message : String(e), 500);
}

export { HttpError };
export type { ErrorType };

export interface Ctx {
  readonly options: Required<Omit<ServerOptions, 'apiKey' | 'logger'>>;
  readonly metrics: Metrics;
  /** The model named `name` when one is (and can do `tasks`), else the first that can; 400 when none can. */
  pick(name: unknown, tasks: readonly Task[]): ServedModel;
  /**
   * Runs `work` as one inference request: counted, bounded (429), aborted when the client goes away, timed (its model
   * calls' queue and run time; tokenization the work does through `timing.tokenize`).
   */
  infer<T>(req: FastifyRequest, reply: FastifyReply, method: string, items: number, work: (signal: AbortSignal, timing: RequestTiming) => Promise<T>): Promise<T>;
  /** 413 past the batch limit, 400 for an empty batch (TEI's checks). */
  checkBatch(n: number, what: string): void;
  /** Whether inputs longer than the model's maximum are truncated (the request's `truncate`, else the server's default). */
  truncates(truncate: boolean | undefined): boolean;
}

/** Builds the server (not listening yet): `await app.listen({ port, host })`, `await app.close()` drains it. */
export function createServer(options: ServerOptions): FastifyInstance {
  const opts = {
    models: options.models,
    maxConcurrentRequests: options.maxConcurrentRequests ?? DEFAULTS.maxConcurrentRequests,
    maxClientBatchSize: options.maxClientBatchSize ?? DEFAULTS.maxClientBatchSize,
    payloadLimit: options.payloadLimit ?? DEFAULTS.payloadLimit,
    autoTruncate: options.autoTruncate ?? true,
  };
  if (opts.models.length === 0) throw new Error('createServer: no models');
  // An empty key would let no client in (or, compared loosely, any): refused rather than guessed at.
  if (options.apiKey !== undefined && (typeof options.apiKey !== 'string' || options.apiKey.length === 0)) {
    throw invalidArgument('a non-empty string', 'apiKey', options.apiKey, typeof options.apiKey === 'string' ? 'range' : 'type');
  }
  const expectedAuth = options.apiKey === undefined ? undefined : sha256(`Bearer ${options.apiKey}`);
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: opts.payloadLimit,
    // Strict schemas: no type coercion, unknown fields kept (clients send fields Winnow does not use, e.g. `user`).
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: true, allErrors: false } },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  const metrics = new Metrics(opts.models);
  for (const m of opts.models) timeCalls(m.model);
  let inFlight = 0;

  const ctx: Ctx = {
    options: opts,
    metrics,
    pick(name, tasks) {
      const named = typeof name === 'string' ? opts.models.find((m) => m.name === name) : undefined;
      if (named && tasks.includes(named.task)) return named;
      if (named) throw new HttpError('Validation', `model "${named.name}" is served for ${named.task}, not ${tasks.join(' or ')}`, 422);
      const first = opts.models.find((m) => tasks.includes(m.task));
      if (!first) throw new HttpError('Validation', `no model served here can ${tasks.join(' or ')} (served: ${opts.models.map((m) => `${m.name} (${m.task})`).join(', ')})`, 400);
      return first;
    },
    async infer(req, reply, method, items, work) {
      metrics.requestCount.inc({ method });
      if (inFlight >= opts.maxConcurrentRequests) {
        metrics.requestFailure.inc({ err: 'overloaded' });
        throw new HttpError('Overloaded', `Model is overloaded: ${opts.maxConcurrentRequests} requests at work (max_concurrent_requests)`);
      }
      inFlight++;
      metrics.inFlight.set(inFlight);
      const controller = new AbortController();
      // The response closes before it is written only when the client went away: stop the model's work then.
      const onClose = () => {
        if (!reply.raw.writableFinished) controller.abort(new Error('the client closed the connection'));
      };
      reply.raw.on('close', onClose);
      metrics.batchSize.observe({ method }, items);
      const started = process.hrtime.bigint();
      const timing = new RequestTiming();
      try {
        const result = await withTiming(timing, () => work(controller.signal, timing));
        metrics.inferenceDuration.observe({ method }, Number(process.hrtime.bigint() - started) / 1e9);
        if (timing.calls > 0) {
          metrics.queueDuration.observe({ method }, timing.queue);
          metrics.modelDuration.observe({ method }, timing.inference);
        }
        if (timing.tokenizations > 0) metrics.tokenizationDuration.observe({ method }, timing.tokenization);
        metrics.requestSuccess.inc({ method });
        return result;
      } catch (e) {
        metrics.requestFailure.inc({ err: controller.signal.aborted ? 'aborted' : e instanceof HttpError ? e.type.toLowerCase() : 'backend' });
        throw e;
      } finally {
        inFlight--;
        metrics.inFlight.set(inFlight);
        reply.raw.off('close', onClose);
      }
    },
    checkBatch(n, what) {
      if (n === 0) throw new HttpError('Empty', `\`${what}\` cannot be empty`);
      if (n > opts.maxClientBatchSize) {
        throw new HttpError('Validation', `batch size ${n} > maximum allowed batch size ${opts.maxClientBatchSize} (max_client_batch_size)`);
      }
    },
    truncates(truncate) {
      return truncate ?? opts.autoTruncate;
    },
  };

  app.addHook('onRequest', async (req, reply) => {
    const started = process.hrtime.bigint();
    (req as unknown as { started: bigint }).started = started;
    // The exemption goes by the matched route, so a query string (/health?x=1) does not change it.
    const route = req.routeOptions.url;
    if (expectedAuth === undefined || route === '/health' || route === '/ping') return;
    // Digests of equal length compared in constant time: the time taken says nothing about the key.
    if (!timingSafeEqual(sha256(req.headers.authorization ?? ''), expectedAuth)) {
      const family = familyOf(req.url);
      reply.code(401).send(errorBody(family, new HttpError('Unauthorized', 'a valid bearer token is required (Authorization: Bearer <key>)')));
    }
  });
  // While draining, answers close their connections: a keep-alive connection that was busy when close() began would
  // otherwise hold the process until the keep-alive timeout.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_req, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (req, reply) => {
    const started = (req as unknown as { started?: bigint }).started;
    const method = (reply.request.routeOptions.config as { method?: string }).method;
    if (started !== undefined && method) metrics.requestDuration.observe({ method }, Number(process.hrtime.bigint() - started) / 1e9);
  });

  app.setErrorHandler((err: Error & { validation?: unknown; statusCode?: number; code?: string }, req, reply) => {
    const family = familyOf(req.url);
    let e: HttpError;
    if (err.validation) e = new HttpError('Validation', `Input validation error: ${err.message}`, 422);
    else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') e = new HttpError('Validation', `the request body is larger than the payload limit of ${opts.payloadLimit} bytes (payload_limit)`);
    else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') e = new HttpError('Validation', err.message, 415);
    else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 && !(err instanceof HttpError) && !isWinnowError(err)) {
      e = new HttpError('Validation', err.message, err.statusCode);
    } else e = fromLibrary(err);
    if (reply.raw.destroyed) return; // the client is gone (its work was aborted): nothing to answer
    if (e.status >= 500) req.log.error({ err }, 'request failed');
    reply.code(e.status).send(errorBody(family, e));
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(errorBody(familyOf(req.url), new HttpError('NotFound', `no route ${req.method} ${req.url}`)));
  });

  app.get('/health', async (_req, reply) => reply.code(200).send());
  app.get('/ping', async (_req, reply) => reply.code(200).send());
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  teiRoutes(app, ctx);
  compatRoutes(app, ctx);
  return app;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function familyOf(url: string): Family {
  if (url.startsWith('/v1/embeddings')) return 'openai';
  if (url.startsWith('/v1/rerank') || url.startsWith('/v2/rerank')) return 'cohere';
  return 'tei';
}
