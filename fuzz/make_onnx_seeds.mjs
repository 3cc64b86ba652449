// Writes fuzz/seeds/onnx/: small ONNX models holding the patterns graph_rewrite.cc fuses (LayerNormalization
// op; the decomposed opset-14 form; a BERT self-attention block) and one near miss, for graph_rewrite_fuzzer.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bytes as len, key, varint } from '../bench/onnx-proto.mjs';

const out = path.join(path.dirname(fileURLToPath(import.meta.url)), 'seeds', 'onnx');
const int = (f, n) => Buffer.concat([key(f, 0), varint(BigInt.asUintN(64, BigInt(n)))]);
const str = (f, s) => len(f, Buffer.from(s));
const msg = (f, parts) => len(f, Buffer.concat(parts));
const f32 = (v) => { const b = Buffer.alloc(4); b.writeFloatLE(v); return b; };
const floatAttr = (name, v) => msg(5, [str(1, name), Buffer.concat([key(2, 5), f32(v)]), int(20, 1)]);
const intsAttr = (name, vs) => msg(5, [str(1, name), ...vs.map((v) => int(8, v)), int(20, 7)]);
const scalar = (name, v) => msg(5, [int(2, 1), str(8, name), len(9, f32(v))]);
const vec = (name, n) => msg(5, [int(1, n), int(2, 1), str(8, name), len(9, Buffer.concat(Array.from({ length: n }, () => f32(1))))]);
const constNode = (o, v) => msg(1, [str(2, o), str(4, 'Constant'), msg(5, [str(1, 'value'), len(5, Buffer.concat([int(2, 1), str(8, o), len(9, f32(v))])), int(20, 4)])]);
const node = (op, ins, outs, attrs = []) => msg(1, [...ins.map((i) => str(1, i)), ...outs.map((o) => str(2, o)), str(4, op), ...attrs]);
const model = (nodes, inits, outputs, opset, inputs = []) =>
  Buffer.concat([int(1, 8), msg(7, [...nodes, str(2, 'g'), ...inits, ...inputs.map((i) => msg(11, [str(1, i)])), ...outputs.map((o) => msg(12, [str(1, o)]))]), msg(8, [str(1, ''), int(2, opset)])]);
const i64 = (name, vs) => msg(5, [int(1, vs.length), int(2, 7), ...vs.map((v) => int(7, v)), str(8, name)]);
const intAttr = (name, v) => msg(5, [str(1, name), int(3, v), int(20, 2)]);
const decomposed = (x, y) => [
  node('ReduceMean', [x], ['mu'], [intsAttr('axes', [-1])]), node('Sub', [x, 'mu'], ['d']), constNode('two', 2),
  node('Pow', ['d', 'two'], ['p']), node('ReduceMean', ['p'], ['var'], [intsAttr('axes', [-1])]), constNode('eps', 1e-12),
  node('Add', ['var', 'eps'], ['ve']), node('Sqrt', ['ve'], ['sd']), node('Div', ['d', 'sd'], ['n']),
  node('Mul', ['n', 'gamma'], ['m']), node('Add', ['m', 'beta'], [y]),
];
fs.mkdirSync(out, { recursive: true });
const gb = [vec('gamma', 4), vec('beta', 4)];
fs.writeFileSync(path.join(out, 'layernorm-op'), model([node('Add', ['A', 'B'], ['S']), node('LayerNormalization', ['S', 'gamma', 'beta'], ['Y'], [floatAttr('epsilon', 1e-12)])], gb, ['Y'], 17));
fs.writeFileSync(path.join(out, 'decomposed'), model([node('Add', ['A', 'B'], ['S']), ...decomposed('S', 'Y')], gb, ['Y'], 14));
fs.writeFileSync(path.join(out, 'two-layers'), model([node('Add', ['A', 'B'], ['S']), node('LayerNormalization', ['S', 'gamma', 'beta'], ['Y']), node('Add', ['Y', 'C'], ['S2']), node('LayerNormalization', ['S2', 'gamma', 'beta'], ['Z'])], gb, ['Z'], 17));
fs.writeFileSync(path.join(out, 'near-miss-bias'), model([node('Add', ['A', 'gamma'], ['S']), node('LayerNormalization', ['S', 'gamma', 'beta'], ['Y'])], gb, ['Y'], 17));
// Self-attention over x [B, S, 8], 2 heads of 4, as Hugging Face's eager BERT attention exports it.
const attention = [
  ...['q', 'k', 'v'].flatMap((p) => [node('MatMul', ['x', `W${p}`], [`${p}m`]), node('Add', [`b${p}`, `${p}m`], [`${p}3`])]),
  node('Cast', ['attention_mask'], ['mf'], [intAttr('to', 1)]), constNode('one', 1), node('Sub', ['one', 'mf'], ['inv']),
  constNode('big', -3.4e38), node('Mul', ['inv', 'big'], ['addmask']),
  node('Reshape', ['q3', 'shape4'], ['qr']), node('Transpose', ['qr'], ['qh'], [intsAttr('perm', [0, 2, 1, 3])]),
  node('Reshape', ['k3', 'shape4'], ['kr']), node('Transpose', ['kr'], ['kt'], [intsAttr('perm', [0, 2, 3, 1])]),
  node('Reshape', ['v3', 'shape4'], ['vr']), node('Transpose', ['vr'], ['vh'], [intsAttr('perm', [0, 2, 1, 3])]),
  node('MatMul', ['qh', 'kt'], ['s']), constNode('c2', 2), node('Div', ['s', 'c2'], ['ss']), node('Add', ['ss', 'addmask'], ['sm']),
  node('Softmax', ['sm'], ['p'], [intAttr('axis', -1)]), node('MatMul', ['p', 'vh'], ['ctx']),
  node('Transpose', ['ctx'], ['ct'], [intsAttr('perm', [0, 2, 1, 3])]), node('Shape', ['ct'], ['cs']),
  node('Concat', ['cs', 'd8'], ['shape3'], [intAttr('axis', 0)]), node('Reshape', ['ct', 'shape3'], ['out']),
];
const attentionInits = [...['q', 'k', 'v'].flatMap((p) => [vec(`b${p}`, 8), msg(5, [int(1, 8), int(1, 8), int(2, 1), str(8, `W${p}`), len(9, Buffer.alloc(256))])]), i64('shape4', [0, 0, 2, 4]), i64('d8', [8])];
fs.writeFileSync(path.join(out, 'attention'), model(attention, attentionInits, ['out'], 14, ['x', 'attention_mask']));
// The same attention block with its weights in an external data file (location "model.onnx_data"; the fuzzer
// hands in the input itself as that file, so these offsets point into the seed).
const extTensor = (name, dims, offset) => msg(5, [...dims.map((d) => int(1, d)), int(2, 1), str(8, name),
  ...[['location', 'model.onnx_data'], ['offset', String(offset)], ['length', String(dims.reduce((a, b) => a * b, 1) * 4)]].map(([k, v]) => msg(13, [str(1, k), str(2, v)])), int(14, 1)]);
const externalInits = [...['q', 'k', 'v'].flatMap((p, i) => [extTensor(`b${p}`, [8], 32 * i), extTensor(`W${p}`, [8, 8], 64 + 256 * i)]), i64('shape4', [0, 0, 2, 4]), i64('d8', [8])];
fs.writeFileSync(path.join(out, 'attention-external'), model(attention, externalInits, ['out'], 14, ['x', 'attention_mask']));
console.log(`wrote ${fs.readdirSync(out).length} seeds to ${out}`);
