// A model folder may come from anywhere: the paths its configs name must stay inside it, its config values are
// checked where they are read and blamed on the file (CONFIG_INVALID naming the file, the key and the value, not
// INVALID_ARGUMENT as if the caller had passed them), and what would only fail on the first call (graph element
// types, token ids past the embedding table, duplicate safetensors keys) is refused at load (issue 32).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CrossEncoder, PruningEncoder, SentenceEncoder, StaticModel } from '../lib/index';
import { editedCopy } from './helpers/model-copy';
import { classifierGraph, encoderGraph, pruningGraph } from './helpers/onnx-graph';
import { FIXTURES } from './helpers/reference';
import { errorOf } from './helpers/errors';

const CE = path.join(FIXTURES, 'bert-ce-tiny');
const PRUNE = path.join(FIXTURES, 'pruning-bert-tiny');
const E5 = path.join(FIXTURES, 'e5-tiny');
const POTION = path.join(FIXTURES, 'potion-tiny');
const POTION_ST = path.join(FIXTURES, 'potion-tiny-st');

const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));
const writeJson = (file: string, value: unknown) => fs.writeFileSync(file, JSON.stringify(value, null, 2));
const editJson = (file: string, edit: (j: any) => void) => {
  const j = readJson(file);
  edit(j);
  writeJson(file, j);
};
/** A fresh temporary folder (outside every model folder made here). */
const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-outside-'));

describe('paths a model folder names stay inside it', () => {
  it('winnow_pruning.json model: absolute, climbing out with .., or through a symbolic link is CONFIG_INVALID', async () => {
    // A valid pruning model outside the folder: before the check, each of these loaded it.
    const outside = tempDir();
    fs.copyFileSync(path.join(PRUNE, 'model.onnx'), path.join(outside, 'model.onnx'));
    const cases: Array<[string, (dir: string) => string]> = [
      ['absolute', () => path.join(outside, 'model.onnx')],
      ['/etc/passwd', () => '/etc/passwd'],
      ['..', (dir) => path.relative(dir, path.join(outside, 'model.onnx'))],
      ['symlink', (dir) => {
        fs.symlinkSync(path.join(outside, 'model.onnx'), path.join(dir, 'evil.onnx'));
        return 'evil.onnx';
      }],
      ['symlink in onnx/', (dir) => {
        fs.mkdirSync(path.join(dir, 'onnx'));
        fs.symlinkSync(path.join(outside, 'model.onnx'), path.join(dir, 'onnx', 'evil.onnx'));
        return 'evil.onnx';
      }],
      ['symlinked folder', (dir) => {
        fs.symlinkSync(outside, path.join(dir, 'sub'));
        return 'sub/model.onnx';
      }],
    ];
    for (const [label, name] of cases) {
      const dir = editedCopy(PRUNE, (d) => {
        const model = name(d);
        editJson(path.join(d, 'winnow_pruning.json'), (j) => (j.model = model));
      });
      const e = await errorOf(() => PruningEncoder.load(dir, { threads: 1 }));
      expect(e.code, `${label}: ${e.message}`).toBe('CONFIG_INVALID');
      expect(e.message, label).toMatch(/winnow_pruning\.json model names '.*', .*must stay inside the folder/);
    }
  });

  it('winnow_pruning.json model inside the folder still loads, .. and links within it included', async () => {
    for (const model of ['model.onnx', 'sub/../model.onnx', './model.onnx', 'inner.onnx']) {
      const dir = editedCopy(PRUNE, (d) => {
        fs.mkdirSync(path.join(d, 'sub'));
        fs.symlinkSync('model.onnx', path.join(d, 'inner.onnx'));
        editJson(path.join(d, 'winnow_pruning.json'), (j) => (j.model = model));
      });
      const pe = await PruningEncoder.load(dir, { threads: 1 });
      expect((await pe.predict([['q', 'a']])).length).toBe(1);
      pe.dispose();
    }
  });

  it("a Hugging Face cache snapshot, whose files link into the repository's blobs/, loads", async () => {
    const repo = path.join(tempDir(), 'models--org--pruning');
    const snapshot = path.join(repo, 'snapshots', 'a'.repeat(40));
    fs.mkdirSync(snapshot, { recursive: true });
    fs.mkdirSync(path.join(repo, 'blobs'));
    for (const f of fs.readdirSync(PRUNE)) {
      const bytes = fs.readFileSync(path.join(PRUNE, f));
      const blob = path.join(repo, 'blobs', createHash('sha256').update(bytes).digest('hex'));
      fs.writeFileSync(blob, bytes);
      fs.symlinkSync(path.relative(snapshot, blob), path.join(snapshot, f));
    }
    const pe = await PruningEncoder.load(snapshot, { threads: 1 });
    expect(pe.file).toBe(path.join(snapshot, 'model.onnx'));
    pe.dispose();
  });

  it("modules.json's Pooling path: absolute, .. or a link out is CONFIG_INVALID (was read, or silently mean pooling)", async () => {
    // A Pooling config outside the folder, with CLS pooling where the model's own says mean.
    const outside = tempDir();
    fs.mkdirSync(path.join(outside, 'pool'));
    writeJson(path.join(outside, 'pool', 'config.json'), { word_embedding_dimension: 32, pooling_mode_cls_token: true });
    const cases: Array<[string, (dir: string) => string]> = [
      ['absolute', () => path.join(outside, 'pool')],
      ['..', (dir) => path.relative(dir, path.join(outside, 'pool'))],
      ['symlink', (dir) => {
        fs.symlinkSync(path.join(outside, 'pool'), path.join(dir, 'linked_pool'));
        return 'linked_pool';
      }],
    ];
    for (const [label, name] of cases) {
      const dir = editedCopy(E5, (d) => {
        const p = name(d);
        editJson(path.join(d, 'modules.json'), (mods) => (mods.find((m: any) => m.type.endsWith('Pooling')).path = p));
      });
      const e = await errorOf(() => SentenceEncoder.load(dir, { threads: 1 }));
      expect(e.code, `${label}: ${e.message}`).toBe('CONFIG_INVALID');
      expect(e.message, label).toMatch(/modules\.json Pooling path names '.*', .*must stay inside the folder/);
    }
    const noPath = editedCopy(E5, (d) => editJson(path.join(d, 'modules.json'), (mods) => (mods.find((m: any) => m.type.endsWith('Pooling')).path = 7)));
    expect((await errorOf(() => SentenceEncoder.load(noPath, { threads: 1 }))).code).toBe('CONFIG_INVALID');
  });

  it("modules.json's StaticEmbedding path: .. or a link out is CONFIG_INVALID (was loaded from there)", async () => {
    const outside = tempDir();
    fs.cpSync(path.join(POTION_ST, '0_StaticEmbedding'), path.join(outside, 'emb'), { recursive: true });
    const cases: Array<[string, (dir: string) => string]> = [
      ['absolute', () => path.join(outside, 'emb')],
      ['..', (dir) => path.relative(dir, path.join(outside, 'emb'))],
      ['symlink', (dir) => {
        fs.symlinkSync(path.join(outside, 'emb'), path.join(dir, 'linked'));
        return 'linked';
      }],
    ];
    for (const [label, name] of cases) {
      const dir = editedCopy(POTION_ST, (d) => {
        fs.rmSync(path.join(d, '0_StaticEmbedding'), { recursive: true });
        const p = name(d);
        editJson(path.join(d, 'modules.json'), (mods) => (mods[0].path = p));
      });
      const e = await errorOf(() => StaticModel.load(dir, { threads: 1 }));
      expect(e.code, `${label}: ${e.message}`).toBe('CONFIG_INVALID');
      expect(e.message, label).toMatch(/modules\.json StaticEmbedding path names '.*', .*must stay inside the folder/);
    }
    const sm = await StaticModel.load(POTION_ST, { threads: 1 });
    sm.dispose();
  });
});

