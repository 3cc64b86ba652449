// GEMM throughput ONNX Runtime (onnxruntime-node) reaches on this machine with the benchmark's threads:
// the shapes of a MiniLM-L6-H384 layer at M = batch x padded length tokens. Run in its own process (cross-encoder/run.mjs runs
// it several times between the model runs and takes the best, since this machine's speed drifts):
//   node roof.mjs <threads> <M> <h> <ffn> <out.json>
import { createRequire } from 'node:module';
import fs from 'node:fs';
import { matmulModel, matmulIntegerModel } from './onnx-proto.mjs';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const [threads, M, h, ffn] = process.argv.slice(2, 6).map(Number);
const outFile = process.argv[6];

async function measure(kind, K, N, count) {
  const bytes = kind === 'fp32' ? matmulModel(M, K, N) : matmulIntegerModel(M, K, N);
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const a = kind === 'fp32' ? new ort.Tensor('float32', Float32Array.from({ length: M * K }, (_, i) => ((i % 97) - 48) / 48), [M, K])
                            : new ort.Tensor('uint8', Uint8Array.from({ length: M * K }, (_, i) => (i * 31) % 256), [M, K]);
  for (let i = 0; i < 3; i++) await s.run({ A: a });
  const times = [];
  const until = performance.now() + 1200;
  while (performance.now() < until || times.length < 5) {
    const t = performance.now();
    await s.run({ A: a });
    times.push(performance.now() - t);
  }
  await s.release();
  times.sort((x, y) => x - y);
  const ms = times[times.length >> 1];
  const flops = 2 * M * K * N;
  return { kind, shape: `[${M},${K}]x[${K},${N}]`, count, ms, gflops: flops / ms / 1e6, runs: times.length };
}

const out = { threads, M, h, ffn, onnxruntimeNode: require('onnxruntime-node/package.json').version, shapes: [], mix: {} };
for (const kind of ['fp32', 'int8']) {
  // one encoder layer: Q, K and V packed into one h x 3h GEMM (as ONNX Runtime's BERT optimizer and Winnow's
  // attention fusion run them), the attention output (h x h), FFN up (h x ffn), FFN down (ffn x h)
  const rows = [await measure(kind, h, 3 * h, 1), await measure(kind, h, h, 1), await measure(kind, h, ffn, 1), await measure(kind, ffn, h, 1)];
  out.shapes.push(...rows);
  // FLOP-weighted throughput of the layer's linear mix: total FLOPs / total time
  const flops = rows.reduce((s, r) => s + r.count * 2 * M * Number(r.shape.match(/x\[(\d+),(\d+)\]/)[1]) * Number(r.shape.match(/x\[(\d+),(\d+)\]/)[2]), 0);
  const ms = rows.reduce((s, r) => s + r.count * r.ms, 0);
  out.mix[kind] = flops / ms / 1e6;
}
fs.writeFileSync(outFile, JSON.stringify(out, null, 2));
