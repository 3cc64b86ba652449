// Fills packages/cuda-linux-x64/lib with the CUDA-capable ONNX Runtime 1.29 core (the official build that
// onnxruntime-node ships), renamed and with a private SONAME like the CPU copy.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const ortNode = path.dirname(require.resolve('onnxruntime-node/package.json'));
const src = path.join(ortNode, 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime.so.1');
const outDir = path.join(root, 'packages', 'cuda-linux-x64', 'lib');
mkdirSync(outDir, { recursive: true });
const dst = path.join(outDir, 'libwinnow_onnxruntime.so.1');
copyFileSync(src, dst);
chmodSync(dst, 0o755);
execFileSync('patchelf', ['--set-soname', 'libwinnow_onnxruntime.so.1', dst], { stdio: 'inherit' });
console.log(`wrote ${path.relative(root, dst)}`);
