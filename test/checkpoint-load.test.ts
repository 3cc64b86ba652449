// Models loaded as downloaded (issue 25): folders with config.json + weights and no ONNX file, the graph built at
// load. The reference is each architecture's plain-PyTorch module exported by torch.onnx
// (scripts/fixtures/checkpoints_bert.py: <name>.reference.onnx beside the folder), run by onnxruntime-node.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { Tokenizer as HfTokenizer } from 'tokenizers';
import { describe, expect, it } from 'vitest';
import { CrossEncoder, SentenceEncoder } from '../lib/index';
import { errorOf } from './helpers/errors';
import { editedCopy } from './helpers/model-copy';
import { profiled } from './helpers/profile';
import { corpusPairs, maxAbsDiff, referenceLogits, ROOT } from './helpers/reference';
import { cosine, referenceEmbeddings } from './helpers/st-reference';

const CKPT = path.join(ROOT, 'test', 'fixtures', 'checkpoints');
const dirOf = (name: string) => path.join(CKPT, name);
// Both forms of the built graph: Winnow's operators (com.winnow Attention, ...) and standard ONNX operators.
const KERNELS = ['winnow', 'onnxruntime'] as const;
const refOf = (name: string) => path.join(CKPT, `${name.replace(/-(sharded|bin)$/, '')}.reference.onnx`);

// Real pairs of several lengths (so batches are padded), one longer than the fixtures' 128 tokens (truncated).
function pairs(): Array<[string, string]> {
  const p = corpusPairs(20);
  p.push([p[0][0], p.slice(0, 8).map((x) => x[1]).join(' ')]);
  p.push(['a', 'b']);
  return p;
}

describe('CrossEncoder from a checkpoint', () => {
  const cases: Array<[string, string]> = [
    ['bert-cls', 'BertForSequenceClassification, model.safetensors'],
    ['bert-cls-f16', 'F16 weights (reference: the rounded weights)'],
    ['bert-cls-bf16', 'BF16 weights (reference: the rounded weights)'],
    ['bert-cls-sharded', 'sharded safetensors with model.safetensors.index.json'],
    ['bert-cls-bin', 'pytorch_model.bin written by torch.save'],
    ['xlmr-cls', 'XLMRobertaForSequenceClassification (positions from padding_idx, 2 labels)'],
    ['electra-cls', 'ElectraForSequenceClassification (embedding_size 16 projected to 32)'],
    ['distilbert-cls', 'DistilBertForSequenceClassification'],
  ];
  for (const [name, what] of cases) for (const kernels of KERNELS) {
    it(`${name}: ${what} scores within 1e-5 of the reference, batched as alone (kernels '${kernels}')`, async () => {
      const m = await CrossEncoder.load(dirOf(name), { threads: 1, activation: 'none', kernels });
      expect(m.source.built).toBe(true);
      expect(m.source.file).toBe(name.endsWith('-sharded') ? 'model.safetensors.index.json' : name.endsWith('-bin') ? 'pytorch_model.bin' : 'model.safetensors');
      const p = pairs();
      const ref = await referenceLogits(dirOf(name), p, { maxLength: m.maxLength, onnxPath: refOf(name) });
      const labels = ref[0].length;
      expect(m.numLabels).toBe(labels);
      const got = await m.predict(p);
      const flat = ref.flat();
      expect(got.length).toBe(flat.length);
      expect(maxAbsDiff(got, flat)).toBeLessThan(1e-5);
      // Spread scores: a constant or shuffled output would fail.
      expect(Math.max(...flat) - Math.min(...flat)).toBeGreaterThan(0.05);
      // Each pair alone gives what the padded batch gave.
      for (const i of [0, p.length - 1]) {
        const alone = await m.predict([p[i]]);
        expect(maxAbsDiff(alone, got.slice(i * labels, (i + 1) * labels))).toBeLessThan(1e-6);
      }
      m.dispose();
    });
  }

  it('pytorch_model.bin gives the very scores of the safetensors of the same weights', async () => {
    const bin = await CrossEncoder.load(dirOf('bert-cls-bin'), { threads: 1 });
    const st = await CrossEncoder.load(dirOf('bert-cls'), { threads: 1 });
    const p = pairs();
    expect(Array.from(await bin.predict(p))).toEqual(Array.from(await st.predict(p)));
    bin.dispose();
    st.dispose();
  });

  it('runs the graph fused as an ONNX export is (attention and layer norms)', async () => {
    const m = await CrossEncoder.load(dirOf('bert-cls'), { threads: 1 });
    expect(m.fusedAttentions).toBe(2);
    expect(m.fusedLayerNorms).toBe(5);
    m.dispose();
  });
});

