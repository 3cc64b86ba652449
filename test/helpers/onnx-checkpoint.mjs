// Turns an ONNX export made by torch.onnx.export back into the state dict it was made from, written as a
// model.safetensors: initializers keep their module-path names, and the MatMul weights the exporter renamed
// ("onnx::MatMul_555", stored transposed [in, out]) are named after the node that reads them
// ("/ranker/model/layers.0/attn/Wqkv/MatMul" -> "ranker.model.layers.0.attn.Wqkv.weight", back to [out, in]).
// A small protobuf reader (field numbers from onnx.proto); no onnx package needed.
import * as fs from 'node:fs';
import { bytes, key, varint } from '../../bench/onnx-proto.mjs';

function reader(buf) {
  let pos = 0;
  const varint = () => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
    }
  };
  return {
    done: () => pos >= buf.length,
    /** The next field: [number, wire type, value (bigint for varints, Buffer for bytes)]. */
    next() {
      const key = Number(varint());
      const field = key >>> 3;
      const wire = key & 7;
      if (wire === 0) return [field, wire, varint()];
      if (wire === 2) {
        const n = Number(varint());
        const v = buf.subarray(pos, pos + n);
        pos += n;
        return [field, wire, v];
      }
      if (wire === 5) return [field, wire, buf.subarray(pos, (pos += 4))];
      if (wire === 1) return [field, wire, buf.subarray(pos, (pos += 8))];
      throw new Error(`unsupported protobuf wire type ${wire}`);
    },
    varint,
  };
}

function fields(buf) {
  const r = reader(buf);
  const out = [];
  while (!r.done()) out.push(r.next());
  return out;
}

function packedVarints(buf) {
  const r = reader(buf);
  const out = [];
  while (!r.done()) out.push(Number(r.varint()));
  return out;
}

function tensor(buf) {
  const t = { name: '', dims: [], dataType: 0, raw: null, floats: [] };
  for (const [f, w, v] of fields(buf)) {
    if (f === 1) (w === 2 ? packedVarints(v) : [Number(v)]).forEach((d) => t.dims.push(d));
    else if (f === 2) t.dataType = Number(v);
    else if (f === 8) t.name = v.toString('utf8');
    else if (f === 9) t.raw = v;
    else if (f === 4 && w === 2) for (let i = 0; i < v.length; i += 4) t.floats.push(v.readFloatLE(i));
  }
  if (t.dataType !== 1) throw new Error(`initializer ${t.name}: data type ${t.dataType}, expected float32`);
  const n = t.dims.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  if (t.raw) for (let i = 0; i < n; i++) values[i] = t.raw.readFloatLE(4 * i);
  else values.set(t.floats);
  return { name: t.name, dims: t.dims, values };
}

function node(buf) {
  const n = { inputs: [], name: '', op: '' };
  for (const [f, , v] of fields(buf)) {
    if (f === 1) n.inputs.push(v.toString('utf8'));
    else if (f === 3) n.name = v.toString('utf8');
    else if (f === 4) n.op = v.toString('utf8');
  }
  return n;
}

/** The export's weights by module path: Map name -> { dims, values } (MatMul weights back to [out, in]). */
export function stateDictFromOnnx(file) {
  const model = fields(fs.readFileSync(file));
  const graph = model.find(([f]) => f === 7)[2];
  const inits = new Map();
  const nodes = [];
  for (const [f, , v] of fields(graph)) {
    if (f === 5) {
      const t = tensor(v);
      inits.set(t.name, t);
    } else if (f === 1) nodes.push(node(v));
  }
  const out = new Map();
  for (const t of inits.values()) {
    if (!t.name.startsWith('onnx::')) {
      out.set(t.name, { dims: t.dims, values: t.values });
      continue;
    }
    const reader = nodes.find((n) => n.op === 'MatMul' && n.inputs[1] === t.name);
    if (!reader || !reader.name.endsWith('/MatMul') || t.dims.length !== 2)
      throw new Error(`${file}: cannot name initializer ${t.name}`);
    const name = reader.name.slice(1, -'/MatMul'.length).replaceAll('/', '.') + '.weight';
    const [inDim, outDim] = t.dims;
    const w = new Float32Array(inDim * outDim);
    for (let i = 0; i < inDim; i++) for (let o = 0; o < outDim; o++) w[o * inDim + i] = t.values[i * outDim + o];
    out.set(name, { dims: [outDim, inDim], values: w });
  }
  return out;
}

