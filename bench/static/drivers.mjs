// Static-embedding drivers: load(modelDir, { threads }) -> { run(texts) -> Promise<number rows>, close }.
//   winnow           StaticModel.encode (native threads)
//   winnow-tokenize  StaticModel.countTokens: the same path without the table lookups (tokenize only)
//   transformers.js  model2vec's ONNX graph (EmbeddingBag over flat input_ids + offsets) called directly
//                    with transformers.js's tokenizer, as the potion model cards show
//   plain-js         npm `tokenizers` (Rust) encodeBatch + mean / normalise in JavaScript
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);

async function winnowModel(modelDir, threads) {
  const { StaticModel } = require(path.join(root, 'dist', 'cjs', 'index.js'));
  return StaticModel.load(modelDir, { threads });
}

export const drivers = {
  async winnow(modelDir, { threads }) {
    const m = await winnowModel(modelDir, threads);
    return { run: async (texts) => (await m.encode(texts)).rows, close: () => m.dispose() };
  },

  async 'winnow-tokenize'(modelDir, { threads }) {
    const m = await winnowModel(modelDir, threads);
    return { run: async (texts) => (await m.countTokens(texts)).length, close: () => m.dispose() };
  },

  async 'transformers.js'(modelDir, { threads }) {
    const { env, AutoModel, AutoTokenizer, Tensor } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = path.dirname(modelDir) + path.sep;
    const id = path.basename(modelDir);
    const tokenizer = await AutoTokenizer.from_pretrained(id);
    const model = await AutoModel.from_pretrained(id, {
      config: { model_type: 'model2vec' },
      dtype: 'fp32',
      device: 'cpu',
      session_options: { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' },
    });
    const batch = 1024;
    async function run(texts) {
      let rows = 0;
      for (let s = 0; s < texts.length; s += batch) {
        const chunk = texts.slice(s, s + batch);
        const { input_ids } = tokenizer(chunk, { add_special_tokens: false, return_tensor: false, truncation: true, max_length: 512 });
        const offsets = [];
        let total = 0;
        for (const ids of input_ids) {
          offsets.push(BigInt(total));
          total += ids.length;
        }
        const flat = new BigInt64Array(total);
        let k = 0;
        for (const ids of input_ids) for (const id of ids) flat[k++] = BigInt(id);
        const { embeddings } = await model({
          input_ids: new Tensor('int64', flat, [total]),
          offsets: new Tensor('int64', BigInt64Array.from(offsets), [offsets.length]),
        });
        rows += embeddings.dims[0];
      }
      return rows;
    }
    return { run, close: () => model.dispose() };
  },

  async 'plain-js'(modelDir) {
    const { Tokenizer } = require('tokenizers');
    const tok = Tokenizer.fromFile(path.join(modelDir, 'tokenizer.json'));
    const buf = fs.readFileSync(path.join(modelDir, 'model.safetensors'));
    const n = Number(buf.readBigUInt64LE(0));
    const t = JSON.parse(buf.subarray(8, 8 + n).toString()).embeddings;
    const start = 8 + n + t.data_offsets[0];
    const table = new Float32Array(buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + 8 + n + t.data_offsets[1]));
    const dim = t.shape[1];
    const unk = tok.tokenToId('[UNK]');
    const median = 6; // computed once below from the vocabulary
    const lens = Object.keys(tok.getVocab(true)).map((s) => [...s].length).sort((a, b) => a - b);
    const med = Math.trunc((lens[(lens.length - 1) >> 1] + lens[lens.length >> 1]) / 2) || median;
    async function run(texts) {
      const encs = await tok.encodeBatch(texts.map((s) => s.slice(0, 512 * med)), { addSpecialTokens: false });
      const out = new Float32Array(texts.length * dim);
      for (let i = 0; i < encs.length; i++) {
        const ids = encs[i].getIds().filter((id) => id !== unk).slice(0, 512);
        const o = out.subarray(i * dim, (i + 1) * dim);
        for (const id of ids) for (let d = 0; d < dim; d++) o[d] += table[id * dim + d];
        let norm = 0;
        for (let d = 0; d < dim; d++) norm += o[d] * o[d];
        norm = Math.sqrt(norm) || 1;
        for (let d = 0; d < dim; d++) o[d] /= norm; // mean then normalise == sum then normalise
      }
      return texts.length;
    }
    return { run, close() {} };
  },
};
