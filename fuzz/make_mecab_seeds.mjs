// Seeds of mecab_dict_fuzzer (fuzz/seeds/mecab/): a tiny UTF-8 dictionary compiled by mecab-dict-index (Debian
// package mecab-utils) from sources written here, packed as the fuzzer reads its input (four uint32 sizes, then
// sys.dic, unk.dic, char.bin, matrix.bin and a text).
//   node fuzz/make_mecab_seeds.mjs [/usr/lib/mecab/mecab-dict-index]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const indexer = process.argv[2] ?? '/usr/lib/mecab/mecab-dict-index';
const tmp = mkdtempSync(join(tmpdir(), 'mecab-seed-'));
const src = join(tmp, 'src');
const out = join(tmp, 'out');
mkdirSync(src);
mkdirSync(out);
const files = {
  'char.def': `DEFAULT 0 1 0\nSPACE 0 1 0\nKANJI 0 0 2\nHIRAGANA 0 1 2\nKATAKANA 1 1 0\nALPHA 1 1 0\nNUMERIC 1 1 0
0x0020 SPACE\n0x0009 SPACE\n0x0030..0x0039 NUMERIC\n0x0041..0x005A ALPHA\n0x0061..0x007A ALPHA\n0x3041..0x309F HIRAGANA
0x30A1..0x30FF KATAKANA KANJI\n0x4E00..0x9FFF KANJI\n0xFF66..0xFF9F KATAKANA\n`,
  'unk.def': ['DEFAULT,3,3,3000,記号,一般', 'SPACE,1,1,100,記号,空白', 'KANJI,2,2,5000,名詞,一般', 'HIRAGANA,3,3,6000,名詞,一般',
    'KATAKANA,2,2,4000,名詞,一般', 'ALPHA,2,2,4000,名詞,固有名詞', 'NUMERIC,2,2,3000,名詞,数'].join('\n') + '\n',
  'matrix.def': '4 4\n' + [0, 100, 200, 300, 100, -200, 50, 400, 50, 300, 100, -100, 0, 10, 20, 500]
    .map((c, i) => `${i >> 2} ${i & 3} ${c}`).join('\n') + '\n',
  'words.csv': ['東京,2,2,1000,名詞,固有名詞', '京都,2,2,1200,名詞,固有名詞', '東,2,2,3000,名詞,一般', 'に,3,3,500,助詞,格助詞',
    'は,3,3,400,助詞,係助詞', '行く,1,1,2000,動詞,自立', 'すもも,2,2,1500,名詞,一般', 'もも,2,2,1500,名詞,一般',
    'も,3,3,600,助詞,係助詞', 'の,3,3,300,助詞,連体化', 'うち,2,2,1800,名詞,非自立', 'カタカナ,2,2,2500,名詞,一般'].join('\n') + '\n',
  dicrc: 'cost-factor = 800\nbos-feature = BOS/EOS,*,*\neval-size = 6\nunk-eval-size = 4\nconfig-charset = UTF-8\n',
};
for (const [f, text] of Object.entries(files)) writeFileSync(join(src, f), text);
execFileSync(indexer, ['-d', src, '-o', out, '-f', 'utf-8', '-t', 'utf-8'], { stdio: 'ignore' });
const parts = ['sys.dic', 'unk.dic', 'char.bin', 'matrix.bin'].map((f) => readFileSync(join(out, f)));
const header = Buffer.alloc(16);
parts.forEach((p, i) => header.writeUInt32LE(p.length, 4 * i));
const text = Buffer.from('すもももももももものうち 東京に行く ｶﾀｶﾅ カタカナ漢字 abc123 😀');
mkdirSync(join(here, 'seeds/mecab'), { recursive: true });
writeFileSync(join(here, 'seeds/mecab/tiny'), Buffer.concat([header, ...parts, text]));
rmSync(tmp, { recursive: true, force: true });
console.log(`wrote fuzz/seeds/mecab/tiny (${parts.map((p) => p.length).join(' + ')} bytes of dictionary)`);
