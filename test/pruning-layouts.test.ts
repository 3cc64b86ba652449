// PruningEncoder.load on the layouts Provence models ship in, no ONNX file and no Python (issue 25): OpenProvence
// (config.json model_type open_provence + model.safetensors with ranking_model.* / pruning_head.*) and the
// sentence-transformers PruningEncoder (ranking_model/ + pruning_head/ + pruning_encoder_config.json). Each folder
// is made from a committed ONNX export's own weights (test/helpers/onnx-checkpoint.mjs renames them back), so the
// export is the reference: its outputs on padded batches, and PruningEncoder's results on it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { Tokenizer as HfTokenizer } from 'tokenizers';
import { afterAll, describe, expect, it } from 'vitest';
import { CrossEncoder, PruningEncoder } from '../lib/index';
import type { PruneResultWithSentences } from '../lib/index';
import { errorOf } from './helpers/errors';
import {
  provenceFolderFromExport,
  pruningFoldersFromCheckpoint,
  sentenceTransformersFolderFromExport,
} from './helpers/onnx-checkpoint.mjs';
import { profiled } from './helpers/profile';
import { PruningReference } from './helpers/pruning-reference';
import { corpusPairs, FIXTURES, ROOT } from './helpers/reference';

const BERT = path.join(FIXTURES, 'pruning-bert-tiny'); // threshold 0.3, max_length 256
const MODERN = path.join(FIXTURES, 'pruning-modernbert-tiny'); // threshold 0.1, ModernBERT (local attention 16)
const CKPT = path.join(ROOT, 'test', 'fixtures', 'checkpoints');
const ST_HEAD_BIN = path.join(CKPT, 'pruning-bert-tiny-st-head.bin');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-pruning-layouts-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string) => path.join(tmp, `${n++}-${name}`);

function docs(): Array<[string, string]> {
  const p = corpusPairs(40);
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 4 <= p.length; i += 4) out.push([p[i][0], p.slice(i, i + 4).map((x) => x[1]).join(' ')]);
  out.push(['what', 'A short one.']);
  return out;
}

/** The built model gives the export's results: same kept spans and text, scores and probabilities within 1e-5. */
async function expectSameAsExport(built: PruningEncoder, exported: PruningEncoder): Promise<void> {
  const pairs = docs();
  const a = (await built.predictWithPruning(pairs, { returnSentences: true })) as PruneResultWithSentences[];
  const b = (await exported.predictWithPruning(pairs, { returnSentences: true })) as PruneResultWithSentences[];
  let worst = 0;
  let kept = 0;
  for (let i = 0; i < pairs.length; i++) {
    expect(a[i].keptSpans).toEqual(b[i].keptSpans);
    expect(a[i].prunedDocument).toBe(b[i].prunedDocument);
    expect(a[i].sentences.map((s) => s.kept)).toEqual(b[i].sentences.map((s) => s.kept));
    worst = Math.max(worst, Math.abs(a[i].rankingScore - b[i].rankingScore));
    a[i].sentences.forEach((s, j) => (worst = Math.max(worst, Math.abs(s.probability - b[i].sentences[j].probability))));
    kept += a[i].keptSpans.length;
  }
  expect(worst).toBeLessThan(1e-5);
  // Some sentences kept, some dropped, scores that differ: a constant model would not pass.
  expect(kept).toBeGreaterThan(0);
  expect(a.some((r) => r.sentences.some((s) => !s.kept))).toBe(true);
  expect(new Set(a.map((r) => r.rankingScore.toFixed(6))).size).toBeGreaterThan(3);
}

