// Compiles lib/ to dist/cjs (CommonJS + declarations) and writes a thin ESM entry in dist/esm that
// re-exports the same objects, so `import` and `require` share one instance. The framework adapters
// (lib/integrations, `winnow-native/langchain` and `/llamaindex`) are compiled a second time as ES modules into
// dist/esm/integrations: an ESM user gets the frameworks' ESM classes (the same ones their own code extends and
// checks with instanceof), while Winnow itself still comes from dist/cjs.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
// winnow-native/queue (BullMQ score jobs): kept out of the main entry so that bullmq loads only for those who use it.
const queueNames = Object.keys(require(path.join(root, 'dist/cjs/score-queue.js'))).filter((n) => n !== '__esModule');
writeFileSync(path.join(root, 'dist/esm/queue.js'), `import cjs from '../cjs/score-queue.js';\nexport const { ${queueNames.join(', ')} } = cjs;\n`);
writeFileSync(path.join(root, 'dist/esm/queue.d.ts'), "export * from '../cjs/score-queue.js';\n");
const esmTmp = path.join(root, 'dist', 'esm-tmp');
execFileSync(process.execPath, [
  require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json'),
  '--module', 'es2022', '--moduleResolution', 'bundler', '--outDir', esmTmp,
], { stdio: 'inherit', cwd: root });
const integrations = path.join(root, 'dist', 'esm', 'integrations');
mkdirSync(integrations, { recursive: true });
for (const f of readdirSync(path.join(esmTmp, 'integrations'))) {
  // './x' -> './x.js' (another adapter file); '../x' -> '../../cjs/x.js' (Winnow's one CommonJS instance).
  const text = readFileSync(path.join(esmTmp, 'integrations', f), 'utf8')
    .replace(/(from\s+|import\s*\()'\.\/([\w-]+)'/g, "$1'./$2.js'")
    .replace(/(from\s+|import\s*\()'\.\.\/([\w-]+)'/g, "$1'../../cjs/$2.js'");
  writeFileSync(path.join(integrations, f), text);
}
rmSync(esmTmp, { recursive: true, force: true });
console.log(`dist/: CommonJS + ESM (${names.join(', ')}); winnow-native/langchain, winnow-native/llamaindex, winnow-native/queue`);
