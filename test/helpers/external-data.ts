// Rewrites an ONNX model so that its large initializers live in a separate external-data file, as exporters write
// models over protobuf's 2 GiB limit (optimum: model.onnx + model.onnx_data). A minimal protobuf walk: only
// ModelProto.graph (7) -> GraphProto.initializer (5) -> TensorProto.raw_data (9) is touched; every other field is
// copied as it is. TensorProto gains external_data (13: location, offset, length) and data_location (14) = EXTERNAL.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bytes as lengthDelimited, key, varint } from '../../bench/onnx-proto.mjs';

interface Field {
  field: number;
  wire: number;
  bytes: Buffer; // the whole field, key included
  payload?: Buffer; // length-delimited fields: the content
}

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    const b = buf[pos++];
    v |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) return [v, pos];
    shift += 7n;
  }
}

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const start = pos;
    const [tag, p] = readVarint(buf, pos);
    pos = p;
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    let payload: Buffer | undefined;
    if (wire === 0) pos = readVarint(buf, pos)[1];
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const [len, q] = readVarint(buf, pos);
      payload = buf.subarray(q, q + Number(len));
      pos = q + Number(len);
    } else throw new Error(`unexpected wire type ${wire}`);
    out.push({ field, wire, bytes: buf.subarray(start, pos), payload });
  }
  return out;
}

const entry = (name: string, value: string) => lengthDelimited(13, Buffer.concat([lengthDelimited(1, Buffer.from(name)), lengthDelimited(2, Buffer.from(value))]));

/**
 * Writes `model` to `outDir/<name>` with every initializer of `minBytes` or more in `outDir/<name>_data`
 * (relative location, 4 KiB-aligned offsets as onnx's save_model writes them). Returns how many moved.
 */
export function writeWithExternalData(model: Buffer, outDir: string, name: string, minBytes = 1024): number {
  const dataName = `${name}_data`;
  const chunks: Buffer[] = [];
  let offset = 0;
  let moved = 0;
  const tensor = (t: Buffer): Buffer => {
    const fs_ = fields(t);
    const raw = fs_.find((f) => f.field === 9);
    if (!raw || !raw.payload || raw.payload.length < minBytes) return t;
    const pad = (4096 - (offset % 4096)) % 4096;
    if (pad) chunks.push(Buffer.alloc(pad));
    offset += pad;
    chunks.push(Buffer.from(raw.payload));
    const out = [
      ...fs_.filter((f) => f.field !== 9).map((f) => f.bytes),
      entry('location', dataName),
      entry('offset', String(offset)),
      entry('length', String(raw.payload.length)),
      Buffer.concat([key(14, 0), varint(1)]),
    ];
    offset += raw.payload.length;
    moved++;
    return Buffer.concat(out);
  };
  const graph = (g: Buffer): Buffer =>
    Buffer.concat(fields(g).map((f) => (f.field === 5 && f.payload ? lengthDelimited(5, tensor(f.payload)) : f.bytes)));
  const out = Buffer.concat(fields(model).map((f) => (f.field === 7 && f.payload ? lengthDelimited(7, graph(f.payload)) : f.bytes)));
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, name), out);
  fs.writeFileSync(path.join(outDir, dataName), Buffer.concat(chunks));
  return moved;
}