describe('config values are checked where they are read and blamed on the file', () => {
  it('num_labels that is negative, fractional, a string, past int64 or absurd is CONFIG_INVALID with the value as written', async () => {
    const cases: Array<[string, string]> = [
      ['-1', 'num_labels must be an integer from 1 to 1048576, not -1'],
      ['0', 'num_labels must be an integer from 1 to 1048576, not 0'],
      ['1.5', 'num_labels must be an integer, not 1.5'],
      ['"1"', 'num_labels must be an integer, not "1"'],
      ['18446744073709551615', 'num_labels must be an integer, not 18446744073709551615'],
      ['4000000000', 'num_labels must be an integer from 1 to 1048576, not 4000000000'],
    ];
    for (const [value, message] of cases) {
      const dir = editedCopy(CE, (d) => {
        const file = path.join(d, 'config.json');
        fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/^\{/, `{\n  "num_labels": ${value},`));
      });
      const e = await errorOf(() => CrossEncoder.load(dir, { threads: 1 }));
      expect(e.code, `${value}: ${e.message}`).toBe('CONFIG_INVALID');
      expect(e.message).toContain(message);
      expect(e.message).toContain('config.json');
    }
  });

  it('an activation that is not a string is CONFIG_INVALID, as the docs say, not ignored', async () => {
    const cases: Array<[string, (c: any) => void, RegExp]> = [
      ['activation_fn 123', (c) => (c.sentence_transformers = { activation_fn: 123 }), /sentence_transformers: activation_fn must be a string, not 123/],
      ['sentence_transformers 5', (c) => (c.sentence_transformers = 5), /sentence_transformers must be an object, not 5/],
      ['sbert_ce_default_activation_function []', (c) => (c.sbert_ce_default_activation_function = []), /sbert_ce_default_activation_function must be a string, not \[\]/],
    ];
    for (const [label, edit, message] of cases) {
      const dir = editedCopy(CE, (d) => editJson(path.join(d, 'config.json'), edit));
      const e = await errorOf(() => CrossEncoder.load(dir, { threads: 1 }));
      expect(e.code, label).toBe('CONFIG_INVALID');
      expect(e.message, label).toMatch(message);
    }
    // The caller's activation option still decides without reading the config's.
    const ok = editedCopy(CE, (d) => editJson(path.join(d, 'config.json'), (c) => (c.sentence_transformers = { activation_fn: 'torch.nn.modules.activation.Sigmoid' })));
    const ce = await CrossEncoder.load(ok, { threads: 1 });
    expect(ce.activation).toBe('sigmoid');
    ce.dispose();
  });

  it("winnow_pruning.json max_length too large, negative or fractional is the file's fault: CONFIG_INVALID naming it", async () => {
    const cases: Array<[string, RegExp]> = [
      ['1000000000000', /winnow_pruning\.json: max_length must be an integer from 1 to 2147483647, not 1000000000000/],
      ['100000', /winnow_pruning\.json: max_length 100000 exceeds the model's maximum of 512/],
      ['-5', /winnow_pruning\.json: max_length must be an integer from 1 to 2147483647, not -5/],
      ['1e12', /winnow_pruning\.json: max_length must be an integer, not 1000000000000\.0/],
    ];
    for (const [value, message] of cases) {
      const dir = editedCopy(PRUNE, (d) => {
        const file = path.join(d, 'winnow_pruning.json');
        fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/"max_length": \d+/, `"max_length": ${value}`));
      });
      const e = await errorOf(() => PruningEncoder.load(dir, { threads: 1 }));
      expect(e.code, `${value}: ${e.message}`).toBe('CONFIG_INVALID');
      expect(e.message).toMatch(message);
      // The caller's maxLength still wins over the file's, as documented.
      if (value === '100000') {
        const pe = await PruningEncoder.load(dir, { threads: 1, maxLength: 128 });
        expect(pe.maxLength).toBe(128);
        pe.dispose();
      }
    }
  });

  it('sentence_bert_config.json max_seq_length of 0 or below is CONFIG_INVALID, not ignored', async () => {
    const dir = editedCopy(E5, (d) => editJson(path.join(d, 'sentence_bert_config.json'), (c) => (c.max_seq_length = -3)));
    const e = await errorOf(() => SentenceEncoder.load(dir, { threads: 1 }));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toMatch(/sentence_bert_config\.json: max_seq_length must be an integer from 1 to 2147483647, not -3/);
  });

  it('max_position_embeddings below 0 is CONFIG_INVALID', async () => {
    const dir = editedCopy(CE, (d) => editJson(path.join(d, 'config.json'), (c) => (c.max_position_embeddings = -7)));
    const e = await errorOf(() => CrossEncoder.load(dir, { threads: 1 }));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toMatch(/max_position_embeddings must be an integer from 0 to 2147483647, not -7/);
  });
});

