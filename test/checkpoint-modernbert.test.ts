// ModernBERT folders with no ONNX file, the graph built at load (issue 25). The reference is the plain-PyTorch
// ModernBERT of scripts/fixtures/checkpoints_modernbert.py exported by torch.onnx (<name>.reference.onnx and
// <name>.features.reference.onnx beside each folder), run by onnxruntime-node one text at a time.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tokenizer as HfTokenizer } from 'tokenizers';
import { describe, expect, it } from 'vitest';
import { CrossEncoder, SentenceEncoder } from '../lib/index';
import { errorOf } from './helpers/errors';
import { editedCopy } from './helpers/model-copy';
import { type KernelRun, profiled } from './helpers/profile';
import { corpusPairs, maxAbsDiff, referenceLogits, ROOT } from './helpers/reference';
import { cosine, referenceEmbeddings } from './helpers/st-reference';

const CKPT = path.join(ROOT, 'test', 'fixtures', 'checkpoints');
const dirOf = (name: string) => path.join(CKPT, name);

// Real pairs of many lengths (batches are padded; most are longer than the 8-token sliding window, so the band
// mask and the rotary positions matter), one truncated at maxLength, one of a few tokens.
function pairs(): Array<[string, string]> {
  const p = corpusPairs(16);
  p.push([p[0][0], p.slice(0, 8).map((x) => x[1]).join(' ')]);
  p.push(['a', 'b']);
  return p;
}

describe('CrossEncoder from a ModernBERT checkpoint', () => {
  const cases: Array<[string, string]> = [
    ['modernbert-tiny-cls', 'cls pooling, 3 labels, every bias, global_rope_theta / local_rope_theta keys'],
    ['modernbert-tiny-cls-f16', 'the same stored as F16 (reference: the rounded weights)'],
    ['modernbert-tiny-mean', 'mean pooling, no biases, layer_types / rope_parameters keys, BF16 stored'],
  ];
  for (const [name, what] of cases) {
    it(`${name}: ${what}: scores within 1e-5 of the reference, batched as alone`, async () => {
      const m = await CrossEncoder.load(dirOf(name), { threads: 1, activation: 'none', maxLength: 128 });
      expect(m.source).toEqual({ file: 'model.safetensors', built: true });
      const p = pairs();
      const ref = await referenceLogits(dirOf(name), p, { maxLength: 128, onnxPath: path.join(CKPT, `${name}.reference.onnx`) });
      const labels = ref[0].length;
      expect(m.numLabels).toBe(labels);
      const got = await m.predict(p);
      const flat = ref.flat();
      expect(got.length).toBe(flat.length);
      expect(maxAbsDiff(got, flat)).toBeLessThan(1e-5);
      expect(Math.max(...flat) - Math.min(...flat)).toBeGreaterThan(0.05);
      for (const i of [0, p.length - 1]) {
        const alone = await m.predict([p[i]]);
        expect(maxAbsDiff(alone, got.slice(i * labels, (i + 1) * labels))).toBeLessThan(1e-5);
      }
      m.dispose();
    });
  }
});

describe("a ModernBERT classifier's last layer with Winnow's kernels", () => {
  // Winnow's Attention's query rows per run ([batch, queries, width]); no Softmax or [batch, heads, T, T] product
  // runs beside it.
  const queryRows = (runs: KernelRun[]) => {
    expect(runs.filter((r) => r.op === 'Softmax' || (/MatMul$/.test(r.op) && r.inputs[0].length === 4)).length).toBe(0);
    return runs.filter((r) => r.op === 'Attention').map((r) => r.outputs[0][1]);
  };
  // The fixture's last layer attends globally; its copy with global attention every third layer has a sliding last
  // layer (its band the operator's window).
  const cases: Array<[string, () => string]> = [
    ['global', () => dirOf('modernbert-tiny-cls')],
    ['sliding', () => editedCopy(dirOf('modernbert-tiny-cls'), (d) => {
      const c = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8'));
      c.global_attn_every_n_layers = 3;
      fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify(c));
    })],
  ];
  for (const [kind, dir] of cases) {
    it(`cls pooling, a ${kind} last layer: the first token's row alone past K and V, with the full graph's scores (kernels: 'onnxruntime')`, async () => {
      const folder = dir();
      try {
        const p = pairs();
        const ort = await CrossEncoder.load(folder, { threads: 1, activation: 'none', kernels: 'onnxruntime' });
        const full = await ort.predict(p);
        ort.dispose();
        const runs = await profiled(
          () => CrossEncoder.load(folder, { threads: 1, activation: 'none', batchSize: 8 }),
          async (m) => expect(maxAbsDiff(await m.predict(p), full)).toBeLessThan(1e-5),
        );
        // Three layers a run: the first two attend from every token, the last from the first alone.
        const rows = queryRows(runs);
        expect(rows.length % 3).toBe(0);
        expect(rows.length).toBeGreaterThanOrEqual(3 * 3); // the load's probe run and three batches of 8
        rows.forEach((r, i) => (i % 3 === 2 ? expect(r).toBe(1) : expect(r).toBeGreaterThan(1)));
        // Per run, five products take one row per pair: Q (Wqkv's first rows), the attention output projection, and
        // the MLP's Wi halves (input, gate) and Wo.
        // (Float32 linears read their weights in place: com.microsoft FusedMatMul with transB.)
        const product = (op: string) => op === 'MatMul' || op === 'FusedMatMul';
        expect(runs.filter((r) => product(r.op) && r.inputs[0].length === 3 && r.inputs[0][1] === 1).length).toBe(5 * (rows.length / 3));
        // No Split: Wqkv and Wi are products of their row blocks; rotary happens inside the attention (no Neg, no
        // Concat but the angle tables', no [batch, sequence, heads, head] product beside it).
        expect(runs.filter((r) => r.op === 'Split' || r.op === 'Neg' || (r.op === 'Concat' && r.outputs[0].length > 2)).length).toBe(0);
        expect(runs.filter((r) => r.op === 'Mul' && r.inputs[0].length === 4).length).toBe(0);
      } finally {
        if (kind !== 'global') fs.rmSync(folder, { recursive: true, force: true });
      }
    });
  }

  it('mean pooling reads every token: every layer attends from every token', async () => {
    const runs = await profiled(
      () => CrossEncoder.load(dirOf('modernbert-tiny-mean'), { threads: 1, activation: 'none' }),
      (m) => m.predict(pairs().slice(0, 4)),
    );
    const rows = queryRows(runs);
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(r).toBeGreaterThan(1);
  });
});

