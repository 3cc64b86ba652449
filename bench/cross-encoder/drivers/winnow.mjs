// Winnow, consumed from the repository root's build (dist/ + build/Release/winnow.node): npm run build there first.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const require = createRequire(import.meta.url);
export const name = 'Winnow';

let mod;
function winnow() {
  mod ??= require(path.join(root, 'dist', 'cjs', 'index.js'));
  return mod;
}

export function versions() {
  return { 'winnow-native': require(path.join(root, 'package.json')).version };
}

export async function load(modelDir, { threads, batch, file }) {
  const { CrossEncoder } = winnow();
  const ce = await CrossEncoder.load(modelDir, { threads, batchSize: batch, file });
  return {
    predictPairs: (pairs) => ce.predict(pairs),
    rank: (query, docs) => ce.rank(query, docs),
    close: () => ce.dispose(),
  };
}