describe('StaticModel: token ids past the embedding table are refused at load', () => {
  it('a vocabulary id past the table is CONFIG_INVALID at load (every encode meeting it was INVALID_ARGUMENT)', async () => {
    const dir = editedCopy(POTION, (d) => editJson(path.join(d, 'tokenizer.json'), (t) => (t.model.vocab.hello = 99999)));
    const e = await errorOf(() => StaticModel.load(dir, { threads: 1 }));
    expect(e.code, e.message).toBe('CONFIG_INVALID');
    expect(e.message).toMatch(/tokenizer\.json: model\.vocab\["hello"\] is token id 99999, past the ids the embedding table of .*model\.safetensors addresses/);
  });

  it('an added token whose id is past the table is CONFIG_INVALID at load', async () => {
    const dir = editedCopy(POTION, (d) => editJson(path.join(d, 'tokenizer.json'), (t) => (t.added_tokens[2].id = 40000)));
    const e = await errorOf(() => StaticModel.load(dir, { threads: 1 }));
    expect(e.code, e.message).toBe('CONFIG_INVALID');
    expect(e.message).toMatch(/tokenizer\.json: added_tokens\[2\]\.id is token id 40000/);
  });

  it('the fixtures still load and encode', async () => {
    for (const name of ['potion-tiny', 'potion-tiny-st', 'potion-tiny-vocabq', 'potion-tiny-int8']) {
      const sm = await StaticModel.load(path.join(FIXTURES, name), { threads: 1 });
      expect((await sm.encode(['hello world'])).rows).toBe(1);
      sm.dispose();
    }
  });
});

