// Prometheus metrics named as text-embeddings-inference names them (te_*), so its dashboards read Winnow's too,
// plus the models' own counters (batches, rows, tokens) read at scrape time.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ServedModel } from './models';

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384];

export class Metrics {
  readonly registry = new Registry();
  readonly requestCount = new Counter({ name: 'te_request_count', help: 'Inference requests received', labelNames: ['method'], registers: [this.registry] });
  readonly requestSuccess = new Counter({ name: 'te_request_success', help: 'Inference requests answered', labelNames: ['method'], registers: [this.registry] });
  readonly requestFailure = new Counter({ name: 'te_request_failure', help: 'Inference requests failed, by reason', labelNames: ['err'], registers: [this.registry] });
  readonly requestDuration = new Histogram({ name: 'te_request_duration', help: 'Seconds from the request being read to its answer', labelNames: ['method'], buckets: DURATION_BUCKETS, registers: [this.registry] });
  readonly inferenceDuration = new Histogram({ name: 'te_inference_duration', help: "Seconds of the request's work (the server's tokenizing, waiting on the model, inference)", labelNames: ['method'], buckets: DURATION_BUCKETS, registers: [this.registry] });
  // TEI's per-request split of the work: waiting in the model's call queue, the model run, and tokenizing (only where
  // the server tokenizes itself: /tokenize, max_tokens_per_doc, length checks with truncation off, OpenAI usage).
  readonly queueDuration = new Histogram({ name: 'te_request_queue_duration', help: "Seconds a request's model calls waited in the model's call queue before they started", labelNames: ['method'], buckets: DURATION_BUCKETS, registers: [this.registry] });
  readonly modelDuration = new Histogram({ name: 'te_request_inference_duration', help: "Seconds a request's model calls ran, from leaving the queue to their result", labelNames: ['method'], buckets: DURATION_BUCKETS, registers: [this.registry] });
  readonly tokenizationDuration = new Histogram({ name: 'te_request_tokenization_duration', help: 'Seconds the server spent tokenizing for a request', labelNames: ['method'], buckets: DURATION_BUCKETS, registers: [this.registry] });
  readonly batchSize = new Histogram({ name: 'te_batch_size', help: 'Inputs per request (texts, pairs or documents)', labelNames: ['method'], buckets: SIZE_BUCKETS, registers: [this.registry] });
  readonly inFlight = new Gauge({ name: 'winnow_requests_in_flight', help: 'Inference requests accepted and not yet answered', registers: [this.registry] });

  constructor(models: ServedModel[]) {
    // Read from the models when scraped: calls waiting on a model, and what each has run since it loaded.
    const counters = () => models.map((m) => ({ m, c: m.model.counters() as ReturnType<ServedModel['model']['counters']> & Partial<Record<'batches' | 'rows' | 'tokens' | 'paddedTokens', number>> }));
    new Gauge({
      name: 'te_queue_size', help: 'Calls waiting on the models', registers: [this.registry],
      collect() { this.set(counters().reduce((s, { c }) => s + c.queued, 0)); },
    });
    const perModel = (name: string, help: string, key: 'batches' | 'rows' | 'tokens' | 'paddedTokens') => new Gauge({
      name, help, labelNames: ['model'], registers: [this.registry],
      collect() {
        for (const { m, c } of counters()) if (c[key] !== undefined) this.set({ model: m.name }, c[key]!);
      },
    });
    perModel('winnow_model_batches', 'Inference batches run since load', 'batches');
    perModel('winnow_model_rows', 'Rows (pairs, texts, blocks) run since load', 'rows');
    perModel('winnow_model_tokens', 'Real tokens run since load', 'tokens');
    perModel('winnow_model_padded_tokens', 'Rows x padded length run since load (tokens / padded tokens is the padding efficiency)', 'paddedTokens');
  }
}
