// Hand-written peer: onnxruntime-node + tokenizers (Hugging Face's Rust tokenizer binding), written as a
// typical user would: batches of `batch` pairs in input order, each padded to its longest pair.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const { Tokenizer } = require('tokenizers');

export const name = 'onnxruntime-node + tokenizers';

export function versions() {
  return {
    'onnxruntime-node': require('onnxruntime-node/package.json').version,
    tokenizers: require('tokenizers/package.json').version,
  };
}

const sigmoid = (x) => 1 / (1 + Math.exp(-x));

export async function load(modelDir, { threads, batch, file, maxLength }) {
  const tok = Tokenizer.fromFile(path.join(modelDir, 'tokenizer.json'));
  tok.setTruncation(maxLength, { strategy: 'OnlySecond' });
  const session = await ort.InferenceSession.create(path.join(modelDir, 'onnx', file), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const inputNames = session.inputNames;

  async function scoreBatch(pairs) {
    // tokenizers@0.23's encodeBatch takes single strings only, so pairs go through encode(a, b)
    const encs = await Promise.all(pairs.map(([q, d]) => tok.encode(q, d)));
    const B = encs.length;
    const L = Math.max(...encs.map((e) => e.getIds().length)); // pad to the longest in the batch
    const ids = new BigInt64Array(B * L); // [PAD] = 0
    const mask = new BigInt64Array(B * L);
    const types = new BigInt64Array(B * L);
    encs.forEach((e, b) => {
      const o = b * L;
      e.getIds().forEach((v, i) => (ids[o + i] = BigInt(v)));
      e.getAttentionMask().forEach((v, i) => (mask[o + i] = BigInt(v)));
      e.getTypeIds().forEach((v, i) => (types[o + i] = BigInt(v)));
    });
    const all = { input_ids: ids, attention_mask: mask, token_type_ids: types };
    const feeds = {};
    for (const n of inputNames) feeds[n] = new ort.Tensor('int64', all[n], [B, L]);
    const out = await session.run(feeds);
    const logits = out.logits.data; // [B, 1]
    return Array.from(logits, sigmoid);
  }

  async function predictPairs(pairs) {
    const scores = new Float32Array(pairs.length);
    for (let s = 0; s < pairs.length; s += batch) {
      scores.set(await scoreBatch(pairs.slice(s, s + batch)), s);
    }
    return scores;
  }

  async function rank(query, docs) {
    const scores = await predictPairs(docs.map((d) => [query, d]));
    return Array.from(scores, (score, index) => ({ index, score })).sort((a, b) => b.score - a.score || a.index - b.index);
  }

  return { predictPairs, rank, close: () => session.release() };
}