/** Writes `tensors` (Map name -> { dims, values: Float32Array }) as a float32 safetensors file. */
export function writeSafetensors(file, tensors) {
  const header = { __metadata__: { format: 'pt' } };
  const chunks = [];
  let offset = 0;
  for (const [name, t] of [...tensors].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const data = Buffer.from(t.values.buffer, t.values.byteOffset, t.values.byteLength);
    header[name] = { dtype: 'F32', shape: t.dims, data_offsets: [offset, offset + data.length] };
    chunks.push(data);
    offset += data.length;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json, ...chunks]));
}

/** The ranker's and the pruning head's weights of a pruning export (modules "ranker" and "head"). */
function splitExport(exportDir) {
  const ranker = new Map();
  const head = new Map();
  for (const [name, t] of stateDictFromOnnx(`${exportDir}/model.onnx`)) {
    // the plain exporter leaves "ranker" out of some node names ("/bert/encoder/..."): those are the ranker's too
    if (name.startsWith('head.')) head.set(name.slice('head.'.length), t);
    else ranker.set(name.startsWith('ranker.') ? name.slice('ranker.'.length) : name, t);
  }
  return { ranker, head };
}

function copyTokenizer(from, to) {
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'])
    if (fs.existsSync(`${from}/${f}`)) fs.copyFileSync(`${from}/${f}`, `${to}/${f}`);
}

const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));
const writeJson = (file, obj) => fs.writeFileSync(file, JSON.stringify(obj, null, 2) + '\n');

/**
 * The hub-shaped OpenProvence folder of a pruning export made by scripts/pruning/export_pruning_onnx.py: config.json
 * with model_type open_provence and the ranker's config under base_model_config, model.safetensors with
 * ranking_model.* and pruning_head.*, the tokenizer files. No ONNX file.
 */
export function provenceFolderFromExport(exportDir, outDir, { threshold } = {}) {
  const { ranker, head } = splitExport(exportDir);
  const tensors = new Map();
  for (const [k, t] of ranker) tensors.set('ranking_model.' + k, t);
  for (const [k, t] of head) tensors.set('pruning_head.' + k, t);
  fs.mkdirSync(outDir, { recursive: true });
  writeSafetensors(`${outDir}/model.safetensors`, tensors);
  const config = readJson(`${exportDir}/config.json`);
  const meta = readJson(`${exportDir}/winnow_pruning.json`);
  writeJson(`${outDir}/config.json`, {
    architectures: ['OpenProvenceModel'],
    model_type: 'open_provence',
    mode: 'reranking_pruning',
    base_model_config: config,
    max_length: meta.max_length,
    num_labels: 1,
    num_pruning_labels: 2,
    encoder_architecture: config.architectures?.[0],
    default_threadshold: threshold ?? meta.threshold,
  });
  copyTokenizer(exportDir, outDir);
  return outDir;
}

/**
 * The sentence-transformers PruningEncoder folder of a pruning export: pruning_encoder_config.json, ranking_model/
 * (config.json, model.safetensors, tokenizer files) and pruning_head/ (config.json and the head's weights: `headBin`,
 * a torch.save file, copied as pytorch_model.bin when given, else model.safetensors).
 */
export function sentenceTransformersFolderFromExport(exportDir, outDir, { headBin } = {}) {
  const { ranker, head } = splitExport(exportDir);
  const config = readJson(`${exportDir}/config.json`);
  const meta = readJson(`${exportDir}/winnow_pruning.json`);
  const rm = `${outDir}/ranking_model`;
  const ph = `${outDir}/pruning_head`;
  fs.mkdirSync(rm, { recursive: true });
  fs.mkdirSync(ph, { recursive: true });
  writeSafetensors(`${rm}/model.safetensors`, ranker);
  writeJson(`${rm}/config.json`, config);
  copyTokenizer(exportDir, rm);
  const pruningConfig = { hidden_size: config.hidden_size, num_labels: 2, classifier_dropout: 0.1 };
  writeJson(`${ph}/config.json`, { model_type: 'pruning_head', ...pruningConfig });
  if (headBin) fs.copyFileSync(headBin, `${ph}/pytorch_model.bin`);
  else writeSafetensors(`${ph}/model.safetensors`, head);
  writeJson(`${outDir}/pruning_encoder_config.json`, {
    model_name_or_path: 'ranker', mode: 'reranking_pruning', max_length: meta.max_length, num_labels: 1,
    pruning_config: pruningConfig, default_threshold: meta.threshold,
  });
  return outDir;
}

/** A safetensors file's tensors as raw bytes: Map name -> { dtype, shape, data: Buffer }. */
function readSafetensorsRaw(file) {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const out = new Map();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    out.set(name, { dtype: t.dtype, shape: t.shape, data: buf.subarray(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]) });
  }
  return out;
}

