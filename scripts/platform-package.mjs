// Makes prebuilds/<platform>-<arch>/ an npm package of its own, `winnow-native-<platform>-<arch>`: the
// addon and its private ONNX Runtime. winnow-native lists each such package as an optional dependency with
// `os`/`cpu`/`libc` set, so npm installs only the one for the user's machine (as sharp ships its binaries).
//   node scripts/platform-package.mjs [DIR...]   (default: every prebuilds/<platform>-<arch>/)
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ADDON_NAME = 'winnow-native.node';
export const ORT_NAME = 'libwinnow_onnxruntime.so.1';

/** The package name for a platform and architecture, as lib/native.ts looks it up. */
export const platformPackageName = (platform, arch) => `winnow-native-${platform}-${arch}`;

/** Writes package.json and README.md into a prebuild folder and returns the package name. */
export function writePlatformPackage(dir) {
  const [platform, arch] = path.basename(dir).split('-');
  const main = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  const name = platformPackageName(platform, arch);
  const pinned = main.optionalDependencies?.[name];
  if (pinned !== main.version) {
    throw new Error(`package.json must list ${name} at exactly ${main.version} in optionalDependencies (it has ${pinned ?? 'nothing'})`);
  }
  for (const f of [ADDON_NAME, ORT_NAME]) {
    if (!existsSync(path.join(dir, f))) throw new Error(`${dir} has no ${f}`);
  }
  const pkg = {
    name,
    version: main.version,
    description: `The ${platform}-${arch} native addon and ONNX Runtime library of winnow-native (installed by it; not used on its own)`,
    license: main.license,
    os: [platform],
    cpu: [arch],
    ...(platform === 'linux' ? { libc: ['glibc'] } : {}),
    main: ADDON_NAME,
    files: [ADDON_NAME, ORT_NAME],
  };
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  writeFileSync(
    path.join(dir, 'README.md'),
    `# ${name}\n\nThe prebuilt native addon and private ONNX Runtime ${main.devDependencies['onnxruntime-node']} library of ` +
      `winnow-native for ${platform}-${arch}` +
      `${platform === 'linux' ? ' (glibc 2.28 or later)' : ''}. winnow-native installs it as an optional dependency; ` +
      'install winnow-native, not this package.\n',
  );
  return name;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let dirs = process.argv.slice(2);
  if (dirs.length === 0) {
    const base = path.join(root, 'prebuilds');
    dirs = (existsSync(base) ? readdirSync(base) : []).map((d) => path.join(base, d));
  }
  for (const d of dirs) console.log(`${path.relative(root, d)}: ${writePlatformPackage(d)}`);
}
