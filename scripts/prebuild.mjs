// Produces prebuilds/linux-x64/ (the addon + our private ONNX Runtime beside it) with prebuildify,
// which drives scripts/prebuild-gyp.mjs in place of node-gyp, then prebuilds/linux-arm64/ (cross-built).
// Each folder is also the npm package winnow-native-<platform>-<arch> (scripts/platform-package.mjs).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writePlatformPackage } from './platform-package.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
rmSync(path.join(root, 'prebuilds'), { recursive: true, force: true });
execFileSync(
  process.execPath,
  [require.resolve('prebuildify/bin.js'), '--napi', '--strip', '--target', `node@${process.versions.node}`,
   '--node-gyp', path.join(root, 'scripts', 'prebuild-gyp.mjs')],
  { stdio: 'inherit', cwd: root },
);
const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
// prebuildify moves the addon out of build/Release; put it back, so the checkout keeps loading its own build.
const built = path.join(root, 'build', 'Release', 'winnow.node');
if (!existsSync(built)) copyFileSync(path.join(dir, 'winnow-native.node'), built);
console.log(`${path.relative(root, dir)}: ${readdirSync(dir).join(', ')} (package ${writePlatformPackage(dir)})`);

// linux-arm64, cross-built (scripts/arm64.mjs), when this machine has the cross toolchain.
if (process.platform === 'linux' && process.arch === 'x64') {
  const { missingPieces } = await import('./arm64.mjs');
  const missing = missingPieces();
  if (missing.length === 0) execFileSync(process.execPath, [path.join(root, 'scripts', 'arm64.mjs'), 'prebuild'], { stdio: 'inherit', cwd: root });
  else console.log(`prebuilds/linux-arm64 not made: missing ${missing.join(', ')} (bash scripts/setup.sh installs them)`);
}
