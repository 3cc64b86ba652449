// Compiles lib/ to dist/cjs (CommonJS + declarations) and writes a thin ESM entry in dist/esm that
// re-exports the same objects, so `import` and `require` share one instance.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
rmSync(path.join(root, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json')], { stdio: 'inherit', cwd: root });
writeFileSync(path.join(root, 'dist/cjs/package.json'), '{"type":"commonjs"}\n');
// The package's `bin` (winnow): tsc keeps its shebang line; npm pack keeps the mode.
chmodSync(path.join(root, 'dist/cjs/cli/main.js'), 0o755);
mkdirSync(path.join(root, 'dist/esm'), { recursive: true });
writeFileSync(path.join(root, 'dist/esm/package.json'), '{"type":"module"}\n');
const names = Object.keys(require(path.join(root, 'dist/cjs/index.js'))).filter((n) => n !== '__esModule');
writeFileSync(
  path.join(root, 'dist/esm/index.js'),
  // The default export is the whole module, as Node gives it for `import winnow from` a CommonJS package.
  `import cjs from '../cjs/index.js';\nexport const { ${names.join(', ')} } = cjs;\nexport default cjs;\n`,
);
writeFileSync(
  path.join(root, 'dist/esm/index.d.ts'),
  "import * as winnow from '../cjs/index.js';\nexport * from '../cjs/index.js';\nexport default winnow;\n",
);
console.log(`dist/: CommonJS + ESM (${names.join(', ')})`);