/** ranking_logits and pruning_logits of two graphs on the same padded batches of real pairs (several lengths). */
async function expectSameOutputs(dir: string, a: string, b: string, maxLength: number): Promise<void> {
  const tok = HfTokenizer.fromFile(path.join(dir, 'tokenizer.json'));
  tok.setTruncation(maxLength, { strategy: 'OnlySecond' as any });
  const sa = await ort.InferenceSession.create(a, { intraOpNumThreads: 1 });
  const sb = await ort.InferenceSession.create(b, { intraOpNumThreads: 1 });
  expect(sa.inputNames).toEqual(sb.inputNames);
  const pairs = corpusPairs(12);
  const pad = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).pad_token_id ?? 0;
  let worst = 0;
  for (let start = 0; start < pairs.length; start += 4) {
    const enc = await Promise.all(pairs.slice(start, start + 4).map(([q, d]) => tok.encode(q, d)));
    const rows = enc.length;
    const seq = Math.max(...enc.map((e) => e.getIds().length));
    expect(Math.min(...enc.map((e) => e.getIds().length))).toBeLessThan(seq); // padded
    const ids = new BigInt64Array(rows * seq).fill(BigInt(pad));
    const mask = new BigInt64Array(rows * seq);
    const types = new BigInt64Array(rows * seq);
    enc.forEach((e, r) => e.getIds().forEach((id, j) => {
      ids[r * seq + j] = BigInt(id);
      mask[r * seq + j] = 1n;
      types[r * seq + j] = BigInt(e.getTypeIds()[j]);
    }));
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', ids, [rows, seq]),
      attention_mask: new ort.Tensor('int64', mask, [rows, seq]),
    };
    if (sa.inputNames.includes('token_type_ids')) feeds.token_type_ids = new ort.Tensor('int64', types, [rows, seq]);
    const [ra, rb] = [await sa.run(feeds), await sb.run(feeds)];
    const ranking = [ra.ranking_logits.data as Float32Array, rb.ranking_logits.data as Float32Array];
    for (let i = 0; i < rows; i++) worst = Math.max(worst, Math.abs(ranking[0][i] - ranking[1][i]));
    const pruning = [ra.pruning_logits.data as Float32Array, rb.pruning_logits.data as Float32Array];
    expect(pruning[0].length).toBe(rows * seq * 2);
    for (let t = 0; t < rows * seq; t++)
      if (mask[t] === 1n) for (const k of [0, 1]) worst = Math.max(worst, Math.abs(pruning[0][2 * t + k] - pruning[1][2 * t + k]));
  }
  expect(worst).toBeLessThan(1e-5);
  await sa.release();
  await sb.release();
}

