// Peer: fastembed (Node, github.com/Anush008/fastembed-js), FlagEmbedding with EmbeddingModel.CUSTOM
// pointed at the local folder (no download). What the library does, which we cannot change through its
// API: it pads every text to maxLength (512) tokens, takes the first token's hidden state (CLS pooling,
// hard-coded, where e5 uses mean pooling) and L2-normalises; its InferenceSession takes no thread
// option, so ONNX Runtime's default (one per physical core; this machine exposes 2) applies.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(import.meta.url);
export const name = 'fastembed';

export function versions() {
  // the package's "exports" hide package.json: find its folder from the resolved entry point
  let dir = path.dirname(require.resolve('fastembed'));
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  const own = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
  let ortNode = '?';
  try {
    ortNode = createRequire(path.join(dir, 'package.json'))('onnxruntime-node/package.json').version;
  } catch {}
  return { fastembed: own, 'onnxruntime-node (fastembed)': ortNode };
}

export async function load(modelDir, { batch, maxLength }) {
  const { FlagEmbedding, EmbeddingModel } = await import('fastembed');
  const model = await FlagEmbedding.init({
    model: EmbeddingModel.CUSTOM,
    modelAbsoluteDirPath: modelDir,
    modelName: path.join('onnx', 'model.onnx'),
    maxLength,
    showDownloadProgress: false,
  });
  return {
    encode: async (texts) => {
      const rows = [];
      for await (const b of model.embed(texts, batch)) rows.push(...b);
      const dim = rows[0].length;
      const out = new Float32Array(rows.length * dim);
      rows.forEach((r, i) => out.set(r, i * dim));
      return out;
    },
    close: () => {},
  };
}
