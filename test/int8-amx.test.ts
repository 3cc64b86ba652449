// quantize: 'int8' on a CPU with AMX-INT8, AVX512-VNNI or AVX2 without VNNI (issue #31): the linear
// layers run as Winnow's own com.winnow MatMulInt8 (the activation quantized per row; tdpbssd tiles, vpdpbusd, or
// vpmaddwd), a built graph's BiasGelu folded into the FFN-up product; on other CPUs, or with
// WINNOW_INT8_KERNEL=onnxruntime, as ONNX Runtime's DynamicQuantizeMatMul. The kernel's arithmetic is
// checked against its scalar reference in native/tests/matmul_int8_test.cc; here: which operators a session runs
// (read from an ONNX Runtime profile, WINNOW_PROFILE, in a child process), scores near fp32, and the property per-row
// quantization gives: a pair scores the same in a batch as alone.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CrossEncoder, runtimeInfo } from '../lib/index';
import { kernelRuns, runsByOp } from './helpers/profile';
import { corpusPairs, FIXTURES, maxAbsDiff, ROOT } from './helpers/reference';

const CE = path.join(FIXTURES, 'bert-ce-tiny');
const BUILT = path.join(ROOT, 'test', 'fixtures', 'checkpoints', 'bert-cls');
// Two BERT layers: Q, K, V, attention output, FFN up and down each.
const ENCODER_LINEARS = 2 * 6;
// A graph built from a checkpoint with Winnow's operators: Q, K and V one packed linear, 4 a layer.
const BUILT_LINEARS = 2 * 4;
// As test/quantize-int8.test.ts: |int8 - fp32| on these random tiny models.
const SCORE_BOUND = 0.1;

const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
const HAS_AMX_INT8 =
  /\bamx_int8\b/.test(cpuinfo) && /\bamx_tile\b/.test(cpuinfo) && /\bavx512bw\b/.test(cpuinfo) && /\bavx512vl\b/.test(cpuinfo);
const HAS_VNNI = /\bavx512_vnni\b/.test(cpuinfo) && /\bavx512bw\b/.test(cpuinfo) && /\bavx512vl\b/.test(cpuinfo) && /\bavx512dq\b/.test(cpuinfo);
const HAS_AVX2 = /\bavx2\b/.test(cpuinfo) && /\bfma\b/.test(cpuinfo);
const HAS_AVX_VNNI = /\bavx_vnni\b/.test(cpuinfo);
// The kernel a process picks with nothing forced: AMX, else AVX512-VNNI, else AVX2 where the CPU has no VNNI of
// either form (AVX-VNNI alone keeps ONNX Runtime's kernel).
const OWN = HAS_AMX_INT8 ? 'amx' : HAS_VNNI ? 'vnni' : HAS_AVX2 && !HAS_AVX_VNNI ? 'avx2' : '';
const SKIP = OWN ? '' : ' (skipped: this CPU has no int8 kernel of Winnow\'s, or AVX-VNNI keeps ONNX Runtime\'s)';

interface ChildResult {
  kernel: string;
  count: number;
  scores: number[];
  ops: Record<string, number>;
}