// Resident kB of the process's mappings of all of `file` (/proc/self/smaps): Winnow's own, which the build reads.
function wholeFileResidentKb(file: string): number {
  const pages = Math.ceil(fs.statSync(file).size / 4096);
  let whole = false;
  let kb = 0;
  for (const line of fs.readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = line.match(/^([0-9a-f]+)-([0-9a-f]+) \S+ (\S+) \S+ \S+\s*(.*)$/);
    if (head) whole = head[4] === file && parseInt(head[3], 16) === 0 && (parseInt(head[2], 16) - parseInt(head[1], 16)) / 4096 >= pages;
    else if (whole && line.startsWith('Rss:')) kb += Number(line.split(/\s+/)[1]);
  }
  return kb;
}

// How many of the process's mappings of `file` map only a part of it (ONNX Runtime maps each weight it reads in place).
function partMappings(file: string): number {
  const size = fs.statSync(file).size;
  return fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter((line) => {
    const m = line.match(/^([0-9a-f]+)-([0-9a-f]+) \S+ ([0-9a-f]+) \S+ \S+\s+(.*)$/);
    return m && m[4] === file && (parseInt(m[3], 16) > 0 || parseInt(m[2], 16) - parseInt(m[1], 16) < size);
  }).length;
}

describe('memory after a load from a checkpoint', () => {
  it.runIf(process.platform === 'linux')('ONNX Runtime maps the checkpoint itself and reads weights in place, as an export\'s', async () => {
    const file = fs.realpathSync(path.join(dirOf('bert-cls'), 'model.safetensors'));
    const m = await CrossEncoder.load(dirOf('bert-cls'), { threads: 1 });
    expect(partMappings(file)).toBeGreaterThan(0);
    m.dispose();
    // WINNOW_WEIGHTS_IN_PLACE=0 (for comparisons): the files handed over as buffers, which ONNX Runtime copies.
    process.env.WINNOW_WEIGHTS_IN_PLACE = '0';
    try {
      const copied = await CrossEncoder.load(dirOf('bert-cls'), { threads: 1 });
      expect(partMappings(file)).toBe(0);
      const p = pairs();
      const ref = await referenceLogits(dirOf('bert-cls'), p, { maxLength: copied.maxLength, onnxPath: refOf('bert-cls') });
      expect(maxAbsDiff(await copied.predict(p, { activation: 'none' }), ref.flat())).toBeLessThan(1e-5);
      copied.dispose();
    } finally {
      delete process.env.WINNOW_WEIGHTS_IN_PLACE;
    }
  });

  it.runIf(process.platform === 'linux')('int8: the pages the build read to quantize are dropped once the session is loaded', async () => {
    const file = fs.realpathSync(path.join(dirOf('bert-cls'), 'model.safetensors'));
    const m = await CrossEncoder.load(dirOf('bert-cls'), { threads: 1, quantize: 'int8' });
    // Building transposed every matrix out of the mapping; kept resident, that was the whole file.
    expect(wholeFileResidentKb(file)).toBeLessThan(fs.statSync(file).size / 1024 / 4);
    const p = pairs();
    const ref = await referenceLogits(dirOf('bert-cls'), p, { maxLength: m.maxLength, onnxPath: refOf('bert-cls') });
    expect(maxAbsDiff(await m.predict(p, { activation: 'none' }), ref.flat())).toBeLessThan(0.05);
    m.dispose();
  });

  it("float32 with Winnow's kernels multiplies by the weights where the checkpoint stores them (no transposed copy)", async () => {
    const p = pairs().slice(0, 4);
    const ops = async (kernels: 'winnow' | 'onnxruntime') => {
      const runs = await profiled(
        () => CrossEncoder.load(dirOf('bert-cls'), { threads: 1, kernels }),
        (m) => m.predict(p),
      );
      const products = runs.filter((r) => /MatMul$/.test(r.op) && r.inputs[0].length === 3); // [batch, tokens, in]
      return { fused: products.filter((r) => r.op === 'FusedMatMul').length, plain: products.filter((r) => r.op === 'MatMul').length };
    };
    // Stored [out, in], read by com.microsoft FusedMatMul with transB.
    const winnow = await ops('winnow');
    expect(winnow.fused).toBeGreaterThan(0);
    expect(winnow.plain).toBe(0);
    // The standard-operator form an export has: MatMul by the transposed weight.
    const standard = await ops('onnxruntime');
    expect(standard.fused).toBe(0);
    expect(standard.plain).toBeGreaterThan(0);
  });
});

