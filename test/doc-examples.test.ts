// The JavaScript examples of README.md and docs/api.md, run as written except for the model folders, which become
// the test fixtures (the same architectures, tiny). Each runs as an ES module in its own node process, importing
// 'winnow-native' through the package's own name and "exports" (a file inside the package resolves it), as a user's
// file does. An example that no longer runs fails here.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, ROOT } from './helpers/reference';

const DOCS = ['README.md', path.join('docs', 'api.md')];
const OUT = path.join(ROOT, 'build', 'doc-examples'); // inside the package: 'winnow-native' resolves to it

let prompted = '';
const FOLDERS: Array<[RegExp, () => string]> = [
  [/'(\.\/|models\/)ms-marco-MiniLM-L-6-v2'/g, () => path.join(FIXTURES, 'bert-ce-tiny')],
  [/'(\.\/e5-small-unsupervised|models\/e5-small-v2)'/g, () => path.join(FIXTURES, 'e5-tiny')],
  [/'models\/some-model-with-prompts'/g, () => prompted],
  [/'(\.\/|models\/)potion-base-8M'/g, () => path.join(FIXTURES, 'potion-tiny')],
  [/'(\.\/pruner-onnx|models\/provence-onnx)'/g, () => path.join(FIXTURES, 'pruning-bert-tiny')],
];

/** Each ```js block of a markdown file that loads a model, with its line. */
function examples(file: string): Array<{ line: number; code: string }> {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const out: Array<{ line: number; code: string }> = [];
  const re = /^```js\n([\s\S]*?)^```/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const code = m[1];
    if (!/\.load\(/.test(code)) continue; // import lines and fragments
    out.push({ line: text.slice(0, m.index).split('\n').length, code });
  }
  return out;
}

describe('documentation examples', () => {
  beforeAll(() => {
    fs.mkdirSync(OUT, { recursive: true });
    // The api.md example of a model whose config names its prompts: e5-tiny with a 'query' prompt.
    prompted = path.join(OUT, 'e5-with-prompts');
    fs.rmSync(prompted, { recursive: true, force: true });
    fs.cpSync(path.join(FIXTURES, 'e5-tiny'), prompted, { recursive: true });
    fs.writeFileSync(path.join(prompted, 'config_sentence_transformers.json'), JSON.stringify({ prompts: { query: 'query: ' } }));
  });
  afterAll(() => fs.rmSync(OUT, { recursive: true, force: true }));

  const all = DOCS.flatMap((file) => examples(file).map((e) => ({ file, ...e })));
  it('finds the examples', () => {
    expect(all.length).toBeGreaterThanOrEqual(6);
  });

  it('the package imports by name, with named exports and a default one, as ESM and as CommonJS', () => {
    const tiny = JSON.stringify(path.join(FIXTURES, 'bert-ce-tiny'));
    const esm = path.join(OUT, 'default-import.mjs');
    fs.writeFileSync(esm, `import winnow, { CrossEncoder } from 'winnow-native';
if (winnow.CrossEncoder !== CrossEncoder) throw new Error('default and named exports differ');
const ce = await winnow.CrossEncoder.load(${tiny}, { threads: 1 });
console.log((await ce.predict([['a', 'b']])).length);\n`);
    expect(execFileSync(process.execPath, [esm], { cwd: OUT, encoding: 'utf8' }).trim()).toBe('1');
    const cjs = path.join(OUT, 'require.cjs');
    fs.writeFileSync(cjs, `const { CrossEncoder } = require('winnow-native');
CrossEncoder.load(${tiny}, { threads: 1 }).then((ce) => ce.predict([['a', 'b']])).then((s) => console.log(s.length));\n`);
    expect(execFileSync(process.execPath, [cjs], { cwd: OUT, encoding: 'utf8' }).trim()).toBe('1');
  }, 60_000);

  for (const { file, line, code } of all) {
    // A hub id needs a Hugging Face cache holding it: test/hub-cache.test.ts covers those loads.
    const hub = /\.load\('[\w-]+\/[\w.-]+'/.test(code) && !/\.load\('(\.\/|models\/)/.test(code);
    it.skipIf(hub)(`${file}:${line} runs`, () => {
      let src = code;
      for (const [re, folder] of FOLDERS) src = src.replace(re, () => JSON.stringify(folder()));
      // The tiny fixture is 32 wide: Matryoshka dimensions scaled to it.
      src = src.replace(/dimensions: 256/g, 'dimensions: 16');
      expect(src).not.toMatch(/\.load\('(\.\/|models\/)/); // every folder was mapped to a fixture
      const f = path.join(OUT, `${path.basename(file, '.md')}-${line}.mjs`);
      fs.writeFileSync(f, src);
      execFileSync(process.execPath, [f], { cwd: OUT, stdio: 'pipe', timeout: 60_000 });
    }, 90_000);
  }
});
