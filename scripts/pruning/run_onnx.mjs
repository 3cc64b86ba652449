// Run an ONNX model with onnxruntime-node on inputs read from a JSON file and write its outputs
// as JSON. Used by export_pruning_onnx.py / make_pruning_fixtures.py where the onnxruntime Python
// package is not installed.
//
//   node scripts/pruning/run_onnx.mjs MODEL.onnx INPUTS.json OUTPUTS.json
//
// INPUTS.json:  {"<input name>": {"dtype": "int64"|"float32", "dims": [B, T], "data": [flat, row-major]}, ...}
//               (a list of such objects runs several feeds with one session: the output is then a list)
// OUTPUTS.json: {"<output name>": {"dims": [...], "data": [flat floats]}, ...}  (all graph outputs)
// Also prints the graph's input and output names to stderr.
import { createRequire } from 'node:module';
import fs from 'node:fs';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

const [modelPath, inPath, outPath] = process.argv.slice(2);
if (!modelPath || !inPath || !outPath) {
  console.error('usage: node run_onnx.mjs MODEL.onnx INPUTS.json OUTPUTS.json');
  process.exit(2);
}

const toTensor = ({ dtype = 'int64', dims, data }) => {
  if (dtype === 'int64') return new ort.Tensor('int64', BigInt64Array.from(data, (v) => BigInt(v)), dims);
  if (dtype === 'int32') return new ort.Tensor('int32', Int32Array.from(data), dims);
  if (dtype === 'float32') return new ort.Tensor('float32', Float32Array.from(data), dims);
  throw new Error(`unsupported input dtype ${dtype}`);
};

const session = await ort.InferenceSession.create(modelPath, { graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
console.error(`inputs: ${session.inputNames.join(', ')}; outputs: ${session.outputNames.join(', ')}`);
const spec = JSON.parse(fs.readFileSync(inPath, 'utf8'));
const feedsList = Array.isArray(spec) ? spec : [spec];
const results = [];
for (const feedSpec of feedsList) {
  const feeds = {};
  for (const [name, t] of Object.entries(feedSpec)) feeds[name] = toTensor(t);
  const out = await session.run(feeds);
  const res = {};
  for (const name of session.outputNames) {
    const t = out[name];
    res[name] = { dtype: t.type, dims: t.dims.map(Number), data: Array.from(t.data, Number) };
  }
  results.push(res);
}
fs.writeFileSync(outPath, JSON.stringify(Array.isArray(spec) ? results : results[0]));