describe('graphs whose element types Winnow cannot feed or read are refused at load', () => {
  /** A copy of `from` with its ONNX file replaced by `graph`. */
  const withGraph = (from: string, file: string, graph: Buffer) =>
    editedCopy(from, (d) => {
      if (fs.existsSync(path.join(d, 'onnx'))) fs.rmSync(path.join(d, 'onnx'), { recursive: true });
      fs.mkdirSync(path.dirname(path.join(d, file)), { recursive: true });
      fs.writeFileSync(path.join(d, file), graph);
    });

  it('CrossEncoder: int32 / float input_ids, int64 logits are ONNX_INVALID naming the tensor and the types accepted', async () => {
    const good = await CrossEncoder.load(withGraph(CE, 'model.onnx', classifierGraph()), { threads: 1 });
    expect((await good.predict([['a', 'b']])).length).toBe(1);
    good.dispose();
    const cases: Array<[Buffer, RegExp]> = [
      [classifierGraph('int32'), /input input_ids is int32; Winnow feeds it int64/],
      [classifierGraph('float'), /input input_ids is float32; Winnow feeds it int64/],
      [classifierGraph('int64', 'int64'), /output logits is int64; accepted: float32, float16/],
    ];
    for (const [graph, message] of cases) {
      const e = await errorOf(() => CrossEncoder.load(withGraph(CE, 'model.onnx', graph), { threads: 1 }));
      expect(e.code, e.message).toBe('ONNX_INVALID');
      expect(e.message).toMatch(message);
    }
  });

  it('SentenceEncoder: int32 input_ids, int64 or float64 output are ONNX_INVALID at load', async () => {
    const good = await SentenceEncoder.load(withGraph(E5, 'model.onnx', encoderGraph()), { threads: 1 });
    expect(good.dim).toBe(1);
    good.dispose();
    const cases: Array<[Buffer, RegExp]> = [
      [encoderGraph('int32'), /input input_ids is int32; Winnow feeds it int64/],
      [encoderGraph('int64', 'int64'), /output last_hidden_state is int64; accepted: float32/],
      [encoderGraph('int64', 'double'), /output last_hidden_state is float64; accepted: float32/],
    ];
    for (const [graph, message] of cases) {
      const e = await errorOf(() => SentenceEncoder.load(withGraph(E5, 'model.onnx', graph), { threads: 1 }));
      expect(e.code, e.message).toBe('ONNX_INVALID');
      expect(e.message).toMatch(message);
    }
  });

  it('PruningEncoder: int32 input_ids, int64 ranking_logits, float16 pruning_logits are ONNX_INVALID at load', async () => {
    const good = await PruningEncoder.load(withGraph(PRUNE, 'model.onnx', pruningGraph()), { threads: 1 });
    expect((await good.predict([['a', 'b']])).length).toBe(1);
    good.dispose();
    const cases: Array<[Buffer, RegExp]> = [
      [pruningGraph('int32'), /input input_ids is int32; Winnow feeds it int64/],
      [pruningGraph('int64', 'int64'), /output ranking_logits is int64; accepted: float32/],
      [pruningGraph('int64', 'float', 'float16'), /output pruning_logits is float16; accepted: float32/],
    ];
    for (const [graph, message] of cases) {
      const e = await errorOf(() => PruningEncoder.load(withGraph(PRUNE, 'model.onnx', graph), { threads: 1 }));
      expect(e.code, e.message).toBe('ONNX_INVALID');
      expect(e.message).toMatch(message);
    }
  });
});

describe('safetensors', () => {
  it('a header naming a tensor twice is SAFETENSORS_INVALID (it was read as the last one)', async () => {
    const dir = editedCopy(POTION, (d) => {
      const file = path.join(d, 'model.safetensors');
      const bytes = fs.readFileSync(file);
      const n = Number(bytes.readBigUInt64LE(0));
      const header = bytes.subarray(8, 8 + n).toString('utf8').trimEnd();
      const entry = JSON.stringify(JSON.parse(header).embeddings);
      const twice = Buffer.from(header.replace(/\}$/, `,"embeddings":${entry}}`));
      const size = Buffer.alloc(8);
      size.writeBigUInt64LE(BigInt(twice.length));
      fs.writeFileSync(file, Buffer.concat([size, twice, bytes.subarray(8 + n)]));
    });
    const e = await errorOf(() => StaticModel.load(dir, { threads: 1 }));
    expect(e.code, e.message).toBe('SAFETENSORS_INVALID');
    expect(e.message).toMatch(/names 'embeddings' twice/);
  });
});
