// Runs Node, and Winnow in it, on an older glibc than this machine's: Debian 11's glibc 2.31 (and its
// libstdc++ and libgcc_s), loaded by its own dynamic loader. Below 2.32-2.36 sits every symbol version that
// native/binding/glibc_compat.c steers around, so an addon that still needed one fails to load here
// ("version `GLIBC_2.34' not found"). Debian 10 (2.28, the stated floor) is no longer in the archive.
//   node scripts/old-glibc.mjs fetch                     scripts/setup.sh: download the packages (apt, Debian 11)
//   node scripts/old-glibc.mjs run x64|arm64 SCRIPT ...  run node SCRIPT ... on glibc 2.31 (arm64: under qemu)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const base = path.join(root, 'build', 'old-glibc');
export const OLD_GLIBC = '2.31';
const SUITE = 'bullseye';
const PACKAGES = ['libc6', 'libstdc++6', 'libgcc-s1'];
const ARCHES = { x64: { deb: 'amd64', triple: 'x86_64-linux-gnu' }, arm64: { deb: 'arm64', triple: 'aarch64-linux-gnu' } };

const sysroot = (arch) => path.join(base, arch);
const libDirs = (arch) => [path.join(sysroot(arch), 'lib', ARCHES[arch].triple), path.join(sysroot(arch), 'usr', 'lib', ARCHES[arch].triple)];
const loader = (arch) => path.join(libDirs(arch)[0], `ld-${OLD_GLIBC}.so`);

/** Whether the glibc 2.31 files for arch are here (scripts/setup.sh fetches them). */
export const haveOldGlibc = (arch) => existsSync(loader(arch));

/** The command prefix that runs a program with Debian 11's loader and libraries. */
export const oldGlibcPrefix = (arch) => [loader(arch), '--library-path', libDirs(arch).join(':')];

function fetch() {
  const apt = path.join(base, 'apt');
  for (const d of ['state/lists/partial', 'cache/archives/partial', 'debs']) mkdirSync(path.join(apt, d), { recursive: true });
  const sources = path.join(apt, 'sources.list');
  // The suite's Release file is signed by Debian's archive keys, which every Debian release ships.
  writeFileSync(sources, `deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian ${SUITE} main\n`);
  writeFileSync(path.join(apt, 'state', 'status'), ''); // nothing counts as installed: this machine's newer versions do not win
  const opts = [
    `Dir::Etc::SourceList=${sources}`, 'Dir::Etc::SourceParts=/nonexistent', `Dir::State=${path.join(apt, 'state')}`,
    `Dir::State::status=${path.join(apt, 'state', 'status')}`, `Dir::Cache=${path.join(apt, 'cache')}`, 'Debug::NoLocking=1',
    'APT::Sandbox::User=root', `APT::Architectures::=amd64`, `APT::Architectures::=arm64`,
  ].flatMap((o) => ['-o', o]);
  execFileSync('apt-get', [...opts, 'update', '-qq'], { stdio: 'inherit' });
  const debs = path.join(apt, 'debs');
  execFileSync('apt-get', [...opts, 'download', '-qq', ...Object.values(ARCHES).flatMap((a) => PACKAGES.map((p) => `${p}:${a.deb}`))], { cwd: debs, stdio: 'inherit' });
  for (const [arch, { deb }] of Object.entries(ARCHES)) {
    rmSync(sysroot(arch), { recursive: true, force: true });
    mkdirSync(sysroot(arch), { recursive: true });
    for (const f of readdirSync(debs).filter((f) => f.endsWith(`_${deb}.deb`))) execFileSync('dpkg-deb', ['-x', path.join(debs, f), sysroot(arch)]);
    if (!haveOldGlibc(arch)) throw new Error(`old-glibc: ${loader(arch)} missing after unpacking`);
  }
  rmSync(path.join(apt, 'cache'), { recursive: true, force: true });
  rmSync(path.join(apt, 'state', 'lists'), { recursive: true, force: true });
  console.log(`old-glibc: Debian 11 glibc ${OLD_GLIBC}, libstdc++ and libgcc_s for ${Object.keys(ARCHES).join(' and ')} in ${path.relative(root, base)}/`);
}

async function run(arch, args) {
  if (!ARCHES[arch]) throw new Error(`old-glibc run: arch must be x64 or arm64, not ${arch}`);
  if (!haveOldGlibc(arch)) throw new Error(`old-glibc: no glibc ${OLD_GLIBC} for ${arch} (node scripts/old-glibc.mjs fetch)`);
  if (arch === 'x64') {
    execFileSync(oldGlibcPrefix('x64')[0], [...oldGlibcPrefix('x64').slice(1), process.execPath, ...args], { stdio: 'inherit' });
  } else {
    const { runArmNode } = await import('./arm64.mjs');
    runArmNode(args, { prefix: oldGlibcPrefix('arm64'), cwd: process.cwd() });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === 'fetch') fetch();
  else if (cmd === 'run') await run(rest[0], rest.slice(1));
  else {
    console.error('usage: node scripts/old-glibc.mjs fetch | run x64|arm64 SCRIPT [ARGS...]');
    process.exit(2);
  }
}
