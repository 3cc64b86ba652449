#!/usr/bin/env bash
# Proves the published package works: prebuild, `npm pack`, install the tarball into an empty
# project with install scripts off, and rerank there with no compiler on PATH (CommonJS and ESM).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
node scripts/prebuild.mjs
# Every prebuilt binary loads on glibc 2.28 and later (symbol versions).
node scripts/glibc-floor.mjs
rm -f winnow-native-*.tgz
tarball=$(npm pack --silent | tail -n 1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/app" "$work/bin"
mv "$tarball" "$work/"
cd "$work/app"
echo '{"name":"winnow-pack-test","version":"1.0.0","private":true}' > package.json
npm install --ignore-scripts --no-audit --no-fund --prefer-offline "$work/$tarball" >/dev/null
# Nothing but node on PATH: no cc, c++, make, cmake, python.
ln -s "$(command -v node)" "$work/bin/node"
if PATH="$work/bin" command -v cc c++ g++ make cmake >/dev/null 2>&1; then echo "a compiler is still on PATH"; exit 1; fi
model="$root/test/fixtures/models/bert-ce-tiny"
cat > cjs.cjs <<JS
const { CrossEncoder, runtimeInfo } = require('winnow-native');
(async () => {
  const info = runtimeInfo();
  if (!info.addon.includes('prebuilds')) throw new Error('did not load the prebuild: ' + info.addon);
  const ce = await CrossEncoder.load(process.argv[2]);
  const r = await ce.rank('capital of france', ['Berlin is in Germany.', 'Paris is the capital of France.']);
  if (r.length !== 2 || !(r[0].score >= r[1].score)) throw new Error('bad ranking ' + JSON.stringify(r));
  console.log('cjs ok', process.arch, info.version, JSON.stringify(r));
})().catch((e) => { console.error(e); process.exit(1); });
JS
cat > esm.mjs <<JS
import { CrossEncoder } from 'winnow-native';
const ce = await CrossEncoder.load(process.argv[2]);
const s = await ce.predict([['a', 'b']]);
if (!(s instanceof Float32Array) || s.length !== 1) throw new Error('bad scores');
console.log('esm ok', process.arch, s[0]);
JS
PATH="$work/bin" node cjs.cjs "$model"
PATH="$work/bin" node esm.mjs "$model"
passed=2
# The same on linux-arm64, under qemu, when the tarball has that prebuild (scripts/arm64.mjs).
listing=$(tar -tzf "$work/$tarball")
if grep -qx 'package/prebuilds/linux-arm64/winnow-native.node' <<<"$listing" && [ -x "$root/build/arm64-node/package/bin/node" ]; then
  qemu=$(command -v qemu-aarch64)
  PATH="$work/bin" WINNOW_QEMU="$qemu" node "$root/scripts/arm64.mjs" node cjs.cjs "$model"
  PATH="$work/bin" WINNOW_QEMU="$qemu" node "$root/scripts/arm64.mjs" node esm.mjs "$model"
  passed=4
fi
echo "pack test: $passed passed, 0 failed"
