#!/usr/bin/env node
// Tokenizer parity: Winnow's C++ tokenizer (native/tools/tokenize_cli) vs the Rust `tokenizers`
// library (npm tokenizers@0.23.2) on a deterministic multilingual corpus, singles and pairs, with
// and without special tokens. Compares ids, type ids, offsets and the special-tokens mask; exits 1 on
// any mismatch.
//
//   node scripts/tokenizer-parity.mjs <tokenizer.json> [--cli build/tokenize_cli] [--singles 5000]
//        [--pairs 2000] [--seed 1]
//
// Offsets: the Node binding reports offsets in Unicode code points (chars), not UTF-16 units; the
// harness converts them to UTF-16 (JS string indices) and the CLI reports UTF-16 via
// ByteOffsetsToUtf16. Lone surrogates are replaced by U+FFFD on both sides (the binding does the
// same when it converts a JS string to UTF-8).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { makeCorpus } from '../test/helpers/multilingual-corpus.mjs';
import { charToUtf16 } from '../test/helpers/offsets.mjs';

const require = createRequire(import.meta.url);
const { Tokenizer } = require('tokenizers');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const file = args.find((a, i) => !a.startsWith('--') && (i === 0 || !args[i - 1].startsWith('--')));
if (!file) {
  console.error('usage: tokenizer-parity.mjs <tokenizer.json> [--cli path] [--singles n] [--pairs n] [--seed s]');
  process.exit(2);
}
const cli = opt('--cli', 'build/tokenize_cli');
const nSingles = Number(opt('--singles', 5000));
const nPairs = Number(opt('--pairs', 2000));
const seed = Number(opt('--seed', 1));

const wellFormed = (s) => s.toWellFormed();
const corpus = makeCorpus(seed, nSingles + 2 * nPairs).map(wellFormed);
const inputs = [];
for (let i = 0; i < nSingles; i++) inputs.push({ a: corpus[i], b: null });
for (let i = 0; i < nPairs; i++) inputs.push({ a: corpus[nSingles + 2 * i], b: corpus[nSingles + 2 * i + 1] });

const tok = Tokenizer.fromFile(file);
let failures = 0;
for (const addSpecialTokens of [true, false]) {
  const cliArgs = [file, ...(addSpecialTokens ? [] : ['--no-special'])];
  const res = spawnSync(cli, cliArgs, {
    input: inputs.map((x) => JSON.stringify(x)).join('\n') + '\n',
    maxBuffer: 1 << 30,
    encoding: 'utf8',
  });
  if (res.status !== 0) {
    console.error(`${cli} failed (status ${res.status}, signal ${res.signal}):\n${res.stderr}`);
    process.exit(1);
  }
  const ours = res.stdout.trim().split('\n').map((l) => JSON.parse(l));
  if (ours.length !== inputs.length) {
    console.error(`CLI returned ${ours.length} lines for ${inputs.length} inputs`);
    process.exit(1);
  }
  const counts = { ids: 0, type_ids: 0, offsets: 0, special: 0, errors: 0 };
  let shown = 0;
  for (let i = 0; i < inputs.length; i++) {
    const { a, b } = inputs[i];
    const e = await tok.encode(a, b, { addSpecialTokens });
    const seqIds = e.getSequenceIds();
    const ca = charToUtf16(a);
    const cb = b === null ? null : charToUtf16(b);
    const ref = {
      ids: e.getIds(),
      type_ids: e.getTypeIds(),
      offsets: e.getOffsets().map(([s, t], k) => {
        const conv = seqIds[k] === 1 ? cb : ca;
        return [conv(s), conv(t)];
      }),
      special: e.getSpecialTokensMask(),
    };
    const mine = ours[i];
    if (mine.error) {
      counts.errors++;
      if (shown++ < 5) console.log(`#${i} error: ${mine.error}`, JSON.stringify({ a, b }));
      continue;
    }
    let bad = false;
    for (const k of ['ids', 'type_ids', 'offsets', 'special']) {
      if (JSON.stringify(ref[k]) !== JSON.stringify(mine[k])) {
        counts[k]++;
        bad = true;
      }
    }
    if (bad && shown++ < 5) {
      console.log(`#${i} mismatch (addSpecialTokens=${addSpecialTokens}) input=${JSON.stringify({ a, b })}`);
      for (const k of ['ids', 'type_ids', 'offsets', 'special']) {
        if (JSON.stringify(ref[k]) !== JSON.stringify(mine[k]))
          console.log(`  ${k}\n    ref:  ${JSON.stringify(ref[k])}\n    ours: ${JSON.stringify(mine[k])}`);
      }
    }
  }
  const total = Object.values(counts).reduce((x, y) => x + y, 0);
  failures += total;
  console.log(
    `${file} addSpecialTokens=${addSpecialTokens}: ${nSingles} singles + ${nPairs} pairs; mismatches ids=${counts.ids} ` +
      `type_ids=${counts.type_ids} offsets=${counts.offsets} special=${counts.special} errors=${counts.errors}`,
  );
}
process.exit(failures ? 1 : 0);
