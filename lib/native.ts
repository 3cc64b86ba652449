/**
 * The one place that finds and loads the native addon and ONNX Runtime (and the optional CUDA package). Its
 * surface is typed in binding.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { winnowError } from './errors';
import type { NativeBinding } from './binding';
import type { SimdLevel } from './types';

/** File name of our private copy of ONNX Runtime (its SONAME is changed to match, see scripts/). */
export const ORT_LIBRARY_NAME = 'libwinnow_onnxruntime.so.1';

// The package root: two levels up from dist/<format>/, one from lib/ (tests run the sources).
const ROOT = [path.resolve(__dirname, '..', '..'), path.resolve(__dirname, '..')].find((d) => fs.existsSync(path.join(d, 'package.json'))) ?? path.resolve(__dirname, '..', '..');

let cached: { binding: NativeBinding; addonPath: string } | undefined;

/** The optional package that carries the addon for this platform (scripts/platform-package.mjs). */
export const PLATFORM_PACKAGE = `winnow-native-${process.platform}-${process.arch}`;

const ADDON_NAME = 'winnow-native.node';

const MUSL_HINT = ' This is a musl system (Alpine?): the prebuilt binaries need glibc 2.28 or later.';

/** Linux without glibc (Node's report names the glibc it runs on). Only asked on the way to an error. */
function isMusl(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
    return !report?.header?.glibcVersionRuntime;
  } catch {
    return false;
  }
}

/**
 * Where the addon may be, in order: WINNOW_ADDON alone when set; else a build from source in this package
 * (build/Release, `npm run build:native`), the platform package npm installed beside this one, and this
 * package's own prebuilds/<platform>-<arch>/ (a checkout after `npm run prebuild`).
 */
function addonCandidates(): string[] {
  if (process.env.WINNOW_ADDON) return [path.resolve(process.env.WINNOW_ADDON)];
  const out = [path.join(ROOT, 'build', 'Release', 'winnow.node')];
  try {
    out.push(path.join(path.dirname(require.resolve(`${PLATFORM_PACKAGE}/package.json`)), ADDON_NAME));
  } catch {
    out.push(`${PLATFORM_PACKAGE}/${ADDON_NAME} (package not installed)`);
  }
  out.push(path.join(ROOT, 'prebuilds', `${process.platform}-${process.arch}`, ADDON_NAME));
  return out;
}

function loadBinding(): { binding: NativeBinding; addonPath: string } {
  if (cached) return cached;
  const candidates = addonCandidates();
  const addonPath = candidates.find((c) => fs.existsSync(c));
  if (!addonPath) {
    const why =
      process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64')
        ? isMusl()
          ? MUSL_HINT
          : ` npm installs ${PLATFORM_PACKAGE} as an optional dependency: check that it was not skipped (--omit=optional, --no-optional, or a lockfile made on another platform; \`npm install ${PLATFORM_PACKAGE}\` adds it).`
        : ' Prebuilt binaries cover linux-x64 and linux-arm64 (glibc).';
    throw winnowError(
      'NATIVE_LOAD_FAILED',
      `Winnow's native addon was not found for ${process.platform}-${process.arch} (Node ${process.versions.node}). ` +
        `Tried ${candidates.join(', ')}.${why} Elsewhere build from source with \`npm run build:native\` ` +
        '(needs cmake, a C++20 compiler, libutf8proc-dev, libpcre2-dev, nlohmann-json3-dev and patchelf).',
    );
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const binding = require(addonPath) as NativeBinding;
    cached = { binding, addonPath };
    return cached;
  } catch (e) {
    const hint = isMusl() ? MUSL_HINT : '';
    throw winnowError('NATIVE_LOAD_FAILED', `Winnow's native addon at ${addonPath} failed to load: ${(e as Error).message}.${hint}`);
  }
}

export function binding(): NativeBinding {
  return loadBinding().binding;
}

/**
 * The ONNX Runtime library Winnow loads: WINNOW_ORT_LIBRARY if set, else the copy shipped beside the addon.
 */
export function ortLibraryPath(): string {
  const fromEnv = process.env.WINNOW_ORT_LIBRARY;
  if (fromEnv) return fromEnv;
  // With the optional CUDA package installed, its core (CPU and CUDA in one library) serves every
  // model: one process can hold only one ONNX Runtime.
  const cuda = cudaPackageCore();
  if (cuda) return cuda;
  const { addonPath } = loadBinding();
  const candidate = path.join(path.dirname(addonPath), ORT_LIBRARY_NAME);
  if (!fs.existsSync(candidate)) {
    throw winnowError(
      'ORT_LOAD_FAILED',
      `ONNX Runtime library not found beside the addon (${candidate}). Reinstall winnow-native, or set WINNOW_ORT_LIBRARY to a libonnxruntime.so of version 1.29 or later.`,
    );
  }
  return candidate;
}

/** Name of the optional package that carries the CUDA build of ONNX Runtime. */
export const CUDA_PACKAGE = `winnow-native-cuda-${process.platform}-${process.arch}`;

function cudaPackageCore(): string | undefined {
  if (process.env.WINNOW_DISABLE_CUDA_PACKAGE === '1') return undefined;
  let pkg: { coreLibrary(): string } | undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    pkg = require(CUDA_PACKAGE);
  } catch {
    return undefined;
  }
  try {
    return pkg!.coreLibrary();
  } catch (e) {
    throw winnowError('ORT_LOAD_FAILED', `${CUDA_PACKAGE} is installed but incomplete: ${(e as Error).message}`);
  }
}

/**
 * Version of ONNX Runtime in use, its path, the execution providers it was built with, the addon, the SIMD level, and
 * the instructions each of Winnow's own ONNX Runtime operators runs here (`kernels`, e.g. `{ LayerNorm: 'avx512' }`).
 */
export function runtimeInfo(): { version: string; library: string; providers: string[]; addon: string; simd: SimdLevel; kernels: Record<string, string> } {
  const info = binding().ortInfo(ortLibraryPath());
  return { ...info, addon: loadBinding().addonPath, simd: binding().simdLevel(), kernels: binding().operatorKernels() };
}

