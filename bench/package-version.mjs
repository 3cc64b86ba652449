// Versions of the benchmarked packages. Their package.json is often hidden behind "exports", so the folder
// is found by walking up from the resolved entry point; the onnxruntime-node a package resolves is its own.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(import.meta.url);

/** The folder holding `pkg`'s package.json, resolved from bench/. */
function packageDir(pkg) {
  let dir = path.dirname(require.resolve(pkg));
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
}

/** `pkg`'s version, or '?' when it cannot be resolved. */
export function packageVersion(pkg) {
  try {
    return JSON.parse(fs.readFileSync(path.join(packageDir(pkg), 'package.json'), 'utf8')).version;
  } catch {
    return '?';
  }
}

/** `{ [pkg]: version, 'onnxruntime-node (label)': the version that pkg itself resolves }`. */
export function versionsWithOrt(pkg, label) {
  let ortNode = '?';
  try {
    ortNode = createRequire(path.join(packageDir(pkg), 'package.json'))('onnxruntime-node/package.json').version;
  } catch {}
  return { [pkg]: packageVersion(pkg), [`onnxruntime-node (${label})`]: ortNode };
}
