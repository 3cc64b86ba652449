// Peer: transformers.js (@huggingface/transformers v4), offline from the local model folder.
// AutoTokenizer called with `text_pair` (padding to the longest in the batch, truncation on) +
// AutoModelForSequenceClassification; batches of `batch` pairs in input order; sigmoid on the logits
// (as sentence-transformers' CrossEncoder does for one label). Threads go through `session_options`,
// which transformers.js passes to onnxruntime-node's InferenceSession.create.
import path from 'node:path';
import { versionsWithOrt } from '../../package-version.mjs';
import { env, AutoTokenizer, AutoModelForSequenceClassification } from '@huggingface/transformers';

export const name = 'transformers.js';

export function versions() {
  return versionsWithOrt('@huggingface/transformers', 'transformers.js');
}

const sigmoid = (x) => 1 / (1 + Math.exp(-x));

export async function load(modelDir, { threads, batch, dtype, maxLength }) {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = path.dirname(modelDir) + path.sep;
  const id = path.basename(modelDir);
  const tokenizer = await AutoTokenizer.from_pretrained(id);
  const model = await AutoModelForSequenceClassification.from_pretrained(id, {
    device: 'cpu',
    dtype, // 'fp32' -> onnx/model.onnx, 'q8' -> onnx/model_quantized.onnx
    session_options: { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' },
  });

  async function predictPairs(pairs) {
    const scores = new Float32Array(pairs.length);
    for (let s = 0; s < pairs.length; s += batch) {
      const chunk = pairs.slice(s, s + batch);
      const inputs = tokenizer(chunk.map((p) => p[0]), { text_pair: chunk.map((p) => p[1]), padding: true, truncation: true, max_length: maxLength });
      const { logits } = await model(inputs);
      const data = logits.data; // [B, 1]
      for (let i = 0; i < chunk.length; i++) scores[s + i] = sigmoid(data[i]);
    }
    return scores;
  }

  async function rank(query, docs) {
    const scores = await predictPairs(docs.map((d) => [query, d]));
    return Array.from(scores, (score, index) => ({ index, score })).sort((a, b) => b.score - a.score || a.index - b.index);
  }

  return { predictPairs, rank, close: () => model.dispose() };
}