function writeSafetensorsRaw(file, tensors) {
  const header = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length] };
    offset += t.data.length;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json, ...[...tensors.values()].map((t) => t.data)]));
}

/**
 * A pruning reranker made from a sequence-classification checkpoint folder and its reference export (an ONNX file
 * with outputs logits and last_hidden_state, made by PyTorch), with a pruning head Linear(hidden, 2) of seeded
 * random weights added to both:
 *  - `${outDir}/export`: an export folder (winnow_pruning.json) whose model.onnx is the reference with
 *    ranking_logits = logits and pruning_logits = last_hidden_state · Wᵀ + b appended (a second GraphProto,
 *    which protobuf merges into the first);
 *  - `${outDir}/provence`: the same model as an OpenProvence folder (ranking_model.* + pruning_head.classifier.*).
 */
export function pruningFoldersFromCheckpoint(ckptDir, referenceOnnx, outDir, { maxLength, threshold, seed = 7 }) {
  const config = readJson(`${ckptDir}/config.json`);
  const hidden = config.hidden_size;
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  const w = Float32Array.from({ length: 2 * hidden }, () => rand()); // [2, hidden]
  const b = Float32Array.from([0.1, -0.2]);
  const wt = new Float32Array(2 * hidden); // [hidden, 2] for MatMul
  for (let o = 0; o < 2; o++) for (let i = 0; i < hidden; i++) wt[i * 2 + o] = w[o * hidden + i];

  const exportDir = `${outDir}/export`;
  fs.mkdirSync(exportDir, { recursive: true });
  const int = (field, n) => Buffer.concat([key(field, 0), varint(n)]);
  const str = (field, text) => bytes(field, Buffer.from(text, 'utf8'));
  const msg = (field, parts) => bytes(field, Buffer.concat(parts));
  const f32 = (name, dims, values) =>
    msg(5, [...dims.map((d) => int(1, d)), int(2, 1), str(8, name), bytes(9, Buffer.from(values.buffer))]);
  const node = (op, inputs, output) => msg(1, [...inputs.map((i) => str(1, i)), str(2, output), str(3, `pruning_${output}`), str(4, op)]);
  const dim = (d) => msg(1, [typeof d === 'string' ? str(2, d) : int(1, d)]);
  const out = (name, shape) => msg(12, [str(1, name), msg(2, [msg(1, [int(1, 1), msg(2, shape.map(dim))])])]);
  const extra = msg(7, [
    node('Identity', ['logits'], 'ranking_logits'),
    node('MatMul', ['last_hidden_state', 'pruning_head_wt'], 'pruning_head_xw'),
    node('Add', ['pruning_head_xw', 'pruning_head_b'], 'pruning_logits'),
    f32('pruning_head_wt', [hidden, 2], wt),
    f32('pruning_head_b', [2], b),
    out('ranking_logits', ['batch', 1]),
    out('pruning_logits', ['batch', 'sequence', 2]),
  ]);
  fs.writeFileSync(`${exportDir}/model.onnx`, Buffer.concat([fs.readFileSync(referenceOnnx), extra]));
  writeJson(`${exportDir}/config.json`, config);
  writeJson(`${exportDir}/winnow_pruning.json`, {
    format: 'winnow-pruning-reranker', version: 1, model: 'model.onnx', inputs: ['input_ids', 'attention_mask'],
    outputs: { ranking_logits: '[batch, 1] float32', pruning_logits: '[batch, sequence, 2] float32' },
    threshold, max_length: maxLength,
  });
  copyTokenizer(ckptDir, exportDir);

  const provenceDir = `${outDir}/provence`;
  fs.mkdirSync(provenceDir, { recursive: true });
  const tensors = new Map();
  for (const [name, t] of readSafetensorsRaw(`${ckptDir}/model.safetensors`)) tensors.set('ranking_model.' + name, t);
  tensors.set('pruning_head.classifier.weight', { dtype: 'F32', shape: [2, hidden], data: Buffer.from(w.buffer) });
  tensors.set('pruning_head.classifier.bias', { dtype: 'F32', shape: [2], data: Buffer.from(b.buffer) });
  writeSafetensorsRaw(`${provenceDir}/model.safetensors`, tensors);
  writeJson(`${provenceDir}/config.json`, {
    architectures: ['OpenProvenceModel'], model_type: 'open_provence', mode: 'reranking_pruning',
    base_model_config: config, max_length: maxLength, num_labels: 1, num_pruning_labels: 2,
    encoder_architecture: config.architectures?.[0], default_threadshold: threshold,
  });
  copyTokenizer(ckptDir, provenceDir);
  return { exportDir, provenceDir };
}
