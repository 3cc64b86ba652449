// Peer: transformers.js (@huggingface/transformers), pipeline('feature-extraction') with
// { pooling: 'mean', normalize: true }, offline from the local folder, batches of `batch` texts in
// input order (the pipeline pads each batch to its longest text).
import path from 'node:path';
import { versionsWithOrt } from '../../package-version.mjs';
import { env, pipeline } from '@huggingface/transformers';

export const name = 'transformers.js';

export function versions() {
  return versionsWithOrt('@huggingface/transformers', 'transformers.js');
}

// dtype: 'fp32' (onnx/model.onnx) or 'q8' (onnx/model_quantized.onnx).
export async function load(modelDir, { threads, batch, maxLength, dtype = 'fp32' }) {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = path.dirname(modelDir) + path.sep;
  const extractor = await pipeline('feature-extraction', path.basename(modelDir), {
    device: 'cpu',
    dtype,
    session_options: { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' },
  });
  return {
    encode: async (texts) => {
      const parts = [];
      for (let s = 0; s < texts.length; s += batch) {
        const t = await extractor(texts.slice(s, s + batch), { pooling: 'mean', normalize: true, truncation: true, max_length: maxLength });
        parts.push(t.data);
      }
      const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
      let o = 0;
      for (const p of parts) {
        out.set(p, o);
        o += p.length;
      }
      return out;
    },
    close: () => extractor.dispose(),
  };
}
