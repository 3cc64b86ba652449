#!/usr/bin/env bash
# Installs everything Winnow needs to build and test on a fresh Debian/Ubuntu machine, then builds.
# Safe to run again: skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
# The packages among the arguments that dpkg does not have installed, one per line.
not_installed() {
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done
}

# redis-server: the queue tests (test/queue*.test.ts) start their own on a free loopback port.
APT_PACKAGES=(cmake ninja-build g++ patchelf libgtest-dev libutf8proc-dev libpcre2-dev nlohmann-json3-dev mecab mecab-ipadic-utf8
              sentencepiece python3-sentencepiece python3-protobuf redis-server)
mapfile -t missing < <(not_installed "${APT_PACKAGES[@]}")
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Linux arm64 is cross-built and tested under qemu-user (scripts/arm64.mjs): the cross compiler, qemu, and the
# arm64 builds of the libraries (Debian multiarch). Where the apt sources carry no arm64 packages this is skipped
# with a warning, and `npm run test:arm64` then says what is missing.
ARM64_PACKAGES=(g++-aarch64-linux-gnu qemu-user libc6:arm64 libstdc++6:arm64 libutf8proc-dev:arm64 libpcre2-dev:arm64 libgtest-dev:arm64)
mapfile -t arm_missing < <(not_installed "${ARM64_PACKAGES[@]}")
if [ ${#arm_missing[@]} -gt 0 ] && [ "${WINNOW_SKIP_ARM64:-0}" != 1 ]; then
  echo "setup: installing ${arm_missing[*]} (arm64 cross-build and qemu)"
  added=0
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then $SUDO dpkg --add-architecture arm64; added=1; fi
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${arm_missing[@]}" >/dev/null; }; then
    echo "setup: WARNING: could not install the arm64 packages; arm64 is not built or tested on this machine" >&2
    # Leave apt as it was: sources without arm64 would make every later `apt-get update` fail.
    if [ "$added" = 1 ]; then $SUDO dpkg --remove-architecture arm64 || true; $SUDO apt-get update -qq || true; fi
  fi
fi

# onnxruntime-node is only a test reference: skip its download of CUDA provider files.
export ONNXRUNTIME_NODE_INSTALL=skip
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # `npm install`, not `npm ci`: npm 11 writes lockfiles without rollup's other-platform optional
  # packages and then refuses them in `npm ci`; `npm install` follows the same lockfile.
  npm install --no-audit --no-fund
fi
npm run build
# The arm64 node binary the arm64 checks run under qemu.
if command -v qemu-aarch64 >/dev/null 2>&1; then node scripts/arm64.mjs fetch-node; fi
# Debian 11's glibc 2.31 with its libstdc++ and libgcc_s (a few MB, unpacked under build/, nothing installed), for
# the packaging test's run on an older glibc (scripts/old-glibc.mjs).
if [ ! -e build/old-glibc/x64/lib/x86_64-linux-gnu/ld-2.31.so ] || [ ! -e build/old-glibc/arm64/lib/aarch64-linux-gnu/ld-2.31.so ]; then
  node scripts/old-glibc.mjs fetch || echo "setup: WARNING: could not fetch Debian 11's glibc; the packaging test skips its glibc 2.31 run" >&2
fi
