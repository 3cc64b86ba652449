// Peer: fastembed (Node, github.com/Anush008/fastembed-js), FlagEmbedding with EmbeddingModel.CUSTOM
// pointed at the local folder (no download). What the library does, which we cannot change through its
// API: it pads every text to maxLength (512) tokens, takes the first token's hidden state (CLS pooling,
// hard-coded, where e5 uses mean pooling) and L2-normalises; its InferenceSession takes no thread
// option, so ONNX Runtime's default (one per physical core; this machine exposes 2) applies.
import path from 'node:path';
import { versionsWithOrt } from '../../package-version.mjs';

export const name = 'fastembed';

export function versions() {
  return versionsWithOrt('fastembed', 'fastembed');
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
