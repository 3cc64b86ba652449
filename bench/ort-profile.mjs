// Kernel time per operator from an ONNX Runtime profile file (onnxruntime-node's enableProfiling, or Winnow's
// WINNOW_PROFILE): [{ op, ms, share }] sorted by time.
import fs from 'node:fs';

export function kernelTimeByOp(file) {
  const byOp = {};
  for (const e of JSON.parse(fs.readFileSync(file, 'utf8')))
    if (e.cat === 'Node' && e.name.endsWith('_kernel_time')) byOp[e.args.op_name] = (byOp[e.args.op_name] ?? 0) + e.dur;
  const total = Object.values(byOp).reduce((a, b) => a + b, 0);
  return Object.entries(byOp).sort((a, b) => b[1] - a[1]).map(([op, us]) => ({ op, ms: us / 1000, share: us / total }));
}

export function printKernelTime(title, file, top = 10) {
  console.log(`ONNX Runtime kernel time by operator (${title}):`);
  for (const r of kernelTimeByOp(file).slice(0, top)) console.log(`  ${r.op.padEnd(26)} ${(100 * r.share).toFixed(1)} %`);
}
