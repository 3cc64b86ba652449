// Winnow's MeCab segmenter (native/core/mecab, through native/tools/mecab_cli) against the `mecab` command on
// the same dictionary: every JSQuAD question, passage and passage sentence plus generated edge cases, word for
// word and byte for byte (scripts/mecab-parity.mjs). Skips, saying why, only when the `mecab` command or the
// dictionary is missing (Debian: apt-get install mecab mecab-ipadic-utf8). UniDic (unidic-mecab, 1 GB) runs
// only with WINNOW_MECAB_UNIDIC=1.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/reference';

const SCRIPT = path.join(ROOT, 'scripts', 'mecab-parity.mjs');
const IPADIC = '/var/lib/mecab/dic/ipadic-utf8';
const UNIDIC = '/var/lib/mecab/dic/unidic';

function missing(dic: string): string | null {
  if (spawnSync('mecab', ['-v']).error) return 'the `mecab` command is not installed (apt-get install mecab)';
  if (!fs.existsSync(path.join(dic, 'sys.dic'))) return `no MeCab dictionary at ${dic} (apt-get install mecab-ipadic-utf8)`;
  return null;
}

function parity(dic: string, extra: string[] = []): any {
  const r = spawnSync(process.execPath, [SCRIPT, '--dic', dic, ...extra], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
  // The first differences, with both outputs, are on stderr.
  expect({ status: r.status, summary }, r.stderr.slice(0, 4000)).toMatchObject({ status: 0, summary: { identical: true } });
  return summary;
}

const ipadicMissing = missing(IPADIC);
if (ipadicMissing) console.warn(`test/mecab.test.ts: skipping the MeCab parity tests: ${ipadicMissing}`);

describe.skipIf(ipadicMissing !== null)(`MeCab segmentation equals the mecab command${ipadicMissing ? ` (skipped: ${ipadicMissing})` : ''}`, () => {
  it('ipadic-utf8: -Owakati identical on ≥ 2,000 JSQuAD texts and the generated edge cases', () => {
    const s = parity(IPADIC);
    expect(s.corpusLines).toBeGreaterThanOrEqual(2000);
    expect(s.mismatches).toBe(0);
    expect(s.records).toBeGreaterThan(s.corpusLines);
  }, 600_000);

  it('ipadic-utf8: each word carries the feature string mecab prints for it', () => {
    expect(parity(IPADIC, ['--features']).mismatches).toBe(0);
  }, 600_000);

  it.skipIf(process.env.WINNOW_MECAB_UNIDIC !== '1' || missing(UNIDIC) !== null)(
    'unidic (WINNOW_MECAB_UNIDIC=1): -Owakati and features identical', () => {
      expect(parity(UNIDIC).mismatches).toBe(0);
      expect(parity(UNIDIC, ['--features']).mismatches).toBe(0);
    }, 600_000);

  describe('a broken dictionary is a coded error in a process that survives', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-mecab-'));
    afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
    const cli = () => spawnSync(process.execPath, [SCRIPT, '--build-only'], { encoding: 'utf8' }).stdout.trim();

    // A copy of ipadic-utf8 with sys.dic replaced by `sys` (the other files as they are).
    function brokenCopy(name: string, sys: Buffer): string {
      const dir = path.join(tmp, name);
      fs.mkdirSync(dir);
      for (const f of ['char.bin', 'matrix.bin', 'unk.dic', 'dicrc']) fs.copyFileSync(path.join(IPADIC, f), path.join(dir, f));
      fs.writeFileSync(path.join(dir, 'sys.dic'), sys);
      return dir;
    }
    const run = (dir: string) => spawnSync(cli(), ['-d', dir], { input: '日本語のテキスト\n', encoding: 'utf8', timeout: 60_000 });

    it('a truncated sys.dic: TOKENIZER_INVALID naming the file', () => {
      const head = Buffer.alloc(200_000);
      fs.readSync(fs.openSync(path.join(IPADIC, 'sys.dic'), 'r'), head, 0, head.length, 0);
      const r = run(brokenCopy('truncated', head));
      expect(r.signal).toBeNull();
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^TOKENIZER_INVALID: MeCab dictionary file '.*sys\.dic': bad magic number or wrong size/);
    }, 300_000);

    it('a sys.dic in EUC-JP: TOKENIZER_UNSUPPORTED saying only UTF-8 dictionaries are supported', () => {
      const sys = fs.readFileSync(path.join(IPADIC, 'sys.dic'));
      sys.fill(0, 40, 72);
      sys.write('EUC-JP', 40, 'latin1');
      const r = run(brokenCopy('eucjp', sys));
      expect(r.signal).toBeNull();
      expect(r.status).toBe(1);
      expect(r.stderr).toContain("TOKENIZER_UNSUPPORTED: MeCab dictionary file");
      expect(r.stderr).toContain("is in charset 'EUC-JP'; only UTF-8 dictionaries are supported");
    }, 300_000);
  });
});
