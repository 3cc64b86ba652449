// Checks that the prebuilt binaries load on glibc 2.28 and later (native/binding/glibc_compat.c): no dynamic
// symbol may need a newer GLIBC_ version, none may be an unresolved __wrap_ wrapper, and the addon must not
// need the system's libstdc++ (it is linked in). readelf reads x64 and arm64 files alike.
//   node scripts/glibc-floor.mjs [FILE...]   (default: everything in prebuilds/linux-*/)
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FLOOR = [2, 28];
let files = process.argv.slice(2);
if (files.length === 0) {
  const dir = path.join(root, 'prebuilds');
  for (const plat of existsSync(dir) ? readdirSync(dir) : []) {
    if (!plat.startsWith('linux-')) continue;
    for (const f of readdirSync(path.join(dir, plat))) if (/\.node$|\.so(\.|$)/.test(f)) files.push(path.join(dir, plat, f));
  }
}
if (files.length === 0) throw new Error('glibc-floor: no prebuilds to check (npm run prebuild)');
const newer = (v) => v[0] > FLOOR[0] || (v[0] === FLOOR[0] && v[1] > FLOOR[1]);
const problems = [];
for (const file of files) {
  const syms = execFileSync('readelf', ['-W', '--dyn-syms', file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  let max = [0, 0];
  for (const line of syms.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [name, version] = f[7].split(/@+/);
    if (f[6] === 'UND' && name.startsWith('__wrap_')) problems.push(`${file}: ${name} is not defined (glibc_compat.c not built in?)`);
    const m = /^GLIBC_(\d+)\.(\d+)/.exec(version ?? '');
    if (!m) continue;
    const v = [Number(m[1]), Number(m[2])];
    if (newer(v)) problems.push(`${file}: ${name} needs ${version}`);
    if (v[0] > max[0] || (v[0] === max[0] && v[1] > max[1])) max = v;
  }
  const needed = execFileSync('readelf', ['-d', file], { encoding: 'utf8' });
  if (file.endsWith('.node') && needed.includes('libstdc++')) problems.push(`${file}: needs the system's libstdc++`);
  console.log(`${path.relative(root, file)}: newest glibc symbol version ${max.join('.')}`);
}
if (problems.length) throw new Error(`glibc-floor: newer than glibc ${FLOOR.join('.')}:\n${problems.join('\n')}`);
console.log(`glibc-floor: ${files.length} files load on glibc ${FLOOR.join('.')} and later`);
