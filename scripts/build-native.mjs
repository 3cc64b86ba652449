// Builds the addon with cmake-js into build/Release and puts our private copy of ONNX Runtime beside it
// (renamed, SONAME rewritten with patchelf so it never clashes with onnxruntime-node's copy).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, chmodSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const ORT_NAME = 'libwinnow_onnxruntime.so.1';
const debug = process.argv.includes('--debug');
const sanitize = process.argv.includes('--sanitize');

const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const args = [cmakeJs, 'build', '--out', 'build', '-G', 'Ninja'];
if (debug) args.push('--debug');
if (sanitize) args.push('--CDWINNOW_SANITIZE=ON');
execFileSync(process.execPath, args, { stdio: 'inherit', cwd: root });

const outDir = path.join(root, 'build', debug ? 'Debug' : 'Release');
mkdirSync(outDir, { recursive: true });
const ortPkg = path.dirname(require.resolve('com.github.asus4.onnxruntime/package.json'));
const src = path.join(ortPkg, 'Plugins', 'Linux', 'x64', 'libonnxruntime.so');
if (!existsSync(src)) throw new Error(`ONNX Runtime library not found at ${src}; run npm install`);
const dst = path.join(outDir, ORT_NAME);
copyFileSync(src, dst);
chmodSync(dst, 0o755);
try {
  execFileSync('patchelf', ['--set-soname', ORT_NAME, dst], { stdio: 'inherit' });
} catch (e) {
  throw new Error('patchelf is needed to give ONNX Runtime a private SONAME (apt-get install patchelf)');
}
console.log(`addon and ${ORT_NAME} in ${path.relative(root, outDir)}`);
