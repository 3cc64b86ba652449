// peft LoRA adapters merged at load (issue 25): `{ adapter }` over a checkpoint folder, or the adapter folder alone
// (its base from base_model_name_or_path). The references are the base model with each adapter merged in PyTorch
// (W + scale * B A, scripts/fixtures/checkpoints_lora.py) exported by torch.onnx and run by onnxruntime-node.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CrossEncoder } from '../lib/index';
import { errorOf } from './helpers/errors';
import { editedCopy } from './helpers/model-copy';
import { corpusPairs, maxAbsDiff, referenceLogits, ROOT } from './helpers/reference';

const CKPT = path.join(ROOT, 'test', 'fixtures', 'checkpoints');
const BASE = path.join(CKPT, 'bert-cls');
const adapterOf = (v: string) => path.join(CKPT, `lora-bert-${v}`);
const refOf = (v: string) => path.join(CKPT, `lora-bert-${v}.reference.onnx`);
const COMMIT = 'd'.repeat(8) + '0123456789abcdef0123456789abcdef';
const OTHER = 'e'.repeat(8) + '0123456789abcdef0123456789abcdef';

// Real pairs of several lengths (padded batches), one past the 128-token limit (truncated).
function pairs(): Array<[string, string]> {
  const p = corpusPairs(16);
  p.push([p[0][0], p.slice(0, 8).map((x) => x[1]).join(' ')]);
  p.push(['a', 'b']);
  return p;
}

// `from`'s files as snapshot `commit` of hub id `id` in `cache`, linked into blobs/ as huggingface_hub writes them.
function addSnapshot(cache: string, id: string, commit: string, from: string, refs: string[]): void {
  const repo = path.join(cache, `models--${id.replace('/', '--')}`);
  for (const f of fs.readdirSync(from)) {
    const bytes = fs.readFileSync(path.join(from, f));
    const blob = path.join(repo, 'blobs', createHash('sha256').update(bytes).digest('hex'));
    fs.mkdirSync(path.dirname(blob), { recursive: true });
    if (!fs.existsSync(blob)) fs.writeFileSync(blob, bytes);
    const link = path.join(repo, 'snapshots', commit, f);
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(path.relative(path.dirname(link), blob), link);
  }
  for (const ref of refs) {
    fs.mkdirSync(path.join(repo, 'refs'), { recursive: true });
    fs.writeFileSync(path.join(repo, 'refs', ref), commit);
  }
}

// A copy of an adapter with its adapter_config.json changed by `edit`.
function adapterWith(v: string, edit: (config: Record<string, unknown>) => void): string {
  return editedCopy(adapterOf(v), (d) => {
    const file = path.join(d, 'adapter_config.json');
    const config = JSON.parse(fs.readFileSync(file, 'utf8'));
    edit(config);
    fs.writeFileSync(file, JSON.stringify(config));
  });
}