describe('PruningEncoder from an OpenProvence folder', () => {
  it('ModernBERT ranker: the built graph reproduces the export (padded batches), and so do the results', async () => {
    const dir = provenceFolderFromExport(MODERN, fresh('modernbert-op'), { threshold: 0.5 });
    expect(fs.readdirSync(dir).some((f) => f.endsWith('.onnx'))).toBe(false);
    const built = await PruningEncoder.load(dir, { threads: 1, maxLength: 64 });
    expect(built.source).toEqual({ file: 'model.safetensors', built: true });
    expect(built.threshold).toBeCloseTo(0.5, 9); // default_threadshold, OpenProvence's spelling
    const saved = path.join(dir, 'built.onnx');
    await built.saveOnnx(saved);
    await expectSameOutputs(MODERN, path.join(MODERN, 'model.onnx'), saved, 64);
    const exported = await PruningEncoder.load(MODERN, { threads: 1, maxLength: 64, threshold: 0.5 });
    await expectSameAsExport(built, exported);
    built.dispose();
    exported.dispose();
  });

  it('BERT ranker: threshold and max_length from config.json, the same results as the export', async () => {
    const dir = provenceFolderFromExport(BERT, fresh('bert-op'));
    const built = await PruningEncoder.load(dir, { threads: 1 });
    expect(built.source).toEqual({ file: 'model.safetensors', built: true });
    expect(built.threshold).toBeCloseTo(0.3, 9);
    expect(built.maxLength).toBe(256);
    const saved = path.join(dir, 'built.onnx');
    await built.saveOnnx(saved);
    await expectSameOutputs(BERT, path.join(BERT, 'model.onnx'), saved, 256);
    const exported = await PruningEncoder.load(BERT, { threads: 1 });
    await expectSameAsExport(built, exported);
    built.dispose();
    exported.dispose();
  });

  // Provence itself is DeBERTa-v3. The reference: PyTorch's export of the DeBERTa-v3 checkpoint with a pruning head
  // appended (onnxruntime-node), and the TypeScript PruningReference's process() on it.
  it('DeBERTa-v3 ranker: Winnow\'s kernels and the graph as written give the export\'s outputs and results', async () => {
    const { exportDir, provenceDir } = pruningFoldersFromCheckpoint(
      path.join(CKPT, 'deberta-v3-tiny'), path.join(CKPT, 'deberta-v3-tiny.reference.onnx'), fresh('deberta-v3'),
      { maxLength: 64, threshold: 0.33 }, // keeps some sentences of most documents, drops others
    );
    const exported = await PruningEncoder.load(exportDir, { threads: 1 });
    const ref = await PruningReference.load(exportDir);
    for (const kernels of ['winnow', 'onnxruntime'] as const) {
      const runs = await profiled(
        () => PruningEncoder.load(provenceDir, { threads: 1, kernels }),
        async (built) => {
          expect(built.source).toEqual({ file: 'model.safetensors', built: true });
          expect(built.maxLength).toBe(64);
          const saved = path.join(provenceDir, `built-${kernels}.onnx`);
          await built.saveOnnx(saved);
          await expectSameOutputs(exportDir, path.join(exportDir, 'model.onnx'), saved, 200); // past 64: log buckets
          await expectSameAsExport(built, exported);
          // Documents past 64 tokens run as several blocks; the reference's process() scores them one block a run.
          const [query, doc] = docs()[0];
          const got = (await built.predictWithPruning([[query, doc]], { returnSentences: true }))[0] as PruneResultWithSentences;
          const want = await ref.process(query, doc);
          expect(got.keptSpans).toEqual(want.keptSpans);
          expect(Math.abs(got.rankingScore - want.rankingScore)).toBeLessThan(1e-5);
          got.sentences.forEach((s, i) => expect(Math.abs(s.probability - want.sentences[i].probability)).toBeLessThan(1e-5));
        },
      );
      // Winnow's Attention, relative terms inside, on every token's row; or ONNX Runtime's operators alone.
      const attention = runs.filter((r) => r.op === 'Attention');
      expect(attention.length > 0).toBe(kernels === 'winnow');
      attention.forEach((r) => expect(r.outputs[0][1]).toBe(r.inputs[0][1]));
      expect(runs.some((r) => r.op === 'Softmax' && r.outputs[0].length === 4)).toBe(kernels === 'onnxruntime');
    }
    exported.dispose();
    await ref.release();
  });

  it('default_threshold (the corrected spelling) is read too; none at all is 0.1', async () => {
    const spelled = provenceFolderFromExport(BERT, fresh('bert-op-spelled'));
    const edit = (dir: string, f: (c: Record<string, unknown>) => void) => {
      const c = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
      f(c);
      fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(c));
    };
    edit(spelled, (c) => {
      delete c.default_threadshold;
      c.default_threshold = 0.42;
    });
    const a = await PruningEncoder.load(spelled, { threads: 1 });
    expect(a.threshold).toBeCloseTo(0.42, 9);
    a.dispose();
    edit(spelled, (c) => delete c.default_threshold);
    const b = await PruningEncoder.load(spelled, { threads: 1 });
    expect(b.threshold).toBeCloseTo(0.1, 9);
    b.dispose();
  });

  it('CrossEncoder on the same folder runs the ranking head alone', async () => {
    const dir = provenceFolderFromExport(BERT, fresh('bert-op-ce'));
    const ce = await CrossEncoder.load(dir, { threads: 1 });
    const pe = await PruningEncoder.load(BERT, { threads: 1 });
    const pairs = corpusPairs(8);
    const a = await ce.predict(pairs);
    const b = await pe.predict(pairs);
    for (let i = 0; i < pairs.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-5);
    ce.dispose();
    pe.dispose();
  });
});

describe('PruningEncoder from a sentence-transformers PruningEncoder folder', () => {
  it('ranking_model/ + pruning_head/pytorch_model.bin (torch.save): the same results as the export', async () => {
    const dir = sentenceTransformersFolderFromExport(BERT, fresh('bert-st-bin'), { headBin: ST_HEAD_BIN });
    const built = await PruningEncoder.load(dir, { threads: 1 });
    expect(built.source).toEqual({ file: 'ranking_model/model.safetensors', built: true });
    expect(built.threshold).toBeCloseTo(0.3, 9);
    expect(built.maxLength).toBe(256);
    const exported = await PruningEncoder.load(BERT, { threads: 1 });
    await expectSameAsExport(built, exported);
    built.dispose();
    exported.dispose();
  });

  it('a pruning head saved as model.safetensors loads the same; so does a ModernBERT ranker', async () => {
    const dir = sentenceTransformersFolderFromExport(BERT, fresh('bert-st-st'));
    const built = await PruningEncoder.load(dir, { threads: 1 });
    const exported = await PruningEncoder.load(BERT, { threads: 1 });
    await expectSameAsExport(built, exported);
    built.dispose();
    exported.dispose();
    const mdir = sentenceTransformersFolderFromExport(MODERN, fresh('modernbert-st'));
    const mbuilt = await PruningEncoder.load(mdir, { threads: 1, maxLength: 64 });
    const saved = path.join(mdir, 'built.onnx');
    await mbuilt.saveOnnx(saved);
    await expectSameOutputs(MODERN, path.join(MODERN, 'model.onnx'), saved, 64);
    mbuilt.dispose();
  });
});

