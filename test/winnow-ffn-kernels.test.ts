// Issue #31, bias + GELU and bias + residual + layer norm: a graph built from a checkpoint with kernels 'winnow' (the
// default) runs each FFN's up projection as MatMul + com.winnow BiasGelu and each residual norm as com.winnow
// LayerNorm taking the linear layer's bias, and still scores within 1e-5 of the plain-PyTorch references
// (test/checkpoint-load.test.ts's fixtures). The operators themselves: native/tests/gelu_test.cc and layer_norm_test.cc.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CrossEncoder, SentenceEncoder } from '../lib/index';
import { profiled, runsByOp } from './helpers/profile';
import { corpusPairs, maxAbsDiff, referenceLogits, ROOT } from './helpers/reference';
import { cosine, referenceEmbeddings } from './helpers/st-reference';

const CKPT = path.join(ROOT, 'test', 'fixtures', 'checkpoints');
const dirOf = (name: string) => path.join(CKPT, name);
const refOf = (name: string) => path.join(CKPT, `${name}.reference.onnx`);

function pairs(): Array<[string, string]> {
  const p = corpusPairs(20);
  p.push([p[0][0], p.slice(0, 8).map((x) => x[1]).join(' ')]);
  p.push(['a', 'b']);
  return p;
}

// Kernel runs per operator type in a WINNOW_PROFILE trace of one load + predict.
async function profileOps(dir: string, options: Record<string, unknown>): Promise<Map<string, number>> {
  return runsByOp(await profiled(() => CrossEncoder.load(dir, { threads: 1, ...options }), (m) => m.predict(pairs().slice(0, 4))));
}

const HAS_BF16 = /\b(amx_bf16|avx512_bf16)\b/.test(fs.readFileSync('/proc/cpuinfo', 'utf8'));

