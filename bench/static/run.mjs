// Static embeddings benchmark (issue #4): every (driver, threads) pair in its own fresh `node` process,
// then bench/results/static-<date>.json and the "Static embeddings (issue #4)" section of docs/benchmark.md.
//   node bench/static/run.mjs [--model potion-base-8m] [--n 5000] [--reps 5] [--only winnow,plain-js] [--no-docs]
// Needs: the model (`/usr/bin/python3 scripts/fixtures/make_fixtures.py bench --out bench/models --only potion-base-8m`),
// its ONNX graph for transformers.js (`/usr/bin/python3 bench/static/export_onnx.py bench/models/potion-base-8m`),
// `npm run build` at the root and `npm install` in bench/.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTexts } from './texts.mjs';
import { packageVersion } from '../package-version.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const arg = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const model = arg('--model', 'potion-base-8m');
const n = Number(arg('--n', 5000));
const reps = Number(arg('--reps', 5));
const all = ['winnow', 'winnow-tokenize', 'transformers.js', 'plain-js'];
const only = arg('--only', all.join(',')).split(',');
const modelDir = path.join(here, '..', 'models', model);
const cores = os.cpus().length;
const median = (a) => Math.min(...a); // best of N: the machine is shared, so the fastest pass is the least disturbed

const { StaticModel } = require(path.join(root, 'dist', 'cjs', 'index.js'));
const texts = loadTexts(n);
const m = await StaticModel.load(modelDir, { threads: 1 });
const tokens = (await m.countTokens(texts)).reduce((s, x) => s + x, 0);
const info = { dim: m.dim, vocab: m.vocabSize, dtype: m.dtype };
m.dispose();
console.log(`${texts.length} texts, ${tokens} tokens (${(tokens / texts.length).toFixed(1)} per text), ${model} ${info.vocab}×${info.dim} ${info.dtype}`);

const results = [];
for (const driver of only) {
  for (const threads of [...new Set([1, cores])]) {
    const p = spawnSync(process.execPath, [path.join(here, 'worker.mjs'), driver, String(threads), modelDir, String(n), String(reps)], {
      encoding: 'utf8',
      cwd: path.join(here, '..'),
      env: { ...process.env, RAYON_NUM_THREADS: String(threads) },
    });
    const line = p.stdout.trim().split('\n').pop();
    if (p.status !== 0 || !line?.startsWith('{')) {
      console.error(`${driver} × ${threads}: failed\n${p.stderr.slice(-2000)}`);
      results.push({ driver, threads, error: p.stderr.trim().split('\n').slice(-3).join(' ') });
      continue;
    }
    const r = JSON.parse(line);
    const s = median(r.seconds);
    r.sentencesPerSec = texts.length / s;
    r.tokensPerSec = tokens / s;
    results.push(r);
    console.log(`${driver.padEnd(16)} threads ${threads}: ${r.sentencesPerSec.toFixed(0).padStart(8)} sentences/s ${(r.tokensPerSec / 1e6).toFixed(2)} M tokens/s (best of ${reps})`);
  }
}

const versions = {
  node: process.versions.node,
  'winnow-native': require(path.join(root, 'package.json')).version,
  '@huggingface/transformers': packageVersion('@huggingface/transformers'),
  tokenizers: require(require.resolve('tokenizers/package.json', { paths: [path.join(here, '..')] })).version,
};
const date = new Date().toISOString().slice(0, 10);
const machine = `${os.cpus()[0].model}, ${cores} hardware threads, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}, load average ${os.loadavg()[0].toFixed(1)} at the end of the run`;
fs.mkdirSync(path.join(here, '..', 'results'), { recursive: true });
fs.writeFileSync(path.join(here, '..', 'results', `static-${date}.json`), JSON.stringify({ date, machine, versions, model, info, texts: texts.length, tokens, results }, null, 2));

if (!args.includes('--no-docs')) {
  const get = (d, t) => results.find((r) => r.driver === d && r.threads === t && !r.error);
  const rowsMd = results.map((r) =>
    r.error ? `| ${r.driver} | ${r.threads} | failed: ${r.error.replace(/\|/g, '/')} | | |` :
      `| ${r.driver} | ${r.threads} | ${r.sentencesPerSec.toFixed(0)} | ${(r.tokensPerSec / 1e6).toFixed(2)} M | ${(median(r.seconds) * 1000).toFixed(0)} ms |`);
  const ratio = (a, b) => (a && b ? (a.sentencesPerSec / b.sentencesPerSec).toFixed(1) + '×' : 'n/a');
  const lines = [
    '## Static embeddings (issue #4)',
    '',
    `${date} · ${machine} · Node ${versions.node} · winnow-native ${versions['winnow-native']} · @huggingface/transformers ${versions['@huggingface/transformers']} · tokenizers ${versions.tokenizers}`,
    '',
    `Model: \`${model}\` (${info.vocab} × ${info.dim} ${info.dtype}, the size of minishlab/potion-base-8M; random table, real tokenizer). ` +
      `Texts: the first ${texts.length} dbpedia-entity abstracts, ${tokens} tokens after model2vec's truncation (maxLength 512). ` +
      `Each (library, threads) runs in a fresh process: one warm-up, then the best of ${reps} passes over all texts.`,
    '',
    '| library | threads | sentences/s | tokens/s | time per pass |',
    '|---|---|---|---|---|',
    ...rowsMd,
    '',
    `Winnow vs transformers.js, one thread: ${ratio(get('winnow', 1), get('transformers.js', 1))} (target ≥ 5×); all threads: ${ratio(get('winnow', cores), get('transformers.js', cores))}. ` +
      `Winnow encode vs its tokenize-only pass: ${ratio(get('winnow', 1), get('winnow-tokenize', 1))} on one thread (target ≥ 0.8×), ${ratio(get('winnow', cores), get('winnow-tokenize', cores))} on all.`,
    '',
    'Drivers (bench/static/drivers.mjs): `winnow` = `StaticModel.encode`; `winnow-tokenize` = `StaticModel.countTokens` (the same ' +
      'character cut, tokenization and unknown-token removal, no table lookups); `transformers.js` = model2vec\'s ONNX export ' +
      '(EmbeddingBag over flat `input_ids` + `offsets`, written by bench/static/export_onnx.py) called directly with transformers.js\'s ' +
      'tokenizer in batches of 1024, as the potion model cards show; `plain-js` = npm `tokenizers` `encodeBatch` + averaging in JavaScript ' +
      '(threads via RAYON_NUM_THREADS).',
    '',
    `Reproduce: \`node bench/static/run.mjs --n ${n} --reps ${reps}\` (see the header of bench/static/run.mjs for the preparation steps).`,
    '',
  ];
  const docPath = path.join(root, 'docs', 'benchmark.md');
  let doc = fs.existsSync(docPath) ? fs.readFileSync(docPath, 'utf8') : '# Benchmarks\n\n';
  const start = doc.indexOf('## Static embeddings (issue #4)');
  if (start >= 0) {
    const next = doc.indexOf('\n## ', start + 5);
    doc = doc.slice(0, start) + lines.join('\n') + (next >= 0 ? doc.slice(next + 1) : '');
  } else {
    doc = doc.replace(/\n*$/, '\n\n') + lines.join('\n');
  }
  fs.writeFileSync(docPath, doc);
  console.log('updated docs/benchmark.md');
}
