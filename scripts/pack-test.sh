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
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
# The main package carries no binaries; each prebuilds/<platform>-<arch>/ is its own package
# (scripts/platform-package.mjs) that npm picks by os/cpu/libc from winnow-native's optionalDependencies.
tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
if tar -tzf "$work/$tarball" | grep -E '\.node$|\.so(\.|$)'; then echo "the main tarball carries binaries"; exit 1; fi
# The `winnow` bin is executable in the tarball (npm links it as packed).
tar -tvzf "$work/$tarball" package/dist/cjs/cli/main.js | grep -q '^-rwx' || { echo "dist/cjs/cli/main.js is not executable in the tarball"; exit 1; }
declare -A platform_tarball
for dir in prebuilds/linux-*; do
  platform_tarball[${dir#prebuilds/}]=$(npm pack --silent --pack-destination "$work" "./$dir" | tail -n 1)
done
for t in "$tarball" "${platform_tarball[@]}"; do
  echo "$t: $(du -k "$work/$t" | cut -f1) kB packed, $(tar -tvzf "$work/$t" | awk '{s+=$3} END {printf "%.1f MB", s/1e6}') unpacked"
done
# The package's own dependencies (the command's: commander, fastify, ...) resolve from npm's cache in the offline
# installs below: put the locked versions there first (a no-op when they already are).
npm cache add $(node -e "
  const lock = require('./package-lock.json'), out = new Set();
  for (const [k, v] of Object.entries(lock.packages)) if (k && !v.dev && !v.optional && !v.link) out.add(k.slice(k.lastIndexOf('node_modules/') + 13) + '@' + v.version);
  console.log([...out].join(' '));") >/dev/null
# install APP ARCH TARBALL...: an empty project, install scripts off, nothing fetched (the platform package
# that is not given is skipped as an optional dependency, as npm skips the other platforms' packages).
install() {
  local app="$work/$1" arch=$2; shift 2
  mkdir -p "$app"
  echo '{"name":"winnow-pack-test","version":"1.0.0","private":true}' > "$app/package.json"
  # --force: npm checks a direct dependency against this machine's cpu even when told another one.
  local force=(); [ "$arch" = "$(node -p process.arch)" ] || force=(--force)
  if ! (cd "$app" && npm install --ignore-scripts --no-audit --no-fund --offline --os=linux --cpu="$arch" "${force[@]}" "${@/#/$work/}" >"$app.log" 2>&1); then
    cat "$app.log"; exit 1
  fi
}
install app x64 "$tarball" "${platform_tarball[linux-x64]}"
[ -d "$work/app/node_modules/winnow-native-linux-x64" ] || { echo "winnow-native-linux-x64 was not installed"; exit 1; }
[ ! -e "$work/app/node_modules/winnow-native-linux-arm64" ] || { echo "the arm64 package was installed on x64"; exit 1; }
cd "$work/app"
# Nothing but node on PATH: no cc, c++, make, cmake, python.
ln -s "$(command -v node)" "$work/bin/node"
if PATH="$work/bin" command -v cc c++ g++ make cmake >/dev/null 2>&1; then echo "a compiler is still on PATH"; exit 1; fi
model="$root/test/fixtures/models/bert-ce-tiny"
cat > cjs.cjs <<JS
const { CrossEncoder, runtimeInfo } = require('winnow-native');
(async () => {
  const info = runtimeInfo();
  const glibc = process.report.getReport().header.glibcVersionRuntime;
  if (process.env.WINNOW_EXPECT_GLIBC && glibc !== process.env.WINNOW_EXPECT_GLIBC) throw new Error('ran on glibc ' + glibc);
  if (!info.addon.includes('node_modules/winnow-native-linux-' + process.arch + '/')) throw new Error('did not load the platform package: ' + info.addon);
  const ce = await CrossEncoder.load(process.argv[2]);
  const r = await ce.rank('capital of france', ['Berlin is in Germany.', 'Paris is the capital of France.']);
  if (r.length !== 2 || !(r[0].score >= r[1].score)) throw new Error('bad ranking ' + JSON.stringify(r));
  console.log('cjs ok', process.arch, 'glibc ' + glibc, info.version, JSON.stringify(r));
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
# The installed command: its shebang finds node on PATH, and its dependencies (commander, fastify, ...) came with it.
PATH="$work/bin" ./node_modules/.bin/winnow --help | grep -q 'winnow serve\|serve \[options\]' || { echo "winnow --help failed"; exit 1; }
echo '{"id":"a","query":"capital of france","document":"Paris is the capital of France."}' |
  PATH="$work/bin" ./node_modules/.bin/winnow score "$model" --no-progress | grep -q '"id":"a","score":' || { echo "winnow score failed"; exit 1; }
echo "winnow ok: --help, score"
passed=3
# The same install on Debian 11's glibc 2.31 (its loader, libc, libstdc++ and libgcc_s; scripts/old-glibc.mjs):
# a binary that still needed a newer glibc symbol version fails to load there.
old_glibc() {
  node --input-type=module -e "import { haveOldGlibc } from '$root/scripts/old-glibc.mjs'; process.exit(haveOldGlibc('$1') ? 0 : 1)"
}
if old_glibc x64; then
  PATH="$work/bin" WINNOW_EXPECT_GLIBC=2.31 node "$root/scripts/old-glibc.mjs" run x64 cjs.cjs "$model"
  passed=$((passed + 1))
else
  echo "pack test: SKIPPED the glibc 2.31 run (bash scripts/setup.sh fetches it)"
fi
# Without its platform package (--omit=optional, say) the first call fails with a code that names it.
install bare x64 "$tarball"
cat > "$work/bare/missing.cjs" <<'JS'
const { Tokenizer } = require('winnow-native');
Tokenizer.fromFile(process.argv[2]).then(
  () => { console.error('loaded without an addon'); process.exit(1); },
  (e) => {
    if (e.code !== 'NATIVE_LOAD_FAILED' || !e.message.includes('winnow-native-linux-x64')) { console.error(e); process.exit(1); }
    console.log('missing platform package: NATIVE_LOAD_FAILED');
  });
JS
PATH="$work/bin" node "$work/bare/missing.cjs" "$model/tokenizer.json"
passed=$((passed + 1))
# The same on linux-arm64 under qemu, when that prebuild was made (scripts/arm64.mjs): npm told the cpu is arm64.
if [ -n "${platform_tarball[linux-arm64]:-}" ] && [ -x "$root/build/arm64-node/package/bin/node" ]; then
  install app-arm64 arm64 "$tarball" "${platform_tarball[linux-arm64]}"
  [ ! -e "$work/app-arm64/node_modules/winnow-native-linux-x64" ] || { echo "the x64 package was installed for arm64"; exit 1; }
  cp cjs.cjs esm.mjs "$work/app-arm64/"
  cd "$work/app-arm64"
  qemu=$(command -v qemu-aarch64)
  PATH="$work/bin" WINNOW_QEMU="$qemu" node "$root/scripts/arm64.mjs" node cjs.cjs "$model"
  PATH="$work/bin" WINNOW_QEMU="$qemu" node "$root/scripts/arm64.mjs" node esm.mjs "$model"
  passed=$((passed + 2))
  if old_glibc arm64; then
    PATH="$work/bin" WINNOW_QEMU="$qemu" WINNOW_EXPECT_GLIBC=2.31 node "$root/scripts/old-glibc.mjs" run arm64 cjs.cjs "$model"
    passed=$((passed + 1))
  fi
fi
echo "pack test: $passed passed, 0 failed"
