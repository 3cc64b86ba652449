// Tiny ONNX graphs with chosen input / output element types, for load-time checks: no weights, a few nodes
// (Cast, ReduceMax, Unsqueeze, Concat) over input_ids. Written with the protobuf primitives of
// bench/onnx-proto.mjs (field numbers are onnx.proto's; opset 13, IR 8).
import { bytes, key, varint } from '../../bench/onnx-proto.mjs';

/** onnx.TensorProto.DataType values. */
export const DTYPE = { float: 1, int32: 6, int64: 7, float16: 10, double: 11 } as const;
export type DType = keyof typeof DTYPE;

const int = (field: number, n: number | bigint) => Buffer.concat([key(field, 0), varint(n)]);
const str = (field: number, s: string) => bytes(field, Buffer.from(s, 'utf8'));
const msg = (field: number, parts: Buffer[]) => bytes(field, Buffer.concat(parts));

/** AttributeProto: an int (type 2) or a list of ints (type 7). */
const attrInt = (name: string, v: number) => msg(5, [str(1, name), int(3, v), int(20, 2)]);
const attrInts = (name: string, vs: number[]) => msg(5, [str(1, name), ...vs.map((v) => int(8, v)), int(20, 7)]);
const node = (op: string, inputs: string[], outputs: string[], attrs: Buffer[] = []) =>
  msg(1, [...inputs.map((i) => str(1, i)), ...outputs.map((o) => str(2, o)), str(3, `${op}_${outputs[0]}`), str(4, op), ...attrs]);
const dim = (d: number | string) => msg(1, [typeof d === 'string' ? str(2, d) : int(1, d)]);
const valueInfo = (field: number, name: string, elem: DType, shape: (number | string)[]) =>
  msg(field, [str(1, name), msg(2, [msg(1, [int(1, DTYPE[elem]), msg(2, shape.map(dim))])])]);
const i64Tensor = (name: string, values: number[]) =>
  msg(5, [int(1, values.length), int(2, DTYPE.int64), str(8, name), bytes(9, Buffer.from(BigInt64Array.from(values, BigInt).buffer))]);
const model = (graph: Buffer[]) => Buffer.concat([int(1, 8), str(2, 'winnow-test'), msg(7, graph), msg(8, [str(1, ''), int(2, 13)])]);

const inputs = (ids: DType) => [valueInfo(11, 'input_ids', ids, ['batch', 'seq']), valueInfo(11, 'attention_mask', 'int64', ['batch', 'seq'])];

/** A cross-encoder's shape: logits [batch, 1] = max over the sequence of input_ids cast to `logits`. */
export function classifierGraph(ids: DType = 'int64', logits: DType = 'float'): Buffer {
  return model([
    node('Cast', ['input_ids'], ['x'], [attrInt('to', DTYPE[logits])]),
    node('ReduceMax', ['x'], ['logits'], [attrInts('axes', [1]), attrInt('keepdims', 1)]),
    str(2, 'classifier'),
    ...inputs(ids),
    valueInfo(12, 'logits', logits, ['batch', 1]),
  ]);
}

/** An embedding model's shape: last_hidden_state [batch, seq, 1] = input_ids cast to `hidden`. */
export function encoderGraph(ids: DType = 'int64', hidden: DType = 'float'): Buffer {
  return model([
    node('Cast', ['input_ids'], ['x'], [attrInt('to', DTYPE[hidden])]),
    node('Unsqueeze', ['x', 'axis2'], ['last_hidden_state']),
    str(2, 'encoder'),
    i64Tensor('axis2', [2]),
    ...inputs(ids),
    valueInfo(12, 'last_hidden_state', hidden, ['batch', 'seq', 1]),
  ]);
}

/** A pruning reranker's shape: ranking_logits [batch, 1] and pruning_logits [batch, seq, 2], from input_ids. */
export function pruningGraph(ids: DType = 'int64', ranking: DType = 'float', pruning: DType = 'float'): Buffer {
  return model([
    node('Cast', ['input_ids'], ['r'], [attrInt('to', DTYPE[ranking])]),
    node('ReduceMax', ['r'], ['ranking_logits'], [attrInts('axes', [1]), attrInt('keepdims', 1)]),
    node('Cast', ['input_ids'], ['p'], [attrInt('to', DTYPE[pruning])]),
    node('Unsqueeze', ['p', 'axis2'], ['p2']),
    node('Concat', ['p2', 'p2'], ['pruning_logits'], [attrInt('axis', 2)]),
    str(2, 'pruning'),
    i64Tensor('axis2', [2]),
    ...inputs(ids),
    valueInfo(12, 'ranking_logits', ranking, ['batch', 1]),
    valueInfo(12, 'pruning_logits', pruning, ['batch', 'seq', 2]),
  ]);
}