describe('SentenceEncoder from a ModernBERT checkpoint (last_hidden_state after final_norm, mean pooled)', () => {
  for (const name of ['modernbert-tiny-cls', 'modernbert-tiny-mean']) {
    it(`${name}: embeddings of a padded batch match the reference one by one`, async () => {
      const enc = await SentenceEncoder.load(dirOf(name), { threads: 1, maxLength: 128 });
      expect(enc.source).toEqual({ file: 'model.safetensors', built: true });
      const texts = corpusPairs(12).map((x) => x[1]).concat(['short', 'the city of paris and its river']);
      const ref = await referenceEmbeddings(dirOf(name), texts, {
        maxLength: 128, modes: ['mean'], normalize: false, onnxPath: path.join(CKPT, `${name}.features.reference.onnx`),
      });
      const got = (await enc.encode(texts)).toArray();
      for (let i = 0; i < texts.length; i++) {
        expect(cosine(got[i], ref[i])).toBeGreaterThanOrEqual(0.99999);
        expect(maxAbsDiff(got[i], ref[i])).toBeLessThan(1e-5);
      }
      enc.dispose();
    });
  }
});

describe('ModernBERT configs that do not fit', () => {
  const editConfig = (name: string, edit: (c: Record<string, unknown>) => void) =>
    editedCopy(dirOf(name), (d) => {
      const c = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8'));
      edit(c);
      fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify(c));
    });
  const cases: Array<[string, string, (c: Record<string, any>) => void, string, string]> = [
    ['a scaled rotary embedding', 'modernbert-tiny-mean', (c) => (c.rope_parameters.full_attention.rope_type = 'yarn'), 'MODEL_UNSUPPORTED', 'yarn'],
    ['rope_scaling', 'modernbert-tiny-cls', (c) => (c.rope_scaling = { type: 'linear', factor: 2 }), 'MODEL_UNSUPPORTED', 'rope_scaling'],
    ['classifier_pooling "max"', 'modernbert-tiny-cls', (c) => (c.classifier_pooling = 'max'), 'CONFIG_INVALID', 'classifier_pooling'],
    ['layer_types of another length', 'modernbert-tiny-mean', (c) => (c.layer_types = ['full_attention']), 'CONFIG_INVALID', 'layer_types'],
    ['an unknown layer type', 'modernbert-tiny-mean', (c) => (c.layer_types[1] = 'chunked_attention'), 'CONFIG_INVALID', 'chunked_attention'],
    ['an odd head size', 'modernbert-tiny-cls', (c) => (c.num_attention_heads = 32), 'CONFIG_INVALID', 'odd head size'],
    ['a fourth layer the checkpoint lacks', 'modernbert-tiny-cls', (c) => (c.num_hidden_layers = 4), 'CHECKPOINT_INVALID', 'model.layers.3.attn_norm.weight'],
    ['biases the checkpoint lacks', 'modernbert-tiny-mean', (c) => (c.mlp_bias = true), 'CHECKPOINT_INVALID', 'model.layers.0.mlp.Wi.bias'],
  ];
  for (const [what, name, edit, code, text] of cases) {
    it(`${what}: ${code}`, async () => {
      const dir = editConfig(name, edit);
      const e = await errorOf(() => CrossEncoder.load(dir, { threads: 1 }));
      expect(e.code).toBe(code);
      expect(e.message).toContain(text);
      fs.rmSync(dir, { recursive: true, force: true });
    });
  }
});

describe('fixture sanity', () => {
  it("the small tokenizer splits real text into in-vocabulary pieces, longer than the fixtures' window", async () => {
    const tok = HfTokenizer.fromFile(path.join(dirOf('modernbert-tiny-cls'), 'tokenizer.json'));
    const e = await tok.encode(corpusPairs(1)[0][1], null);
    expect(e.getIds().length).toBeGreaterThan(16);
    expect(e.getIds().filter((id) => id === 1).length).toBeLessThan(e.getIds().length / 4);
  });
});
