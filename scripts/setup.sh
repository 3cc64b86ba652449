#!/usr/bin/env bash
# Installs everything Winnow needs to build and test on a fresh Debian/Ubuntu machine, then builds.
# Safe to run again: skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(cmake ninja-build g++ patchelf libgtest-dev libutf8proc-dev libpcre2-dev nlohmann-json3-dev)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# onnxruntime-node is only a test reference: skip its download of CUDA provider files.
export ONNXRUNTIME_NODE_INSTALL=skip
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # `npm install`, not `npm ci`: npm 11 writes lockfiles without rollup's other-platform optional
  # packages and then refuses them in `npm ci`; `npm install` follows the same lockfile.
  npm install --no-audit --no-fund
fi
npm run build
