// Creates the benchmark models if missing (git-ignored, deterministic): bench/models/minilm-ce.
// Needs Debian's python3 with torch and onnx:  sudo apt-get install python3-torch python3-onnx
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const wanted = ['minilm-ce'];
const missing = wanted.filter((m) => !fs.existsSync(path.join(here, 'models', m, 'onnx', 'model_quantized.onnx')));
if (missing.length === 0) {
  console.log(`models present: ${wanted.join(', ')}`);
} else {
  const python = process.env.PYTHON || '/usr/bin/python3';
  console.log(`generating ${missing.join(', ')} with ${python} scripts/fixtures/make_fixtures.py (about 30 s)`);
  const r = spawnSync(python, [path.join(root, 'scripts', 'fixtures', 'make_fixtures.py'), 'bench', '--out', path.join(here, 'models'), '--only', ...missing], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) {
    console.error('model generation failed: it needs python3 with torch and onnx (Debian: sudo apt-get install python3-torch python3-onnx)');
    process.exit(1);
  }
}
if (!fs.existsSync(path.join(root, 'build', 'Release', 'winnow.node'))) {
  console.log('note: build/Release/winnow.node is missing; run `npm run build` at the repository root, or the Winnow rows are skipped');
}
