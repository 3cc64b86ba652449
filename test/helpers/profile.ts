// ONNX Runtime profiles: a model loaded while WINNOW_PROFILE names a path prefix writes a trace there at dispose.
// These read the trace's kernel runs: which operators ran, and the shapes they ran on.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface KernelRun {
  op: string;
  inputs: number[][]; // each input's shape
  outputs: number[][];
}

interface TraceEvent {
  cat: string;
  name: string;
  args?: {
    op_name?: string;
    input_type_shape?: Array<Record<string, number[]>>;
    output_type_shape?: Array<Record<string, number[]>>;
  };
}

const shapes = (list?: Array<Record<string, number[]>>) => (list ?? []).map((s) => Object.values(s)[0]);

// The kernel runs of one trace file, in order.
export function kernelRuns(file: string): KernelRun[] {
  const events = JSON.parse(fs.readFileSync(file, 'utf8')) as TraceEvent[];
  return events
    .filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time') && e.args?.op_name)
    .map((e) => ({ op: e.args!.op_name!, inputs: shapes(e.args!.input_type_shape), outputs: shapes(e.args!.output_type_shape) }));
}

// How many times each operator ran.
export function runsByOp(runs: KernelRun[]): Map<string, number> {
  const ops = new Map<string, number>();
  for (const r of runs) ops.set(r.op, (ops.get(r.op) ?? 0) + 1);
  return ops;
}

// The trace file under `dir`, waiting up to 5 s for the write at dispose.
export async function traceIn(dir: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const file = fs.readdirSync(dir).find((f) => f.endsWith('.json'));
    if (file) return path.join(dir, file);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no profile was written under ${dir}`);
}

// Loads a model with WINNOW_PROFILE set (it is read at load), runs `use` on it, disposes it and returns the kernel
// runs of its trace (the load's own probe run included).
export async function profiled<M extends { dispose(): void }>(load: () => Promise<M>, use: (m: M) => Promise<unknown>): Promise<KernelRun[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-profile-'));
  try {
    process.env.WINNOW_PROFILE = path.join(dir, 'p');
    let m: M;
    try {
      m = await load();
    } finally {
      delete process.env.WINNOW_PROFILE;
    }
    try {
      await use(m);
    } finally {
      m.dispose();
    }
    return kernelRuns(await traceIn(dir));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
