// CUDA behaviour that can be proven on a machine without a GPU (CI): device selection, 'auto'
// falling back to the CPU, and the error for a missing CUDA library naming that library.
// The GPU itself is exercised by scripts/gpu/winnow_gpu.mjs (results in docs/gpu/).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CrossEncoder, SentenceEncoder } from '../lib/index';
import { FIXTURES, ROOT } from './helpers/reference';

const TINY = path.join(FIXTURES, 'bert-ce-tiny');

describe('device selection on a machine without CUDA', () => {
  it("'cuda' fails with CUDA_UNAVAILABLE and says why", async () => {
    const err = await CrossEncoder.load(TINY, { device: 'cuda' }).catch((e) => e);
    expect(err.code).toBe('CUDA_UNAVAILABLE');
    expect(err.message).toMatch(/CUDA/);
  });

  it("'auto' falls back to the CPU and says so in .device", async () => {
    const ce = await CrossEncoder.load(TINY, { device: 'auto' });
    expect(ce.device).toBe('cpu');
    // Decided after the fallback: a session that ends up on the CPU gets the CPU's layer norm fusion.
    expect(ce.fusedLayerNorms).toBe(5);
    const cpu = await CrossEncoder.load(TINY, { device: 'cpu' });
    const pairs: Array<[string, string]> = [['a query', 'a document'], ['another', 'text']];
    expect(Array.from(await ce.predict(pairs))).toEqual(Array.from(await cpu.predict(pairs)));
    ce.dispose();
    cpu.dispose();
    const enc = await SentenceEncoder.load(path.join(FIXTURES, 'e5-tiny'), { device: 'auto' });
    expect(enc.device).toBe('cpu');
    enc.dispose();
  });

  it('refuses malformed device names', async () => {
    for (const device of ['gpu', 'cuda:', 'cuda:x', 'CUDA']) {
      await expect(CrossEncoder.load(TINY, { device: device as any })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
  });
});

describe('CUDA build of ONNX Runtime without the CUDA libraries', () => {
  // The CUDA-capable core (the official 1.29 build that onnxruntime-node ships) next to a stand-in
  // CUDA provider whose only dependency, libcublasLt.so.13, is absent, as on a machine without CUDA.
  function assembleRuntime(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-cuda-'));
    const core = path.join(ROOT, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1');
    const shared = path.join(ROOT, 'node_modules/com.github.asus4.onnxruntime/Plugins/Linux/x64/libonnxruntime_providers_shared.so');
    fs.copyFileSync(core, path.join(dir, 'libwinnow_onnxruntime.so.1'));
    execFileSync('patchelf', ['--set-soname', 'libwinnow_onnxruntime.so.1', path.join(dir, 'libwinnow_onnxruntime.so.1')]);
    fs.copyFileSync(shared, path.join(dir, 'libonnxruntime_providers_shared.so'));
    fs.writeFileSync(path.join(dir, 'stub.c'), 'int winnow_cuda_stub(void) { return 0; }\n');
    const provider = path.join(dir, 'libonnxruntime_providers_cuda.so');
    execFileSync('cc', ['-shared', '-fPIC', '-o', provider, path.join(dir, 'stub.c')]);
    execFileSync('patchelf', ['--add-needed', 'libcublasLt.so.13', provider]);
    return path.join(dir, 'libwinnow_onnxruntime.so.1');
  }

  const run = (lib: string, device: string) => {
    const script = `
      const { CrossEncoder, runtimeInfo } = require(${JSON.stringify(path.join(ROOT, 'dist/cjs/index.js'))});
      CrossEncoder.load(${JSON.stringify(TINY)}, { device: ${JSON.stringify(device)} }).then(
        (ce) => console.log(JSON.stringify({ device: ce.device, providers: runtimeInfo().providers })),
        (e) => console.log(JSON.stringify({ code: e.code, message: e.message })));`;
    const out = execFileSync(process.execPath, ['-e', script], { env: { ...process.env, WINNOW_ORT_LIBRARY: lib }, encoding: 'utf8' });
    return JSON.parse(out.trim().split('\n').pop()!);
  };

  it("'cuda' names the library that failed to load", () => {
    const lib = assembleRuntime();
    const r = run(lib, 'cuda');
    expect(r.code).toBe('CUDA_UNAVAILABLE');
    expect(r.message).toContain('libcublasLt.so.13');
  });

  it("'auto' with that runtime still runs on the CPU", () => {
    const r = run(assembleRuntime(), 'auto');
    expect(r.device).toBe('cpu');
    expect(r.providers).toContain('CUDAExecutionProvider');
  });
});
