// The transformers.js baseline: node:http + @huggingface/transformers (AutoTokenizer + AutoModelForSequenceClassification)
// on the same ONNX model folder, as a user would write it: one forward pass per request over its (query, text) pairs,
// sigmoid on the one logit (sentence-transformers' CrossEncoder default), best first. No bound, no limits, no metrics.
// Prints its URL on stdout. Usage: node transformersjs-http.mjs MODEL_DIR [THREADS]
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { env, AutoTokenizer, AutoModelForSequenceClassification } from '@huggingface/transformers';

const dir = path.resolve(process.argv[2]);
const threads = Number(process.argv[3] ?? os.cpus().length);
// Offline, from the folder (its onnx/model.onnx): transformers.js finds models as <localModelPath>/<id>/.
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(dir) + path.sep;
const id = path.basename(dir);
const tokenizer = await AutoTokenizer.from_pretrained(id);
const model = await AutoModelForSequenceClassification.from_pretrained(id, {
  device: 'cpu', dtype: 'fp32',
  session_options: { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' },
});

async function rank(query, texts) {
  const inputs = tokenizer(texts.map(() => query), { text_pair: texts, padding: true, truncation: true });
  const { logits } = await model(inputs);
  const data = logits.data; // [texts.length, 1]
  return texts.map((_, index) => ({ index, score: 1 / (1 + Math.exp(-data[index])) })).sort((a, b) => b.score - a.score || a.index - b.index);
}

const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', async () => {
    try {
      const { query, texts } = JSON.parse(body);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(await rank(query, texts)));
    } catch (e) {
      res.writeHead(422, { 'content-type': 'application/json' }).end(JSON.stringify({ error: e.message }));
    }
  });
});
server.listen(0, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${server.address().port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
