// Where the addon comes from (lib/native.ts): WINNOW_ADDON, a build from source, the platform package npm
// installs beside winnow-native (winnow-native-<platform>-<arch>, scripts/platform-package.mjs), and the
// error when none is there. Each case runs in a child process: a process loads the addon once.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURES, ROOT } from './helpers/reference';

const BUILT = path.join(ROOT, 'build', 'Release');
const PLATFORM_PACKAGE = `winnow-native-${process.platform}-${process.arch}`;
const TOKENIZER = path.join(FIXTURES, 'bert-ce-tiny', 'tokenizer.json');

// Prints runtimeInfo() and a tokenization as JSON, or the error's code and message.
const PROBE = `
const w = require(process.argv[1]);
w.Tokenizer.fromFile(process.argv[2]).then(async (t) => {
  const info = w.runtimeInfo();
  console.log(JSON.stringify({ addon: info.addon, library: info.library, ids: Array.from((await t.encode('hello world')).ids) }));
}, (e) => console.log(JSON.stringify({ code: e.code, message: e.message })));
`;

function probe(main: string, env: Record<string, string> = {}, cwd = ROOT): any {
  const r = spawnSync(process.execPath, ['-e', PROBE, main, TOKENIZER], {
    cwd,
    env: { ...process.env, WINNOW_ADDON: '', ...env },
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-loader-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** An app folder with winnow-native installed as npm lays it out: its dist/ and package.json, no build/. */
function installLayout(name: string, withPlatformPackage: boolean): string {
  const app = path.join(tmp, name);
  const pkg = path.join(app, 'node_modules', 'winnow-native');
  fs.mkdirSync(pkg, { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
  fs.cpSync(path.join(ROOT, 'dist'), path.join(pkg, 'dist'), { recursive: true });
  if (withPlatformPackage) {
    const plat = path.join(app, 'node_modules', PLATFORM_PACKAGE);
    fs.mkdirSync(plat, { recursive: true });
    fs.writeFileSync(path.join(plat, 'package.json'), JSON.stringify({ name: PLATFORM_PACKAGE, version: '0.0.0', main: 'winnow-native.node' }));
    fs.copyFileSync(path.join(BUILT, 'winnow.node'), path.join(plat, 'winnow-native.node'));
    fs.copyFileSync(path.join(BUILT, 'libwinnow_onnxruntime.so.1'), path.join(plat, 'libwinnow_onnxruntime.so.1'));
  }
  return app;
}

describe('loading the addon', () => {
  const dist = path.join(ROOT, 'dist', 'cjs', 'index.js');

  it('a checkout loads its own build, with ONNX Runtime from beside it', () => {
    const r = probe(dist);
    expect(r.addon).toBe(path.join(BUILT, 'winnow.node'));
    expect(r.library).toBe(path.join(BUILT, 'libwinnow_onnxruntime.so.1'));
    expect(r.ids.length).toBeGreaterThan(2);
  });

  it('an install loads the platform package npm put beside it, and its ONNX Runtime', () => {
    const app = installLayout('with-platform', true);
    const r = probe('winnow-native', {}, app);
    const plat = path.join(app, 'node_modules', PLATFORM_PACKAGE);
    expect(r.addon).toBe(path.join(plat, 'winnow-native.node'));
    expect(r.library).toBe(path.join(plat, 'libwinnow_onnxruntime.so.1'));
    expect(r.ids).toEqual(probe(dist).ids);
  });

  it('an install without its platform package fails with NATIVE_LOAD_FAILED naming the package', () => {
    const app = installLayout('without-platform', false);
    const r = probe('winnow-native', {}, app);
    expect(r.code).toBe('NATIVE_LOAD_FAILED');
    expect(r.message).toContain(`npm install ${PLATFORM_PACKAGE}`);
    expect(r.message).toContain(`${process.platform}-${process.arch}`);
  });

  it('WINNOW_ADDON names the addon; a missing or broken file is NATIVE_LOAD_FAILED with its path', () => {
    const copy = path.join(tmp, 'elsewhere');
    fs.mkdirSync(copy, { recursive: true });
    fs.copyFileSync(path.join(BUILT, 'winnow.node'), path.join(copy, 'w.node'));
    fs.copyFileSync(path.join(BUILT, 'libwinnow_onnxruntime.so.1'), path.join(copy, 'libwinnow_onnxruntime.so.1'));
    const ok = probe(dist, { WINNOW_ADDON: path.join(copy, 'w.node') });
    expect(ok.addon).toBe(path.join(copy, 'w.node'));
    expect(ok.library).toBe(path.join(copy, 'libwinnow_onnxruntime.so.1'));

    const missing = probe(dist, { WINNOW_ADDON: path.join(copy, 'nothing.node') });
    expect(missing.code).toBe('NATIVE_LOAD_FAILED');
    expect(missing.message).toContain(path.join(copy, 'nothing.node'));

    const broken = path.join(copy, 'broken.node');
    fs.writeFileSync(broken, 'not an ELF file');
    const bad = probe(dist, { WINNOW_ADDON: broken });
    expect(bad.code).toBe('NATIVE_LOAD_FAILED');
    expect(bad.message).toContain(`addon at ${broken} failed to load`);
  });
});
