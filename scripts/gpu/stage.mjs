// Prepares .device/ (git-ignored) for a GPU session through the device tool, whose transfer of the working
// tree plus carried paths is limited to 64 MiB: the CUDA-capable ONNX Runtime core and the CUDA provider,
// xz-compressed, the provider with the GPU kernels of every architecture but one zeroed (they compress to
// almost nothing; a GPU only loads its own), the benchmark pairs and the stand-in tokenizer. Prints what the
// transfer will weigh and which fixture folders the GPU scripts do not read.
//   node scripts/gpu/stage.mjs [--arch 90]      (90: H100 and H200)
// On the GPU machine: `source scripts/gpu/device-env.sh` unpacks it and sets WINNOW_ORT_LIBRARY and
// LD_LIBRARY_PATH (see docs/cuda.md, "Running the GPU checks").
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const out = path.join(root, '.device');
const argv = process.argv.slice(2);
const arch = Number(argv.includes('--arch') ? argv[argv.indexOf('--arch') + 1] : 90);
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
fs.mkdirSync(out, { recursive: true });

// ---- the CUDA provider, from the registry package the CUDA package depends on ----
const cudaPkg = JSON.parse(fs.readFileSync(path.join(root, 'packages', 'cuda-linux-x64', 'package.json'), 'utf8'));
const [providerPkg, providerVersion] = Object.entries(cudaPkg.dependencies)[0];
const cache = path.join(root, 'build', 'gpu-stage'); // git-ignored and not carried
let providerDir = path.join(cache, 'package', 'Plugins', 'Linux', 'x64');
if (!fs.existsSync(path.join(providerDir, 'libonnxruntime_providers_cuda.so'))) {
  fs.mkdirSync(cache, { recursive: true });
  console.log(`fetching ${providerPkg}@${providerVersion} with npm pack (about 180 MB)`);
  const tgz = execFileSync('npm', ['pack', `${providerPkg}@${providerVersion}`, '--silent'], { cwd: cache, encoding: 'utf8' }).trim().split('\n').pop();
  run('tar', ['xzf', tgz], { cwd: cache });
  fs.rmSync(path.join(cache, tgz));
}

/**
 * Zeroes the payload of every CUDA fat binary entry whose architecture is not `keep`, in place. Layout (CUDA
 * fatbin, as read by cuobjdump-like tools): a 16-byte container header {u32 magic 0xBA55ED50, u16 version,
 * u16 header size, u64 size of what follows}, then entries {u16 kind, u16, u32 header size, u64 payload
 * size, ..., u32 sm arch at byte 28}. Headers stay, so every offset and size in the library is unchanged.
 * Returns bytes zeroed per architecture.
 */
export function keepOneArchitecture(buf, sectionOffset, sectionSize, keep) {
  const zeroed = {};
  const end = sectionOffset + sectionSize;
  let pos = sectionOffset;
  while (pos + 16 <= end) {
    if (buf.readUInt32LE(pos) !== 0xba55ed50) {
      pos += 8; // containers are 8-byte aligned
      continue;
    }
    const headerSize = buf.readUInt16LE(pos + 6);
    const containerEnd = pos + headerSize + Number(buf.readBigUInt64LE(pos + 8));
    if (containerEnd > end) throw new Error(`fat binary container at ${pos} runs past its section`);
    let p = pos + headerSize;
    while (p + 32 <= containerEnd) {
      const entryHeader = buf.readUInt32LE(p + 4);
      const payload = Number(buf.readBigUInt64LE(p + 8));
      const sm = buf.readUInt32LE(p + 28);
      if (p + entryHeader + payload > containerEnd) throw new Error(`fat binary entry at ${p} runs past its container`);
      if (sm !== keep) {
        buf.fill(0, p + entryHeader, p + entryHeader + payload);
        zeroed[sm] = (zeroed[sm] ?? 0) + payload;
      }
      p += entryHeader + payload;
    }
    pos = containerEnd;
  }
  return zeroed;
}