describe('source layouts that do not fit', () => {
  const provence = (edit: (dir: string, config: Record<string, any>) => void) => {
    const dir = provenceFolderFromExport(BERT, fresh('bert-op-bad'));
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    edit(dir, config);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
    return dir;
  };

  it('a folder of none of the layouts is CONFIG_INVALID naming what was looked for', async () => {
    const e = await errorOf(() => PruningEncoder.load(path.join(FIXTURES, 'bert-ce-tiny')));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toContain('winnow_pruning.json');
    expect(e.message).toContain('open_provence');
    expect(e.message).toContain('pruning_head/');
  });

  it('an OpenProvence config with no ranker config is CONFIG_INVALID naming the keys it looked for', async () => {
    const dir = provence((_, c) => delete c.base_model_config);
    const e = await errorOf(() => PruningEncoder.load(dir));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toContain('config.json');
    expect(e.message).toContain('base_model_config');
  });

  it("the ranker's fields at top level with base_model_type load", async () => {
    const dir = provence((_, c) => {
      Object.assign(c, c.base_model_config, { model_type: 'open_provence', base_model_type: 'bert' });
      delete c.base_model_config;
    });
    const built = await PruningEncoder.load(dir, { threads: 1 });
    const exported = await PruningEncoder.load(BERT, { threads: 1 });
    await expectSameAsExport(built, exported);
    built.dispose();
    exported.dispose();
  });

  it('a threshold outside [0, 1] is CONFIG_INVALID naming the key', async () => {
    const dir = provence((_, c) => (c.default_threadshold = 1.5));
    const e = await errorOf(() => PruningEncoder.load(dir));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toContain('default_threadshold');
  });

  it('no head weights is MODEL_NOT_FOUND; a head with more than one Linear, or of another shape, CHECKPOINT_INVALID', async () => {
    const noHead = sentenceTransformersFolderFromExport(BERT, fresh('bert-st-nohead'));
    fs.rmSync(path.join(noHead, 'pruning_head', 'model.safetensors'));
    const e = await errorOf(() => PruningEncoder.load(noHead));
    expect(e.code).toBe('MODEL_NOT_FOUND');
    expect(e.message).toContain('pruning_head');

    const two = sentenceTransformersFolderFromExport(BERT, fresh('bert-st-two'));
    const { writeSafetensors } = await import('./helpers/onnx-checkpoint.mjs');
    const w = { dims: [2, 32], values: new Float32Array(64) };
    writeSafetensors(path.join(two, 'pruning_head', 'model.safetensors'), new Map([
      ['classifier.weight', w], ['pooling.weight', { dims: [2, 32], values: new Float32Array(64) }],
    ]));
    const e2 = await errorOf(() => PruningEncoder.load(two));
    expect(e2.code).toBe('CHECKPOINT_INVALID');
    expect(e2.message).toContain('pooling.weight');

    const wrong = sentenceTransformersFolderFromExport(BERT, fresh('bert-st-3'));
    writeSafetensors(path.join(wrong, 'pruning_head', 'model.safetensors'), new Map([
      ['classifier.weight', { dims: [3, 32], values: new Float32Array(96) }],
    ]));
    const e3 = await errorOf(() => PruningEncoder.load(wrong));
    expect(e3.code).toBe('CHECKPOINT_INVALID');
    expect(e3.message).toContain('[3, 32]');
  });

  it('a sentence-transformers folder without ranking_model/ is MODEL_NOT_FOUND naming it', async () => {
    const dir = sentenceTransformersFolderFromExport(BERT, fresh('bert-st-norm'));
    fs.rmSync(path.join(dir, 'ranking_model'), { recursive: true });
    const e = await errorOf(() => PruningEncoder.load(dir));
    expect(e.code).toBe('MODEL_NOT_FOUND');
    expect(e.message).toContain('ranking_model');
  });
});