// Loads `dir` with quantize 'int8' in a fresh process with `env` set (the kernel choice is read once per process),
// profiled; returns the int8 kernel it reports, quantizedMatMuls, 40 scores and how many times each operator ran.
function inChild(dir: string, env: Record<string, string>): ChildResult {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'winnow-int8-'));
  try {
    const script = `
      const { CrossEncoder, runtimeInfo } = require(${JSON.stringify(path.join(ROOT, 'dist/cjs/index.js'))});
      process.env.WINNOW_PROFILE = ${JSON.stringify(path.join(tmp, 'p'))};
      CrossEncoder.load(${JSON.stringify(dir)}, { threads: 1, quantize: 'int8' }).then(async (ce) => {
        delete process.env.WINNOW_PROFILE;
        const s = await ce.predict(${JSON.stringify(corpusPairs(40))});
        console.log(JSON.stringify({ kernel: runtimeInfo().kernels.MatMulInt8, count: ce.quantizedMatMuls, scores: Array.from(s) }));
        ce.dispose();
      });`;
    const out = execFileSync(process.execPath, ['-e', script], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
    const result = JSON.parse(out.trim().split('\n').pop()!) as ChildResult;
    const file = readdirSync(tmp).find((f) => f.endsWith('.json'));
    expect(file, 'the profile written at dispose').toBeDefined();
    result.ops = Object.fromEntries(runsByOp(kernelRuns(path.join(tmp, file!))));
    return result;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

describe("quantize: 'int8' with Winnow's int8 kernel (AMX, AVX512-VNNI or AVX2)", () => {
  const pairs = corpusPairs(40);

  it('runtimeInfo().kernels names the int8 kernel: amx on AMX-INT8, else vnni on AVX512-VNNI, else avx2 on AVX2 without VNNI, vnni or avx2 where asked for and present, else onnxruntime', () => {
    const forced = process.env.WINNOW_INT8_KERNEL;
    const want =
      forced === 'onnxruntime' ? '' : forced === 'vnni' ? (HAS_VNNI ? 'vnni' : '') : forced === 'avx2' ? (HAS_AVX2 ? 'avx2' : '') : OWN;
    expect(runtimeInfo().kernels.MatMulInt8).toBe(want || 'onnxruntime');
  });

  it.skipIf(!HAS_VNNI)('WINNOW_INT8_KERNEL=vnni runs the AVX512-VNNI kernel, with the AMX kernel\'s scores bit for bit', () => {
    for (const dir of [CE, BUILT]) {
      const vnni = inChild(dir, { WINNOW_INT8_KERNEL: 'vnni' });
      expect(vnni.kernel).toBe('vnni');
      expect(vnni.ops.MatMulInt8).toBeGreaterThan(0);
      expect(vnni.ops.DynamicQuantizeMatMul).toBeUndefined();
      if (!HAS_AMX_INT8) continue;
      const amx = inChild(dir, { WINNOW_INT8_KERNEL: '' });
      expect(amx.kernel).toBe('amx');
      expect(vnni.ops.MatMulInt8).toBe(amx.ops.MatMulInt8);
      expect(vnni.scores).toEqual(amx.scores);
    }
  });

  it.skipIf(!HAS_AVX2)("WINNOW_INT8_KERNEL=avx2 runs the AVX2 kernel, with the AMX / VNNI kernels' scores bit for bit", async () => {
    for (const dir of [CE, BUILT]) {
      const avx2 = inChild(dir, { WINNOW_INT8_KERNEL: 'avx2' });
      expect(avx2.kernel).toBe('avx2');
      expect(avx2.ops.MatMulInt8).toBeGreaterThan(0);
      expect(avx2.ops.DynamicQuantizeMatMul).toBeUndefined();
      const fp32 = await CrossEncoder.load(dir, { threads: 1 });
      expect(maxAbsDiff(avx2.scores, await fp32.predict(pairs))).toBeLessThan(SCORE_BOUND);
      fp32.dispose();
      // ONNX Runtime's kernel quantizes per tensor: other scores (on a CPU without VNNI also saturated ones, so
      // no bound between the two here).
      const ort = inChild(dir, { WINNOW_INT8_KERNEL: 'onnxruntime' });
      expect(maxAbsDiff(avx2.scores, ort.scores)).toBeGreaterThan(0);
      for (const other of [HAS_AMX_INT8 ? 'amx' : '', HAS_VNNI ? 'vnni' : ''].filter(Boolean)) {
        const r = inChild(dir, { WINNOW_INT8_KERNEL: other === 'amx' ? '' : other });
        expect(r.kernel).toBe(other);
        expect(avx2.ops.MatMulInt8).toBe(r.ops.MatMulInt8);
        expect(avx2.scores).toEqual(r.scores);
      }
    }
  });

  it.skipIf(!OWN)(`a built graph runs MatMulInt8 with BiasGelu folded in; WINNOW_INT8_KERNEL=onnxruntime runs DynamicQuantizeMatMul${SKIP}`, () => {
    const amx = inChild(BUILT, { WINNOW_INT8_KERNEL: '' });
    const ort = inChild(BUILT, { WINNOW_INT8_KERNEL: 'onnxruntime' });
    expect(amx.kernel).toBe(OWN);
    expect(ort.kernel).toBe('onnxruntime');
    expect(amx.count).toBe(BUILT_LINEARS);
    expect(ort.count).toBe(BUILT_LINEARS);
    // Per run: 8 MatMulInt8 (the FFN-up ones with their GELU), no DynamicQuantizeMatMul, no BiasGelu left.
    expect(amx.ops.MatMulInt8).toBeGreaterThan(0);
    expect(amx.ops.MatMulInt8 % BUILT_LINEARS).toBe(0);
    expect(amx.ops.DynamicQuantizeMatMul).toBeUndefined();
    expect(amx.ops.BiasGelu).toBeUndefined();
    expect(ort.ops.MatMulInt8).toBeUndefined();
    expect(ort.ops.DynamicQuantizeMatMul).toBe(amx.ops.MatMulInt8);
    expect(ort.ops.BiasGelu).toBe(amx.ops.MatMulInt8 / 4); // one FFN-up GELU per layer
    // The two layer norms of each layer run inside MatMulInt8 (attention output, FFN down): the embeddings' is left.
    const runs = amx.ops.MatMulInt8 / BUILT_LINEARS;
    expect(amx.ops.LayerNorm).toBe(runs);
    expect(ort.ops.LayerNorm).toBe(runs * (1 + 2 * 2));
    // Different activation quantization (per row against per tensor): near each other, not equal.
    expect(maxAbsDiff(amx.scores, ort.scores)).toBeLessThan(SCORE_BOUND);
    expect(maxAbsDiff(amx.scores, ort.scores)).toBeGreaterThan(0);
  });

  it.skipIf(!OWN)(`the BiasGelu and LayerNorms inside MatMulInt8 give the bits of separate nodes (WINNOW_GEMM_EPILOGUE=0)${SKIP}`, () => {
    const fused = inChild(BUILT, { WINNOW_INT8_KERNEL: '' });
    const apart = inChild(BUILT, { WINNOW_INT8_KERNEL: '', WINNOW_GEMM_EPILOGUE: '0' });
    expect(apart.ops.MatMulInt8).toBe(fused.ops.MatMulInt8);
    expect(apart.ops.BiasGelu).toBe(fused.ops.MatMulInt8 / 4);
    expect(apart.ops.LayerNorm).toBe(fused.ops.LayerNorm * 5);
    expect(fused.scores).toEqual(apart.scores);
  });

  it.skipIf(!OWN)(`an ONNX file's linears run as MatMulInt8 too${SKIP}`, () => {
    const amx = inChild(CE, { WINNOW_INT8_KERNEL: '' });
    expect(amx.count).toBe(ENCODER_LINEARS);
    expect(amx.ops.MatMulInt8).toBeGreaterThan(0);
    expect(amx.ops.DynamicQuantizeMatMul).toBeUndefined();
  });

  it.skipIf(!OWN || process.env.WINNOW_INT8_KERNEL === 'onnxruntime')(
    `scores near fp32, and each pair scores the same in a batch as alone${SKIP}`,
    async () => {
      for (const dir of [CE, BUILT]) {
        const fp32 = await CrossEncoder.load(dir, { threads: 1 });
        const int8 = await CrossEncoder.load(dir, { threads: 1, quantize: 'int8' });
        expect(int8.quantizedMatMuls).toBe(dir === BUILT ? BUILT_LINEARS : ENCODER_LINEARS);
        const a = await fp32.predict(pairs);
        const b = await int8.predict(pairs);
        expect(maxAbsDiff(a, b)).toBeLessThan(SCORE_BOUND);
        expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-5); // really int8
        // Per-row activation scales: a pair's score does not depend on its batch-mates (ONNX Runtime's per-tensor
        // scale moves it by ~1e-3).
        for (const i of [0, 3, 17, 39]) {
          const alone = await int8.predict([pairs[i]]);
          expect(Math.abs(alone[0] - b[i])).toBeLessThan(1e-5);
        }
        fp32.dispose();
        int8.dispose();
      }
    },
  );
});
