// DeBERTa-v2 / v3 loaded as downloaded (issue 25): the graph built from config.json + weights, against the reference
// written from transformers' modeling_deberta_v2.py in plain PyTorch and exported by torch.onnx
// (scripts/fixtures/checkpoints_deberta.py: <name>.reference.onnx beside the folder), run by onnxruntime-node.
// native/tests/deberta_v2_test.cc checks the same graphs against the eager PyTorch outputs and the log buckets.
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
const refOf = (name: string) => path.join(CKPT, `${name}.reference.onnx`);

// Real pairs of several lengths (so batches are padded), most past 40 tokens (log buckets) and some truncated at the
// model's maximum, and a very short one.
function pairs(): Array<[string, string]> {
  const p = corpusPairs(16);
  p.push([p[0][0], p.slice(0, 6).map((x) => x[1]).join(' ')]);
  p.push(['a', 'b']);
  return p;
}

describe('CrossEncoder from a DeBERTa-v2 / v3 checkpoint', () => {
  const cases: Array<[string, string, number]> = [
    ['deberta-v3-tiny', 'v3 settings: log buckets, shared keys, p2c|c2p, normed relative embeddings', 1],
    ['deberta-v3-tiny-bf16', 'the same stored in BF16 (reference: the rounded weights)', 1],
    ['deberta-v2-tiny-f16', 'absolute positions, token types, embed_proj, clamped relative positions, conv, F16', 3],
  ];
  for (const [name, what, labels] of cases) {
    it(`${name}: ${what}: scores within 1e-5 of the reference, batched as alone`, async () => {
      const m = await CrossEncoder.load(dirOf(name), { threads: 1, activation: 'none' });
      expect(m.source).toEqual({ file: 'model.safetensors', built: true });
      expect(m.numLabels).toBe(labels);
      const p = pairs();
      // Long enough for the buckets past distance 4 (v3) and the clamp past 16 (v2).
      const tok = HfTokenizer.fromFile(path.join(dirOf(name), 'tokenizer.json'));
      const longest = Math.max(...(await Promise.all(p.map(async ([a, b]) => (await tok.encode(a, b)).getIds().length))));
      expect(Math.min(longest, m.maxLength)).toBeGreaterThanOrEqual(60);
      const ref = await referenceLogits(dirOf(name), p, { maxLength: m.maxLength, onnxPath: refOf(name) });
      const flat = ref.flat();
      const got = await m.predict(p);
      expect(got.length).toBe(p.length * labels);
      expect(maxAbsDiff(got, flat)).toBeLessThan(1e-5);
      // Spread scores: a constant or shuffled output would fail.
      expect(Math.max(...flat) - Math.min(...flat)).toBeGreaterThan(0.05);
      for (const i of [0, p.length - 2, p.length - 1]) {
        const alone = await m.predict([p[i]]);
        expect(maxAbsDiff(alone, got.slice(i * labels, (i + 1) * labels))).toBeLessThan(1e-5);
      }
      m.dispose();
    });
  }
});

