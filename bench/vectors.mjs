// Shared set-up of the vector benchmarks (similarity.mjs, semantic-search.mjs): the built package, the command
// line, and seeded normal vectors so every run scores the same data.
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '..');
export const winnow = createRequire(import.meta.url)(path.join(root, 'dist', 'cjs', 'index.js'));
export const args = process.argv.slice(2);
export const rounds = args.includes('--rounds') ? Number(args[args.indexOf('--rounds') + 1]) : 5;
export const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

/** rows × dim normal float32 values from a seeded LCG (Box-Muller), as an Embeddings. */
export function vectors(rows, dim, seed) {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
  const out = new Float32Array(rows * dim);
  for (let i = 0; i < out.length; i++) out[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return new winnow.Embeddings(out, rows, dim);
}
