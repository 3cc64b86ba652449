// Tokenizers from sentencepiece .model files (native/core/tokenizer/slow, through native/tools/spm_cli): the six
// trained fixtures under test/fixtures/tokenizers/spm, each with its class's id layout, against the sentencepiece
// library and against Hugging Face `tokenizers` running the converted tokenizer.json (scripts/spm-parity.mjs),
// t5-small's real tokenizer.json against a spiece.model rebuilt from it, and broken files as coded errors in a
// process that survives. Skips, saying why, only when Debian's python3 lacks sentencepiece or protobuf
// (apt-get install python3-sentencepiece python3-protobuf).
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/reference';

const SCRIPT = path.join(ROOT, 'scripts', 'spm-parity.mjs');
const FIX = path.join(ROOT, 'test', 'fixtures', 'tokenizers', 'spm');
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const pythonMissing = spawnSync(PYTHON, ['-c', 'import sentencepiece, google.protobuf']).status === 0
  ? null
  : `${PYTHON} cannot import sentencepiece and protobuf (apt-get install python3-sentencepiece python3-protobuf)`;
if (pythonMissing) console.warn(`test/sentencepiece.test.ts: skipping the parity test: ${pythonMissing}`);

// The spm_cli the native test build made (npm test runs test:native first); otherwise the script compiles one.
const BUILT_CLI = path.join(ROOT, 'build', 'native-tests', 'spm_cli');
const CLI_ARGS = fs.existsSync(BUILT_CLI) ? ['--cli', BUILT_CLI] : [];

// Runs the script without blocking this worker's event loop (a long spawnSync starves vitest's RPC).
function runScript(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [SCRIPT, ...args]);
    let stdout = '', stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    p.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe.skipIf(pythonMissing !== null)(`sentencepiece models: parity${pythonMissing ? ` (skipped: ${pythonMissing})` : ''}`, () => {
  it('equals tokenizers on the converted tokenizer.json (ids, offsets) and the sentencepiece library wherever the conversion does', async () => {
    const r = await runScript([...CLI_ARGS]);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
    // The first differences are on stderr.
    expect({ status: r.status, identical: summary.identical }, r.stderr.slice(0, 4000)).toEqual({ status: 0, identical: true });
    expect(summary.realTexts).toBeGreaterThanOrEqual(1000);
    expect(summary.pairs).toBeGreaterThanOrEqual(250);
    const trained = ['xlmr-unigram', 'xlmr-bpe', 'camembert-bpe', 't5-unigram', 't5-identity', 'deberta-unigram'];
    for (const name of trained) {
      const m = summary.models[name];
      expect(m, name).toMatchObject({ tokenizers: 0, winnowOnly: 0, tokenizerJsonEqual: true });
      // The library and the conversion part only on edge cases, and on real text at most at a score tie.
      expect(m.sentencepieceEqualRealTexts, name).toBeGreaterThanOrEqual(summary.realTexts - 1);
      expect(m.conversionDiffers, name).toBeLessThanOrEqual(30);
    }
    expect(summary.models['t5-identity'].offsetSlices.checked).toBeGreaterThan(100_000);
    expect(summary.models['t5-identity'].offsetSlices.bad).toBe(0);
    for (const v of ['deberta-unigram {"do_lower_case":true,"split_by_punct":true}', 't5-unigram {"legacy":false}'])
      expect(summary.models[v].tokenizers, v).toBe(0);
    const t5 = summary.models['t5-small (rebuilt spiece.model)'];
    expect(t5.skipped, 't5-small tokenizer.json in ../shared').toBeUndefined();
    expect(t5).toMatchObject({ realTokenizerJsonUnexplained: 0, winnowOnly: 0, sentencepieceEqualRealTexts: summary.realTexts });
    expect(t5.realTokenizerJsonEqual).toBeGreaterThanOrEqual(summary.cases - 10);
  }, 900_000);
});

describe('sentencepiece models: broken files are coded errors', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-spm-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  let cliPath = '';
  beforeAll(async () => {
    cliPath = CLI_ARGS.length ? BUILT_CLI : (await runScript(['--build-only'])).stdout.trim();
  }, 900_000);

  function load(bytes: Buffer, cls = 'XLMRobertaTokenizer') {
    const file = path.join(tmp, `m${Math.random().toString(36).slice(2)}.model`);
    fs.writeFileSync(file, bytes);
    const r = spawnSync(cliPath, [file, cls], { input: '{"a": "hello"}\n', encoding: 'utf8', timeout: 60_000 });
    return { file, status: r.status, signal: r.signal, stderr: r.stderr, stdout: r.stdout };
  }

  it('a truncated model, an empty file, a huge length and an unknown class', () => {
    const real = fs.readFileSync(path.join(FIX, 'xlmr-unigram.model'));
    const cases: Array<[Buffer, string, RegExp]> = [
      [real.subarray(0, 5000), 'XLMRobertaTokenizer', /^TOKENIZER_INVALID: sentencepiece model '.*': truncated or not a sentencepiece model/],
      [Buffer.alloc(0), 'T5Tokenizer', /^TOKENIZER_INVALID: sentencepiece model '.*': no pieces/],
      [Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), 'T5Tokenizer', /^TOKENIZER_INVALID: .*truncated/],
      [real, 'AlbertTokenizer', /^TOKENIZER_UNSUPPORTED: sentencepiece model '.*': Winnow builds XLMRobertaTokenizer/],
    ];
    for (const [bytes, cls, re] of cases) {
      const r = load(bytes, cls);
      expect({ status: r.status, signal: r.signal }, r.stderr).toEqual({ status: 1, signal: null });
      expect(r.stderr).toMatch(re);
      expect(r.stderr).toContain(r.file);
    }
  }, 600_000);

  it('the full model loads and encodes', () => {
    const r = load(fs.readFileSync(path.join(FIX, 'xlmr-unigram.model')));
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).ids).toEqual([0, 193, 57, 141, 2]);
  }, 600_000);
});