describe('SentenceEncoder from a checkpoint', () => {
  for (const kernels of KERNELS)
  it(`a bare BertModel saved without prefix, laid out like intfloat/e5-small-unsupervised (no modules.json, no ONNX), kernels '${kernels}'`, async () => {
    const dir = dirOf('bert-bare');
    expect(fs.existsSync(path.join(dir, 'modules.json'))).toBe(false);
    const enc = await SentenceEncoder.load(dir, { threads: 1, kernels });
    expect(enc.source).toEqual({ file: 'model.safetensors', built: true });
    const texts = corpusPairs(12).map((p) => p[1]).concat(['short', 'query: how many people live in tokyo']);
    const ref = await referenceEmbeddings(dir, texts, { maxLength: enc.maxLength, modes: ['mean'], normalize: false, onnxPath: refOf('bert-bare') });
    const got = (await enc.encode(texts)).toArray();
    for (let i = 0; i < texts.length; i++) {
      expect(cosine(got[i], ref[i])).toBeGreaterThanOrEqual(0.99999);
      expect(maxAbsDiff(got[i], ref[i])).toBeLessThan(1e-5);
    }
    enc.dispose();
  });
});

describe('choosing the source', () => {
  it('the ONNX file wins when a folder has both, unless source says checkpoint; source names what was loaded', async () => {
    const dir = editedCopy(dirOf('bert-cls'), (d) => {
      fs.mkdirSync(path.join(d, 'onnx'));
      fs.copyFileSync(refOf('bert-cls'), path.join(d, 'onnx', 'model.onnx'));
    });
    const onnx = await CrossEncoder.load(dir, { threads: 1 });
    expect(onnx.source).toEqual({ file: 'onnx/model.onnx', built: false });
    const built = await CrossEncoder.load(dir, { threads: 1, source: 'checkpoint' });
    expect(built.source).toEqual({ file: 'model.safetensors', built: true });
    const p = pairs();
    expect(maxAbsDiff(await onnx.predict(p), await built.predict(p))).toBeLessThan(1e-5);
    onnx.dispose();
    built.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("source: 'onnx' on a folder without one is MODEL_NOT_FOUND; a folder with neither lists both", async () => {
    expect((await errorOf(() => CrossEncoder.load(dirOf('bert-cls'), { source: 'onnx' }))).code).toBe('MODEL_NOT_FOUND');
    const empty = editedCopy(dirOf('bert-cls'), (d) => fs.rmSync(path.join(d, 'model.safetensors')));
    const e = await errorOf(() => CrossEncoder.load(empty));
    expect(e.code).toBe('MODEL_NOT_FOUND');
    expect(e.message).toContain('model.onnx');
    expect(e.message).toContain('model.safetensors');
    const c = await errorOf(() => CrossEncoder.load(empty, { source: 'checkpoint' }));
    expect(c.code).toBe('MODEL_NOT_FOUND');
    expect(c.message).toContain('pytorch_model.bin');
    fs.rmSync(empty, { recursive: true, force: true });
    expect((await errorOf(() => CrossEncoder.load(dirOf('bert-cls'), { source: 'weights' as never }))).code).toBe('INVALID_ARGUMENT');
  });
});

describe('saveOnnx', () => {
  it('writes the built graph as one file that onnxruntime-node runs to the same scores', async () => {
    const m = await CrossEncoder.load(dirOf('xlmr-cls'), { threads: 1, activation: 'none' });
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-save-')), 'built.onnx');
    await m.saveOnnx(out);
    const p = pairs().slice(0, 6);
    const saved = await referenceLogits(dirOf('xlmr-cls'), p, { maxLength: m.maxLength, onnxPath: out });
    expect(maxAbsDiff(await m.predict(p), saved.flat())).toBeLessThan(1e-5);
    // The file holds its weights: it runs without the folder beside it.
    const session = await ort.InferenceSession.create(out);
    expect(session.inputNames).toEqual(['input_ids', 'attention_mask']);
    await session.release();
    m.dispose();
    fs.rmSync(path.dirname(out), { recursive: true, force: true });
  });

  it('is refused for a model loaded from an ONNX file', async () => {
    const dir = editedCopy(dirOf('bert-cls'), (d) => fs.copyFileSync(refOf('bert-cls'), path.join(d, 'model.onnx')));
    const m = await CrossEncoder.load(dir, { threads: 1 });
    const e = await errorOf(() => m.saveOnnx(path.join(dir, 'x.onnx')));
    expect(e.code).toBe('INVALID_ARGUMENT');
    m.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('checkpoints that do not fit', () => {
  const editConfig = (name: string, edit: (c: Record<string, unknown>) => void) =>
    editedCopy(dirOf(name), (d) => {
      const c = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8'));
      edit(c);
      fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify(c));
    });

  it('a missing tensor is CHECKPOINT_INVALID naming it', async () => {
    const dir = editConfig('bert-cls', (c) => (c.num_hidden_layers = 3));
    const e = await errorOf(() => CrossEncoder.load(dir));
    expect(e.code).toBe('CHECKPOINT_INVALID');
    expect(e.message).toContain('bert.encoder.layer.2.attention.self.query.weight');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a tensor of another shape is CHECKPOINT_INVALID naming both shapes', async () => {
    const dir = editConfig('bert-cls', (c) => (c.intermediate_size = 48));
    const e = await errorOf(() => CrossEncoder.load(dir));
    expect(e.code).toBe('CHECKPOINT_INVALID');
    expect(e.message).toMatch(/intermediate\.dense\.weight.*\[64, 32\].*\[48, 32\]/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('an architecture Winnow does not build, or an unknown activation, is MODEL_UNSUPPORTED', async () => {
    const gpt = editConfig('bert-cls', (c) => (c.model_type = 'gpt2'));
    const e = await errorOf(() => CrossEncoder.load(gpt));
    expect(e.code).toBe('MODEL_UNSUPPORTED');
    expect(e.message).toContain('gpt2');
    const act = editConfig('bert-cls', (c) => (c.hidden_act = 'squared_relu_x'));
    expect((await errorOf(() => CrossEncoder.load(act))).code).toBe('MODEL_UNSUPPORTED');
    fs.rmSync(gpt, { recursive: true, force: true });
    fs.rmSync(act, { recursive: true, force: true });
  });

  it('a feature-extraction checkpoint is not a cross-encoder', async () => {
    const e = await errorOf(() => CrossEncoder.load(dirOf('bert-bare')));
    expect(e.code).toBe('CHECKPOINT_INVALID');
    expect(e.message).toContain('classifier.weight');
  });

  it('a shard index naming a file outside the folder is refused', async () => {
    const dir = editedCopy(dirOf('bert-cls-sharded'), (d) => {
      const f = path.join(d, 'model.safetensors.index.json');
      const idx = JSON.parse(fs.readFileSync(f, 'utf8'));
      const first = Object.keys(idx.weight_map)[0];
      idx.weight_map[first] = '../../outside.safetensors';
      fs.writeFileSync(f, JSON.stringify(idx));
    });
    const e = await errorOf(() => CrossEncoder.load(dir));
    expect(['CONFIG_INVALID', 'CHECKPOINT_INVALID']).toContain(e.code);
    expect(e.message).toContain('outside.safetensors');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

// The tokenizer used by the reference matches Winnow's (a guard against comparing two different inputs).
describe('fixture sanity', () => {
  it('the small tokenizer splits real text into several in-vocabulary pieces', async () => {
    const tok = HfTokenizer.fromFile(path.join(dirOf('bert-cls'), 'tokenizer.json'));
    const e = await tok.encode('the city of paris', null);
    expect(e.getIds().length).toBeGreaterThan(4);
    expect(e.getIds()).not.toContain(1);
  });
});