describe('LoRA adapters merged at load', () => {
  let base: number[];
  beforeAll(async () => {
    const m = await CrossEncoder.load(BASE, { threads: 1, activation: 'none' });
    base = Array.from(await m.predict(pairs()));
    m.dispose();
  });

  const variants: Array<[string, string]> = [
    ['adapter', 'r 8, alpha 16, target_modules ["query", "key", "value", "dense"], the classifier saved whole'],
    ['rslora', 'use_rslora, a regex target_modules, fan_in_fan_out true on nn.Linear, bias "all" saved'],
    ['patterns', 'rank_pattern / alpha_pattern in file order, lora_bias, lora_A.default.weight keys'],
  ];
  for (const [v, what] of variants) for (const kernels of ['winnow', 'onnxruntime'] as const) {
    it(`${v}: ${what}: scores within 1e-5 of the merged reference, batched as alone (kernels '${kernels}')`, async () => {
      const m = await CrossEncoder.load(BASE, { threads: 1, activation: 'none', adapter: adapterOf(v), kernels });
      expect(m.source.built).toBe(true);
      const p = pairs();
      const ref = (await referenceLogits(BASE, p, { maxLength: m.maxLength, onnxPath: refOf(v) })).flat();
      const got = await m.predict(p);
      expect(got.length).toBe(ref.length);
      expect(maxAbsDiff(got, ref)).toBeLessThan(1e-5);
      // The adapter changes the scores well past the tolerance (an adapter not merged would fail).
      expect(maxAbsDiff(got, base)).toBeGreaterThan(0.05);
      for (const i of [0, p.length - 1]) expect(maxAbsDiff(await m.predict([p[i]]), [got[i]])).toBeLessThan(1e-6);
      m.dispose();
    });
  }

  it('the adapter folder alone loads its base from base_model_name_or_path: a path, or a hub id in the cache', async () => {
    const withPath = adapterWith('adapter', (c) => {
      c.base_model_name_or_path = BASE;
    });
    const p = pairs();
    const byPath = await CrossEncoder.load(withPath, { threads: 1, activation: 'none' });
    const ref = (await referenceLogits(BASE, p, { maxLength: byPath.maxLength, onnxPath: refOf('adapter') })).flat();
    expect(maxAbsDiff(await byPath.predict(p), ref)).toBeLessThan(1e-5);
    byPath.dispose();

    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-lora-hub-'));
    const saved = process.env.HF_HUB_CACHE;
    try {
      // The fixtures name winnow-test/bert-cls; main points at it.
      addSnapshot(cache, 'winnow-test/bert-cls', COMMIT, BASE, ['main']);
      process.env.HF_HUB_CACHE = cache;
      const byId = await CrossEncoder.load(adapterOf('adapter'), { threads: 1, activation: 'none' });
      expect(maxAbsDiff(await byId.predict(p), ref)).toBeLessThan(1e-5);
      byId.dispose();
    } finally {
      if (saved === undefined) delete process.env.HF_HUB_CACHE;
      else process.env.HF_HUB_CACHE = saved;
      fs.rmSync(cache, { recursive: true, force: true });
    }
    fs.rmSync(withPath, { recursive: true, force: true });
  });

  it("adapter_config.json's revision picks the base's snapshot, as peft's AutoPeftModel does", async () => {
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-lora-hub-'));
    const saved = process.env.HF_HUB_CACHE;
    // main is another model (xlmr-cls); the adapter was trained on revision v1, which is bert-cls.
    const pinned = adapterWith('adapter', (c) => {
      c.revision = 'v1';
    });
    try {
      addSnapshot(cache, 'winnow-test/bert-cls', COMMIT, BASE, ['v1']);
      addSnapshot(cache, 'winnow-test/bert-cls', OTHER, path.join(CKPT, 'xlmr-cls'), ['main']);
      process.env.HF_HUB_CACHE = cache;
      const m = await CrossEncoder.load(pinned, { threads: 1, activation: 'none' });
      const p = pairs();
      const ref = (await referenceLogits(BASE, p, { maxLength: m.maxLength, onnxPath: refOf('adapter') })).flat();
      expect(maxAbsDiff(await m.predict(p), ref)).toBeLessThan(1e-5);
      m.dispose();
      // A revision the cache lacks is MODEL_NOT_FOUND naming it.
      const missing = adapterWith('adapter', (c) => {
        c.revision = 'v9';
      });
      const e = await errorOf(() => CrossEncoder.load(missing));
      expect(e.code).toBe('MODEL_NOT_FOUND');
      expect(e.message).toContain('v9');
      fs.rmSync(missing, { recursive: true, force: true });
    } finally {
      if (saved === undefined) delete process.env.HF_HUB_CACHE;
      else process.env.HF_HUB_CACHE = saved;
      fs.rmSync(cache, { recursive: true, force: true });
      fs.rmSync(pinned, { recursive: true, force: true });
    }
  });

  it('refuses what it does not merge: DoRA, other peft types, base-changing initialisations (MODEL_UNSUPPORTED)', async () => {
    const cases: Array<[(c: Record<string, unknown>) => void, string]> = [
      [(c) => { c.use_dora = true; }, 'use_dora'],
      [(c) => { c.peft_type = 'IA3'; }, 'IA3'],
      [(c) => { c.peft_type = 'LOHA'; }, 'LOHA'],
      [(c) => { c.init_lora_weights = 'pissa'; }, 'pissa'],
    ];
    for (const [edit, named] of cases) {
      const dir = adapterWith('adapter', edit);
      const e = await errorOf(() => CrossEncoder.load(BASE, { adapter: dir }));
      expect(e.code).toBe('MODEL_UNSUPPORTED');
      expect(e.message).toContain(named);
      expect(e.message).toContain('adapter_config.json');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an adapter for another base is CHECKPOINT_INVALID naming the weight it cannot place; a bad config is CONFIG_INVALID', async () => {
    // bert.* modules over an XLM-R checkpoint (roberta.*): peft would not load them either.
    const e = await errorOf(() => CrossEncoder.load(path.join(CKPT, 'xlmr-cls'), { adapter: adapterOf('adapter') }));
    expect(e.code).toBe('CHECKPOINT_INVALID');
    expect(e.message).toContain('bert.encoder.layer.0.attention');
    // r that does not match the stored factors.
    const rank = adapterWith('adapter', (c) => { c.r = 4; });
    const r = await errorOf(() => CrossEncoder.load(BASE, { adapter: rank }));
    expect(r.code).toBe('CHECKPOINT_INVALID');
    expect(r.message).toContain('lora_A.weight has rank 8');
    fs.rmSync(rank, { recursive: true, force: true });
    const bad = adapterWith('adapter', (c) => { c.target_modules = '(query'; });
    const b = await errorOf(() => CrossEncoder.load(BASE, { adapter: bad }));
    expect(b.code).toBe('CONFIG_INVALID');
    expect(b.message).toContain('target_modules');
    fs.rmSync(bad, { recursive: true, force: true });
  });
});