describe("a DeBERTa classifier's last layer with Winnow's kernels", () => {
  for (const name of ['deberta-v3-tiny', 'deberta-v2-tiny-f16']) {
    it(`${name}: the first token's row alone past K and V, with the full graph's scores (kernels: 'onnxruntime')`, async () => {
      const p = pairs();
      const full = await CrossEncoder.load(dirOf(name), { threads: 1, activation: 'none', kernels: 'onnxruntime' });
      const reference = await full.predict(p);
      full.dispose();
      const runs = await profiled(
        () => CrossEncoder.load(dirOf(name), { threads: 1, activation: 'none', batchSize: 8 }),
        async (m) => expect(maxAbsDiff(await m.predict(p), reference)).toBeLessThan(1e-5),
      );
      // Winnow's Attention's query rows ([batch, queries, width]): two layers a run, the last attending from one row;
      // no [batch, heads, S, S] scores, Softmax or GatherElements beside it.
      expect(runs.filter((r) => ['Softmax', 'GatherElements', 'Gather', 'Where'].includes(r.op) && r.outputs[0].length === 4).length).toBe(0);
      const rows = runs.filter((r) => r.op === 'Attention').map((r) => r.outputs[0][1]);
      expect(rows.length % 2).toBe(0);
      expect(rows.length).toBeGreaterThanOrEqual(2 * 3); // the load's probe run and three batches of 8
      rows.forEach((r, i) => (i % 2 === 1 ? expect(r).toBe(1) : expect(r).toBeGreaterThan(1)));
      // Per run, the last layer's Q projection, output projection, FFN up and FFN down take one row per pair. No
      // [batch, heads, rows, n] position products (Q·posKᵀ, K·posQᵀ): Attention computes the terms it reads.
      // (Float32 linears read their weights in place: com.microsoft FusedMatMul with transB.)
      const product = (op: string) => op === 'MatMul' || op === 'FusedMatMul';
      expect(runs.filter((r) => product(r.op) && r.inputs[0].length === 3 && r.inputs[0][1] === 1).length).toBe(4 * (rows.length / 2));
      expect(runs.filter((r) => product(r.op) && r.inputs[0].length === 4).length).toBe(0);
    });
  }

  for (const opts of [{}, { quantize: 'int8' as const }]) {
    it(`the position keys and queries are projected once, at load (${JSON.stringify(opts)})`, async () => {
      const p = pairs();
      const full = await CrossEncoder.load(dirOf('deberta-v3-tiny'), { threads: 1, activation: 'none', kernels: 'onnxruntime' });
      const reference = await full.predict(p);
      full.dispose();
      const runs = await profiled(
        () => CrossEncoder.load(dirOf('deberta-v3-tiny'), { threads: 1, activation: 'none', ...opts }),
        async (m) => expect(maxAbsDiff(await m.predict(p), reference)).toBeLessThan(opts.quantize ? 0.05 : 1e-5),
      );
      // Products of a [rows, hidden] matrix per run: the head's pooler dense (hidden wide) and classifier (1 wide), one
      // each. The relative embeddings' projections (hidden wide, two a layer) are folded into constants at load, so
      // none runs; int8 would have made them MatMulInt8 nodes, which are not folded.
      const hidden = JSON.parse(fs.readFileSync(path.join(dirOf('deberta-v3-tiny'), 'config.json'), 'utf8')).hidden_size;
      const flat = runs.filter((r) => /MatMul|Gemm/.test(r.op) && r.inputs[0].length === 2);
      const wide = (w: number) => flat.filter((r) => r.outputs[0][1] === w).length;
      expect(wide(1)).toBeGreaterThan(0);
      expect(wide(hidden)).toBe(wide(1));
    });
  }

  // The fixtures' references have both terms; with one, Winnow's Attention (the terms computed inside, by one index)
  // against kernels: 'onnxruntime' (Gather from the flattened rows of Q·posKᵀ / K·posQᵀ).
  for (const terms of ['p2c', 'c2p']) {
    it(`pos_att_type "${terms}" alone: the same scores as kernels: 'onnxruntime', other than both terms'`, async () => {
      const p = pairs();
      const dir = editedCopy(dirOf('deberta-v3-tiny'), (d) => {
        const c = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8'));
        c.pos_att_type = terms;
        fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify(c));
      });
      try {
        const scores = async (d: string, kernels: 'onnxruntime' | undefined) => {
          const m = await CrossEncoder.load(d, { threads: 1, activation: 'none', ...(kernels ? { kernels } : {}) });
          const s = await m.predict(p);
          m.dispose();
          return s;
        };
        const own = await scores(dir, undefined);
        expect(maxAbsDiff(own, await scores(dir, 'onnxruntime'))).toBeLessThan(1e-5);
        expect(maxAbsDiff(own, await scores(dirOf('deberta-v3-tiny'), undefined))).toBeGreaterThan(1e-3);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('SentenceEncoder from a DeBERTa-v3 checkpoint', () => {
  it('mean-pools last_hidden_state as the reference does (cosine >= 0.99999)', async () => {
    const name = 'deberta-v3-tiny';
    const enc = await SentenceEncoder.load(dirOf(name), { threads: 1 });
    expect(enc.source).toEqual({ file: 'model.safetensors', built: true });
    const texts = corpusPairs(10).map((x) => x[1]).concat(['short', 'who built the museum of ancient coins?']);
    const ref = await referenceEmbeddings(dirOf(name), texts, { maxLength: enc.maxLength, modes: ['mean'], normalize: false, onnxPath: refOf(name) });
    const got = (await enc.encode(texts)).toArray();
    for (let i = 0; i < texts.length; i++) {
      expect(cosine(got[i], ref[i])).toBeGreaterThanOrEqual(0.99999);
      expect(maxAbsDiff(got[i], ref[i])).toBeLessThan(1e-5);
    }
    enc.dispose();
  });
});

describe('saveOnnx of a built DeBERTa graph', () => {
  it('writes one file that onnxruntime-node runs to the same scores (token_type_ids input kept)', async () => {
    const name = 'deberta-v2-tiny-f16';
    const m = await CrossEncoder.load(dirOf(name), { threads: 1, activation: 'none' });
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-deberta-save-')), 'built.onnx');
    await m.saveOnnx(out);
    const p = pairs().slice(0, 6);
    const saved = await referenceLogits(dirOf(name), p, { maxLength: m.maxLength, onnxPath: out });
    expect(maxAbsDiff(await m.predict(p), saved.flat())).toBeLessThan(1e-5);
    const session = await ort.InferenceSession.create(out);
    expect(session.inputNames).toEqual(['input_ids', 'attention_mask', 'token_type_ids']);
    await session.release();
    m.dispose();
    fs.rmSync(path.dirname(out), { recursive: true, force: true });
  });
});

describe('DeBERTa checkpoints that do not fit', () => {
  const editConfig = (name: string, edit: (c: Record<string, unknown>) => void) =>
    editedCopy(dirOf(name), (d) => {
      const c = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8'));
      edit(c);
      fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify(c));
    });

  it('settings transformers cannot run are CONFIG_INVALID naming the key', async () => {
    const edits: Array<[string, (c: Record<string, unknown>) => void]> = [
      ['conv_kernel_size', (c) => (c.conv_kernel_size = 2)],
      ['position_buckets', (c) => (c.position_buckets = 1)],
      ['max_relative_positions', (c) => (c.max_relative_positions = 4)],
      ['pos_att_type', (c) => (c.pos_att_type = 7)],
    ];
    for (const [key, edit] of edits) {
      const dir = editConfig('deberta-v3-tiny', edit);
      const e = await errorOf(() => CrossEncoder.load(dir));
      expect(e.code).toBe('CONFIG_INVALID');
      expect(e.message).toContain(key);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing position projection (share_att_key false) is CHECKPOINT_INVALID naming it', async () => {
    const dir = editConfig('deberta-v3-tiny', (c) => (c.share_att_key = false));
    const e = await errorOf(() => CrossEncoder.load(dir));
    expect(e.code).toBe('CHECKPOINT_INVALID');
    expect(e.message).toContain('deberta.encoder.layer.0.attention.self.pos_key_proj.weight');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