/** Offset and size of an ELF64 section by name (little-endian). */
export function elfSection(buf, name) {
  if (buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2) throw new Error('not an ELF64 file');
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const shstrndx = buf.readUInt16LE(0x3e);
  const strtab = Number(buf.readBigUInt64LE(shoff + shstrndx * shentsize + 0x18));
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * shentsize;
    const nameOff = strtab + buf.readUInt32LE(h);
    const end = buf.indexOf(0, nameOff);
    if (buf.toString('latin1', nameOff, end) === name)
      return { offset: Number(buf.readBigUInt64LE(h + 0x18)), size: Number(buf.readBigUInt64LE(h + 0x20)) };
  }
  return null;
}

function xz(src, dst) {
  fs.writeFileSync(dst, execFileSync('xz', ['-T2', '-9e', '-c', src], { maxBuffer: 1 << 30 }));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const provider = fs.readFileSync(path.join(providerDir, 'libonnxruntime_providers_cuda.so'));
  const section = elfSection(provider, '.nv_fatbin');
  if (!section) throw new Error('libonnxruntime_providers_cuda.so has no .nv_fatbin section');
  const zeroed = keepOneArchitecture(provider, section.offset, section.size, arch);
  const mib = (n) => (n / 2 ** 20).toFixed(1);
  console.log(`kept sm_${arch} kernels; zeroed ${Object.entries(zeroed).map(([a, n]) => `sm_${a} ${mib(n)} MiB`).join(', ')}`);
  const tmp = path.join(cache, `libonnxruntime_providers_cuda.sm${arch}.so`);
  fs.writeFileSync(tmp, provider);
  xz(tmp, path.join(out, 'libonnxruntime_providers_cuda.so.xz'));
  fs.rmSync(tmp);
  fs.copyFileSync(path.join(providerDir, 'libonnxruntime_providers_shared.so'), path.join(out, 'libonnxruntime_providers_shared.so'));

  // ---- the core: onnxruntime-node's official build, renamed with a private SONAME ----
  const core = path.join(root, 'packages', 'cuda-linux-x64', 'lib', 'libwinnow_onnxruntime.so.1');
  if (!fs.existsSync(core)) run('node', ['scripts/build-cuda-package.mjs']);
  xz(core, path.join(out, 'libwinnow_onnxruntime.so.1.xz'));

  // ---- the addon, and inputs the GPU scripts read from ../shared, which does not travel ----
  const addon = path.join(root, 'build', 'Release', 'winnow.node');
  if (!fs.existsSync(addon)) throw new Error('build/Release/winnow.node is missing: run `npm run build` first');
  xz(addon, path.join(out, 'winnow.node.xz'));
  const pairs = path.join(cache, 'pairs.json');
  run('node', ['scripts/gpu/make_pairs.mjs', pairs]);
  xz(pairs, path.join(out, 'pairs.json.xz'));
  xz(path.resolve(root, '..', 'shared', 'tokenizers', 't5-small', 'tokenizer.json'), path.join(out, 't5-tokenizer.json.xz'));

  // ---- what the transfer weighs ----
  const size = (p) => {
    if (!fs.existsSync(p)) return 0;
    const st = fs.statSync(p);
    if (!st.isDirectory()) return st.size;
    return fs.readdirSync(p).reduce((s, f) => s + size(path.join(p, f)), 0);
  };
  const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean);
  const treeBytes = tracked.reduce((s, f) => s + size(path.join(root, f)), 0);
  const staged = size(out);
  const carried = size(path.join(root, 'dist'));
  const fixtures = size(path.join(root, 'test', 'fixtures', 'models'));
  const total = treeBytes + staged + carried;
  const limit = 64 * 2 ** 20;
  console.log(`transfer (carry: .device, dist): tracked files ${mib(treeBytes)} MiB (fixture models ${mib(fixtures)}) + ` +
              `.device ${mib(staged)} MiB + dist ${mib(carried)} MiB = ${mib(total)} MiB (limit 64 MiB)`);
  if (total > limit) {
    console.log(`over by ${mib(total - limit)} MiB. For the device calls, move the fixture models out of the working tree ` +
                '(mv test/fixtures/models ../winnow-fixtures-aside; move them back after, or `git checkout -- test/fixtures`): ' +
                `${mib(total - fixtures)} MiB then. winnow_gpu.mjs skips its fixture checks when they are absent.`);
  }
}
