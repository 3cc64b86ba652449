// Winnow SentenceEncoder, from the repository root's build (dist/ + build/Release): npm run build there first.
import { createRequire } from 'node:module';
import path from 'node:path';
import { root } from '../common.mjs';

const require = createRequire(import.meta.url);
export const name = 'Winnow';
let mod;
const winnow = () => (mod ??= require(path.join(root, 'dist', 'cjs', 'index.js')));

export function versions() {
  const v = { 'winnow-native': require(path.join(root, 'package.json')).version };
  try {
    v['ONNX Runtime (Winnow)'] = winnow().runtimeInfo().version;
  } catch {}
  return v;
}

export async function load(modelDir, { threads, batch, maxLength }) {
  const enc = await winnow().SentenceEncoder.load(modelDir, { threads, batchSize: batch, maxLength });
  return {
    // Float32Array, rows × dim, normalised (the model has a Normalize module)
    encode: async (texts) => (await enc.encode(texts)).data,
    close: () => enc.dispose(),
  };
}
