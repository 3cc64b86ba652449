'use strict';
// Assembles, on first use, a folder where ONNX Runtime finds its CUDA provider beside its core:
// ONNX Runtime loads libonnxruntime_providers_{shared,cuda}.so from the folder of the core library.
// Nothing is downloaded: the provider files come from a registry package installed with this one.
const fs = require('fs');
const os = require('os');
const path = require('path');

const CORE = 'libwinnow_onnxruntime.so.1';
const PROVIDERS = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];

function providerDir() {
  const pkg = path.dirname(require.resolve('com.github.asus4.onnxruntime.linux-x64-gpu/package.json'));
  return path.join(pkg, 'Plugins', 'Linux', 'x64');
}

function tryLink(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const targets = [[CORE, path.join(__dirname, 'lib', CORE)], ...PROVIDERS.map((p) => [p, path.join(providerDir(), p)])];
  for (const [name, target] of targets) {
    if (!fs.existsSync(target)) throw new Error(`missing ${target}`);
    const link = path.join(dir, name);
    let current;
    try {
      current = fs.readlinkSync(link);
    } catch {
      current = undefined;
    }
    if (current !== target) {
      fs.rmSync(link, { force: true });
      fs.symlinkSync(target, link);
    }
  }
  return path.join(dir, CORE);
}

/** Path of the CUDA-capable ONNX Runtime core, with the providers beside it. */
exports.coreLibrary = function coreLibrary() {
  try {
    return tryLink(path.join(__dirname, 'runtime'));
  } catch (e) {
    // Read-only install: use a per-user temporary folder.
    return tryLink(path.join(os.tmpdir(), `winnow-cuda-runtime-${process.getuid ? process.getuid() : 'user'}`));
  }
};

exports.providerLibraries = () => PROVIDERS.map((p) => path.join(providerDir(), p));