describe("kernels 'winnow': BiasGelu and LayerNorm with the bias, in built BERT-family graphs", () => {
  const cases: Array<[string, string]> = [
    ['bert-cls', 'BERT'],
    ['xlmr-cls', 'XLM-RoBERTa'],
    ['electra-cls', 'ELECTRA (GELU in the head too)'],
    ['distilbert-cls', 'DistilBERT'],
  ];
  for (const [name, what] of cases) {
    it(`${name} (${what}) scores within 1e-5 of the reference, batched as alone`, async () => {
      const m = await CrossEncoder.load(dirOf(name), { threads: 1, activation: 'none', kernels: 'winnow' });
      expect(m.source.built).toBe(true);
      const p = pairs();
      const ref = (await referenceLogits(dirOf(name), p, { maxLength: m.maxLength, onnxPath: refOf(name) })).flat();
      const got = await m.predict(p);
      expect(maxAbsDiff(got, ref)).toBeLessThan(1e-5);
      expect(Math.max(...ref) - Math.min(...ref)).toBeGreaterThan(0.05);
      const labels = m.numLabels;
      for (const i of [0, p.length - 1]) {
        const alone = await m.predict([p[i]]);
        expect(maxAbsDiff(alone, got.slice(i * labels, (i + 1) * labels))).toBeLessThan(1e-6);
      }
      // Every residual norm runs fused: the embeddings' (rewritten at load) and two per layer (as built).
      expect(m.fusedLayerNorms).toBe(5);
      m.dispose();
    });
  }

  it('a bare BertModel (SentenceEncoder) embeds within 1e-5 of the reference', async () => {
    const dir = dirOf('bert-bare');
    const enc = await SentenceEncoder.load(dir, { threads: 1, kernels: 'winnow' });
    const texts = corpusPairs(12).map((p) => p[1]).concat(['short']);
    const ref = await referenceEmbeddings(dir, texts, { maxLength: enc.maxLength, modes: ['mean'], normalize: false, onnxPath: refOf('bert-bare') });
    const got = (await enc.encode(texts)).toArray();
    for (let i = 0; i < texts.length; i++) {
      expect(cosine(got[i], ref[i])).toBeGreaterThanOrEqual(0.99999);
      expect(maxAbsDiff(got[i], ref[i])).toBeLessThan(1e-5);
    }
    enc.dispose();
  });

  it('the graph runs com.winnow BiasGelu and no Gelu or Erf; no bias Add left in the layers (WINNOW_PROFILE)', async () => {
    const dir = dirOf('bert-cls');
    const layers = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).num_hidden_layers as number;
    const winnow = await profileOps(dir, { kernels: 'winnow' });
    const ort = await profileOps(dir, { kernels: 'onnxruntime' });
    const runs = ort.get('Gelu') ?? 0; // one Gelu per layer per run in ONNX Runtime's form
    expect(runs).toBeGreaterThan(0);
    expect(runs % layers).toBe(0);
    expect(winnow.get('BiasGelu')).toBe(runs);
    expect(winnow.get('Gelu')).toBeUndefined();
    expect(winnow.get('Erf')).toBeUndefined();
    expect(ort.get('BiasGelu')).toBeUndefined();
    // The FFN up projection's bias (into BiasGelu), the two norms' (into LayerNorm) and the Q, K and V biases (into
    // com.winnow Attention, as ONNX Runtime's packed Attention takes them) are no Add nodes: three fewer per layer
    // and run than ONNX Runtime's form, which keeps the FFN's and the norms' (any one left would add one more each).
    expect(winnow.get('Attention')).toBe(runs);
    // float32 keeps Q, K and V three products (packed only for int8 and bf16): with the attention output and the FFN's
    // two, 6 a layer and run, against ONNX Runtime's form's 3 (its packed Attention runs the Q, K, V product inside).
    // Winnow's form multiplies by the stored weights (FusedMatMul with transB), the standard form by their transposes.
    const products = (ops: Map<string, number>) => (ops.get('MatMul') ?? 0) + (ops.get('FusedMatMul') ?? 0);
    expect(products(winnow) - 6 * runs).toBe(products(ort) - 3 * runs);
    expect(winnow.get('Add') ?? 0).toBe((ort.get('Add') ?? 0) - 3 * runs);
    expect(winnow.get('LayerNorm')).toBe(ort.get('LayerNorm'));
  });

  it("quantize: 'int8' still quantizes every linear layer of the encoder, and scores as ONNX Runtime's kernels do", async () => {
    const dir = dirOf('bert-cls');
    // Attention in float32, as ONNX Runtime's (int8 sessions run Winnow's in bf16 where the CPU can: attention-bf16.test.ts).
    process.env.WINNOW_ATTENTION_BF16 = '0';
    const w = await CrossEncoder.load(dir, { threads: 1, quantize: 'int8', kernels: 'winnow' }).finally(() => {
      delete process.env.WINNOW_ATTENTION_BF16;
    });
    expect(w.bf16Attentions).toBe(0);
    const o = await CrossEncoder.load(dir, { threads: 1, quantize: 'int8', kernels: 'onnxruntime' });
    // Every linear of both: ONNX Runtime's form has Q, K and V apart, Winnow's one packed linear (2 fewer a layer).
    const layers = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).num_hidden_layers as number;
    expect(o.quantizedMatMuls).toBe(6 * layers);
    expect(w.quantizedMatMuls).toBe(4 * layers);
    const p = pairs();
    expect(maxAbsDiff(await w.predict(p), await o.predict(p))).toBeLessThan(5e-3);
    w.dispose();
    o.dispose();
  });

  it.skipIf(!HAS_BF16)("dtype 'bf16': each layer's BiasGelu and LayerNorms run inside MatMulBf16, with the very bits of the separate nodes", async () => {
    const dir = dirOf('bert-cls');
    const layers = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).num_hidden_layers as number;
    const apart = async <T>(f: () => Promise<T>) => {
      process.env.WINNOW_GEMM_EPILOGUE = '0';
      try {
        return await f();
      } finally {
        delete process.env.WINNOW_GEMM_EPILOGUE;
      }
    };
    const fused = await profileOps(dir, { dtype: 'bf16' });
    const separate = await apart(() => profileOps(dir, { dtype: 'bf16' }));
    const runs = separate.get('BiasGelu') ?? 0;
    expect(runs).toBeGreaterThan(0);
    expect(runs % layers).toBe(0);
    expect(separate.get('LayerNorm')).toBe(2 * runs + runs / layers); // two a layer, and the embeddings'
    expect(fused.get('BiasGelu')).toBeUndefined();
    expect(fused.get('LayerNorm')).toBe(runs / layers); // the embeddings' only
    expect(fused.get('MatMulBf16')).toBe(separate.get('MatMulBf16'));
    const p = pairs();
    const a = await CrossEncoder.load(dir, { threads: 2, dtype: 'bf16', activation: 'none' });
    const b = await apart(() => CrossEncoder.load(dir, { threads: 2, dtype: 'bf16', activation: 'none' }));
    expect(Array.from(await a.predict(p))).toEqual(Array.from(await b.predict(p)));
    a.dispose();
    b.dispose();
  });

  it("runtimeInfo().kernels names BiasGelu's instructions at the level in force", () => {
    const kernelsIn = (value: string) =>
      JSON.parse(execFileSync(process.execPath, ['-e', `console.log(JSON.stringify(require(${JSON.stringify(path.join(ROOT, 'dist/cjs/index.js'))}).runtimeInfo().kernels))`], {
        env: { ...process.env, WINNOW_SIMD: value },
        encoding: 'utf8',
      }));
    const all = kernelsIn('');
    expect(all.BiasGelu).toBe(all.LayerNorm);
    expect(kernelsIn('scalar').BiasGelu).toBe(process.arch === 'x64' ? 'sse2' : process.arch === 'arm64' ? 'neon' : 'scalar');
  });
});
