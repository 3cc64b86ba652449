// Just enough of the ONNX protobuf encoding (onnx.proto3, IR 8) to write one-node graphs for the
// GEMM microbenchmark, with no Python and no protobuf package. Field numbers are onnx.proto's. The wire-format
// primitives (varint, key, bytes) also serve fuzz/make_onnx_seeds.mjs and test/helpers/external-data.ts.
/** A non-negative integer (number or bigint) as a protobuf varint. */
export const varint = (n) => {
  const out = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return Buffer.from(out);
};
/** A field key: field number and wire type. */
export const key = (field, wire) => varint((field << 3) | wire);
const int = (field, n) => Buffer.concat([key(field, 0), varint(n)]);
/** A length-delimited field. */
export const bytes = (field, buf) => Buffer.concat([key(field, 2), varint(buf.length), buf]);
const str = (field, s) => bytes(field, Buffer.from(s, 'utf8'));
const msg = (field, parts) => bytes(field, Buffer.concat(parts));

export const DT = { float: 1, uint8: 2, int8: 3, int32: 6, int64: 7 };

const dim = (d) => msg(1, [typeof d === 'string' ? str(2, d) : int(1, d)]); // TensorShapeProto.Dimension
const valueInfo = (field, name, elem, shape) =>
  msg(field, [str(1, name), msg(2, [msg(1, [int(1, elem), msg(2, shape.map(dim))])])]); // ValueInfoProto{name, TypeProto{tensor_type{elem_type, shape}}}
const tensor = (name, elem, dims, raw) => msg(5, [...dims.map((d) => int(1, d)), int(2, elem), str(8, name), bytes(9, raw)]);
const node = (op, inputs, outputs) => msg(1, [...inputs.map((i) => str(1, i)), ...outputs.map((o) => str(2, o)), str(3, op + '_0'), str(4, op)]);

const i64 = (name, values) => tensor(name, DT.int64, [values.length], Buffer.from(BigInt64Array.from(values, BigInt).buffer));
// Keeps only row 0 of the product as the graph output, so the timing is the GEMM (its [M,N] result lives in
// ORT's arena) rather than copying a fresh [M,N] buffer out to JavaScript on every run.
const firstRow = () => [node('Slice', ['P', 'starts', 'ends', 'axes'], ['Y']), i64('starts', [0]), i64('ends', [1]), i64('axes', [0])];

const model = (graphParts) => Buffer.concat([int(1, 8), str(2, 'winnow-bench'), msg(7, graphParts), msg(8, [str(1, ''), int(2, 14)])]);

/** P[M,N] = A[M,K] x B[K,N], B a constant initializer (as in a transformer's linear layers, which ORT prepacks). */
export function matmulModel(M, K, N) {
  const w = new Float32Array(K * N);
  for (let i = 0; i < w.length; i++) w[i] = ((i * 2654435761) % 1000) / 1000 - 0.5;
  return model([
    node('MatMul', ['A', 'B'], ['P']),
    str(2, 'matmul'),
    ...firstRow(),
    tensor('B', DT.float, [K, N], Buffer.from(w.buffer)),
    valueInfo(11, 'A', DT.float, ['M', K]),
    valueInfo(12, 'Y', DT.float, [1, N]),
  ]);
}

/** P[M,N] int32 = MatMulInteger(A uint8 [M,K], B int8 [K,N] constant, zero points): the int8 kernel of quantize_dynamic graphs. */
export function matmulIntegerModel(M, K, N) {
  const w = new Int8Array(K * N);
  for (let i = 0; i < w.length; i++) w[i] = ((i * 2654435761) % 255) - 127;
  return model([
    node('MatMulInteger', ['A', 'B', 'a_zp', 'b_zp'], ['P']),
    str(2, 'matmul_integer'),
    ...firstRow(),
    tensor('B', DT.int8, [K, N], Buffer.from(w.buffer)),
    tensor('a_zp', DT.uint8, [], Buffer.from([128])),
    tensor('b_zp', DT.int8, [], Buffer.from([0])),
    valueInfo(11, 'A', DT.uint8, ['M', K]),
    valueInfo(12, 'Y', DT.int32, [1, N]),
  ]);
}
