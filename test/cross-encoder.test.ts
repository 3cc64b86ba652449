import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrossEncoder } from '../lib/index';
import { withEnv } from './helpers/env';
import { fileMappings } from './helpers/maps';
import { corpusPairs, FIXTURES, maxAbsDiff, referenceLogits, ROOT, sigmoid } from './helpers/reference';

const TINY = path.join(FIXTURES, 'bert-ce-tiny');
const THREE = path.join(FIXTURES, 'bert-ce-tiny-3labels');

function tmpModel(files: Record<string, string | Buffer>, from = TINY): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-model-'));
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(from, f), path.join(dir, f));
  fs.mkdirSync(path.join(dir, 'onnx'));
  fs.copyFileSync(path.join(from, 'onnx', 'model.onnx'), path.join(dir, 'onnx', 'model.onnx'));
  for (const [name, content] of Object.entries(files)) {
    const p = path.join(dir, name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
  return dir;
}

describe('layer norm fusion (fuseLayerNorm)', () => {
  it('fuses every residual norm and scores like the graph as written', async () => {
    const fused = await CrossEncoder.load(TINY, { threads: 1 });
    const plain = await CrossEncoder.load(TINY, { threads: 1, fuseLayerNorm: false });
    expect(fused.fusedLayerNorms).toBe(5);
    expect(plain.fusedLayerNorms).toBe(0);
    const pairs = corpusPairs(40);
    const a = await fused.predict(pairs);
    const b = await plain.predict(pairs);
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-5); // attention is fused too, within 1e-5
    // Both really ran the network: the scores are spread.
    expect(Math.max(...b) - Math.min(...b)).toBeGreaterThan(0.01);
    // The norms alone: com.winnow LayerNorm does ONNX Runtime's LayerNormalization arithmetic, so the very same
    // floats; the SkipLayerNormalization form (what CUDA sessions get, WINNOW_EXACT_LAYER_NORM=0 here) only close.
    const norms = await CrossEncoder.load(TINY, { threads: 1, fuseAttention: false });
    expect(norms.fusedLayerNorms).toBe(5);
    expect(await norms.predict(pairs)).toEqual(b);
    const skip = await withEnv({ WINNOW_EXACT_LAYER_NORM: 0 }, () => CrossEncoder.load(TINY, { threads: 1, fuseAttention: false }));
    expect(skip.fusedLayerNorms).toBe(5);
    expect(maxAbsDiff(await skip.predict(pairs), b)).toBeLessThan(1e-5);
    for (const m of [fused, plain, norms, skip]) m.dispose();
  });

  it('fuses int8 graphs by default with the very scores of the graph as written', async () => {
    const q = await CrossEncoder.load(TINY, { file: 'model_quantized.onnx', threads: 1 });
    const plain = await CrossEncoder.load(TINY, { file: 'model_quantized.onnx', threads: 1, fuseLayerNorm: false });
    expect(q.fusedLayerNorms).toBe(5);
    expect(plain.fusedLayerNorms).toBe(0);
    const pairs = corpusPairs(30);
    const a = await plain.predict(pairs);
    expect(await q.predict(pairs)).toEqual(a);
    expect(Math.max(...a) - Math.min(...a)).toBeGreaterThan(0.01);
    // SkipLayerNormalization (CUDA's form, or WINNOW_EXACT_LAYER_NORM=0 with fuseLayerNorm: true) moves int8 scores
    // by a few activation rounding steps: nothing like a broken graph, but not the same.
    const skip = await withEnv({ WINNOW_EXACT_LAYER_NORM: 0 }, async () => ({
      auto: await CrossEncoder.load(TINY, { file: 'model_quantized.onnx', threads: 1 }),
      forced: await CrossEncoder.load(TINY, { file: 'model_quantized.onnx', threads: 1, fuseLayerNorm: true }),
    }));
    expect(skip.auto.fusedLayerNorms).toBe(0);
    expect(skip.forced.fusedLayerNorms).toBe(5);
    expect(maxAbsDiff(await skip.forced.predict(pairs), a)).toBeLessThan(2e-2);
    for (const m of [q, plain, skip.auto, skip.forced]) m.dispose();
  });

  it.runIf(process.platform === 'linux')('leaves the weights in the model file, for ONNX Runtime to map in place', async () => {
    // The graph handed to ONNX Runtime, rewritten or as written, names the model file itself as the external data
    // of its weights, so ONNX Runtime maps the file and uses them where they lie (no copy in memory); Winnow keeps
    // no mapping of its own. WINNOW_WEIGHTS_IN_PLACE=0 hands ONNX Runtime the file to read instead.
    const mappings = (file: string) => fileMappings(file).count;
    const dir = tmpModel({});
    const file = fs.realpathSync(path.join(dir, 'onnx', 'model.onnx'));
    const asWritten = { threads: 1, fuseLayerNorm: false, fuseAttention: false };
    const read = await withEnv({ WINNOW_WEIGHTS_IN_PLACE: 0 }, () => CrossEncoder.load(dir, asWritten));
    expect(mappings(file)).toBe(0); // read by ONNX Runtime, not mapped
    const plain = await CrossEncoder.load(dir, asWritten);
    expect(plain.fusedLayerNorms).toBe(0);
    expect(mappings(file)).toBeGreaterThan(0);
    const ce = await CrossEncoder.load(dir, { threads: 1 });
    expect(ce.fusedLayerNorms).toBeGreaterThan(0);
    const pairs = corpusPairs(12);
    const reference = await read.predict(pairs);
    expect(await plain.predict(pairs)).toEqual(reference); // the same graph and weights: the same floats
    expect(maxAbsDiff(await ce.predict(pairs), reference)).toBeLessThan(1e-5);
    read.dispose();
    plain.dispose();
    expect(mappings(file)).toBeGreaterThan(0); // ce still holds it
    ce.dispose();
    expect(mappings(file)).toBe(0); // released with the sessions
    // An int8 graph (its norms fused exactly) is mapped the same way, with the same scores.
    const int8 = path.join(dir, 'onnx', 'model_quantized.onnx');
    fs.copyFileSync(path.join(TINY, 'onnx', 'model_quantized.onnx'), int8);
    const q = await CrossEncoder.load(dir, { threads: 1, batchSize: 1, file: 'model_quantized.onnx' });
    expect(q.fusedLayerNorms).toBe(5);
    expect(mappings(fs.realpathSync(int8))).toBeGreaterThan(0);
    const qRead = await withEnv({ WINNOW_WEIGHTS_IN_PLACE: 0 }, () =>
      CrossEncoder.load(dir, { threads: 1, batchSize: 1, file: 'model_quantized.onnx' }),
    );
    expect(await q.predict(pairs)).toEqual(await qRead.predict(pairs));
    q.dispose();
    qRead.dispose();
    expect(mappings(fs.realpathSync(int8))).toBe(0);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it.runIf(process.platform === 'linux')('prepackWeights: false keeps the weight matrices in the mapped file, with the same scores', async () => {
    // By default ONNX Runtime packs each weight matrix for its CPU kernels into memory of its own and lets go of
    // the file's pages for it; with prepackWeights false it keeps using the matrices where they lie in the mapped
    // file (shared between processes), so more of the file stays mapped.
    const mappedKiB = (file: string) => fileMappings(file).kib;
    const dir = tmpModel({});
    const file = fs.realpathSync(path.join(dir, 'onnx', 'model.onnx'));
    const pairs = corpusPairs(12);
    const packed = await CrossEncoder.load(dir, { threads: 1 });
    const packedKiB = mappedKiB(file);
    const a = await packed.predict(pairs);
    packed.dispose();
    expect(mappedKiB(file)).toBe(0);
    const unpacked = await CrossEncoder.load(dir, { threads: 1, prepackWeights: false });
    const unpackedKiB = mappedKiB(file);
    // At least the tiny model's attention output and FFN matrices: 2 layers x (32 x 32 + 2 x 32 x 64) floats =
    // 40 KiB (Q, K and V are folded into one packed matrix either way when attention is fused).
    expect(unpackedKiB - packedKiB).toBeGreaterThanOrEqual(40);
    const b = await unpacked.predict(pairs);
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-6);
    expect(Math.max(...b) - Math.min(...b)).toBeGreaterThan(0.01);
    unpacked.dispose();
    await expect(CrossEncoder.load(dir, { prepackWeights: 1 as unknown as boolean })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('rejects a non-boolean fuseLayerNorm', async () => {
    await expect(CrossEncoder.load(TINY, { fuseLayerNorm: 'yes' as unknown as boolean })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('CrossEncoder parity with tokenizers + onnxruntime-node', () => {
  let ce: CrossEncoder;
  beforeAll(async () => {
    ce = await CrossEncoder.load(TINY, { threads: 1 });
  });
  afterAll(() => ce.dispose());

  it('reads the model folder', () => {
    expect(ce.numLabels).toBe(1);
    expect(ce.maxLength).toBe(512);
    expect(ce.activation).toBe('sigmoid');
    expect(ce.device).toBe('cpu');
    expect(ce.file).toBe(path.join(TINY, 'onnx', 'model.onnx'));
    // 2 layers x 2 residual norms + the embeddings' norm, written out op by op in this opset-14 export.
    expect(ce.fusedLayerNorms).toBe(5);
  });

  it('scores real pairs within 1e-5 of the reference, long documents truncated the same way', async () => {
    const pairs = corpusPairs(48);
    // Make some documents longer than maxLength so truncation is exercised.
    pairs.push([pairs[0][0], pairs.slice(0, 12).map((p) => p[1]).join(' ')]);
    pairs.push(['ünïcödé 日本語 query', 'Ça va? 東京は日本の首都です。 emoji 👩‍👩‍👧 text']);
    const ref = await referenceLogits(TINY, pairs, { maxLength: 512 });
    const got = await ce.predict(pairs);
    expect(got.length).toBe(pairs.length);
    const expected = ref.map((r) => sigmoid(r[0]));
    expect(maxAbsDiff(got, expected)).toBeLessThan(1e-5);
    // The scores are spread, so a constant or shuffled output would fail.
    expect(Math.max(...expected) - Math.min(...expected)).toBeGreaterThan(0.01);
  });

  it('honours maxLength like only_second truncation', async () => {
    const small = await CrossEncoder.load(TINY, { threads: 1, maxLength: 24 });
    const pairs = corpusPairs(10);
    const ref = await referenceLogits(TINY, pairs, { maxLength: 24 });
    expect(maxAbsDiff(await small.predict(pairs), ref.map((r) => sigmoid(r[0])))).toBeLessThan(1e-5);
    small.dispose();
  });

  it('runs the int8 file chosen with `file`', async () => {
    // Dynamic quantization takes one scale per activation tensor, so a row's score depends on the
    // rest of its batch: exact parity holds one pair per batch, as the reference runs.
    const q = await CrossEncoder.load(TINY, { threads: 1, file: 'model_quantized.onnx', batchSize: 1 });
    expect(q.file).toBe(path.join(TINY, 'onnx', 'model_quantized.onnx'));
    const pairs = corpusPairs(16);
    const ref = await referenceLogits(TINY, pairs, { maxLength: 512, file: 'model_quantized.onnx' });
    const expected = ref.map((r) => sigmoid(r[0]));
    expect(maxAbsDiff(await q.predict(pairs), expected)).toBeLessThan(1e-5);
    const batched = await CrossEncoder.load(TINY, { threads: 1, file: 'model_quantized.onnx', batchSize: 16 });
    expect(maxAbsDiff(await batched.predict(pairs), expected)).toBeLessThan(0.1);
    q.dispose();
    batched.dispose();
  });
});

describe('CrossEncoder batching', () => {
  it('gives the same scores whatever the batch size and order', async () => {
    const pairs = corpusPairs(40);
    const one = await CrossEncoder.load(TINY, { threads: 1, batchSize: 1 });
    const seven = await CrossEncoder.load(TINY, { threads: 1, batchSize: 7 });
    const big = await CrossEncoder.load(TINY, { threads: 2, batchSize: 64, tokenBudget: 100000 });
    const a = await one.predict(pairs);
    const b = await seven.predict(pairs);
    const c = await big.predict(pairs);
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
    expect(maxAbsDiff(a, c)).toBeLessThan(1e-5);
    const perm = pairs.map((_, i) => i).reverse();
    const shuffled = await big.predict(perm.map((i) => pairs[i]));
    expect(maxAbsDiff(perm.map((i) => a[i]), shuffled)).toBeLessThan(1e-5);
    // A single pair alone scores the same as inside a batch.
    const single = await big.predict([pairs[5]]);
    expect(Math.abs(single[0] - a[5])).toBeLessThan(1e-5);
    for (const m of [one, seven, big]) m.dispose();
  });
});

describe('CrossEncoder.rank', () => {
  let ce: CrossEncoder;
  beforeAll(async () => {
    ce = await CrossEncoder.load(TINY, { threads: 1 });
  });
  afterAll(() => ce.dispose());

  it('returns documents best first with their input index, and equals predict', async () => {
    const pairs = corpusPairs(30);
    const query = pairs[0][0];
    const docs = pairs.map((p) => p[1]);
    const scores = await ce.predict(docs.map((d) => [query, d] as [string, string]));
    const ranked = await ce.rank(query, docs);
    expect(ranked.length).toBe(docs.length);
    for (let i = 1; i < ranked.length; i++) expect(ranked[i - 1].score).toBeGreaterThanOrEqual(ranked[i].score);
    for (const r of ranked) expect(Math.abs(r.score - scores[r.index])).toBeLessThan(1e-6);
    expect(new Set(ranked.map((r) => r.index)).size).toBe(docs.length);
    expect(ranked[0].text).toBeUndefined();
    const top = await ce.rank(query, docs, { topK: 3, returnDocuments: true });
    expect(top.map((r) => r.index)).toEqual(ranked.slice(0, 3).map((r) => r.index));
    expect(top[0].text).toBe(docs[top[0].index]);
  });

  it('handles empty lists, empty strings and a 1 MB document', async () => {
    expect(await ce.rank('q', [])).toEqual([]);
    expect((await ce.predict([])).length).toBe(0);
    const [empty] = await ce.predict([['', '']]);
    expect(Number.isFinite(empty)).toBe(true);
    const huge = 'lorem ipsum dolor sit amet '.repeat(40000); // ~1 MB
    const head = huge.slice(0, 4000);
    const [h, s] = await ce.predict([['query', huge], ['query', head]]);
    // Both are cut to the same first 512 tokens.
    expect(Math.abs(h - s)).toBeLessThan(1e-6);
  });

  it('refuses a query that does not fit alone, with a code', async () => {
    const small = await CrossEncoder.load(TINY, { maxLength: 16 });
    await expect(small.rank('one two three four five six seven eight nine ten eleven twelve thirteen fourteen', ['d'])).rejects.toMatchObject({
      name: 'RangeError',
      code: 'QUERY_TOO_LONG',
    });
    small.dispose();
  });
});

describe('CrossEncoder with several labels', () => {
  it('returns numLabels scores per pair with identity by default, softmax on request', async () => {
    const m = await CrossEncoder.load(THREE);
    expect(m.numLabels).toBe(3);
    expect(m.activation).toBe('none');
    const pairs = corpusPairs(5);
    const raw = await m.predict(pairs);
    expect(raw.length).toBe(15);
    const ref = await referenceLogits(THREE, pairs, { maxLength: 512 });
    expect(maxAbsDiff(raw, ref.flat())).toBeLessThan(1e-5);
    const sm = await CrossEncoder.load(THREE, { activation: 'softmax' });
    const probs = await sm.predict(pairs);
    for (let i = 0; i < 5; i++) expect(probs[3 * i] + probs[3 * i + 1] + probs[3 * i + 2]).toBeCloseTo(1, 5);
    await expect(m.rank('q', ['d'])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', name: 'RangeError' });
    m.dispose();
    sm.dispose();
  });

  it('takes the activation from a sentence-transformers config', async () => {
    const cfg = JSON.parse(fs.readFileSync(path.join(TINY, 'config.json'), 'utf8'));
    cfg.sentence_transformers = { activation_fn: 'torch.nn.modules.linear.Identity' };
    const dir = tmpModel({ 'config.json': JSON.stringify(cfg) });
    const m = await CrossEncoder.load(dir);
    expect(m.activation).toBe('none');
    const pairs = corpusPairs(3);
    const ref = await referenceLogits(TINY, pairs, { maxLength: 512 });
    expect(maxAbsDiff(await m.predict(pairs), ref.map((r) => r[0]))).toBeLessThan(1e-5);
    m.dispose();
  });
});

describe('CrossEncoder off the event loop', () => {
  it('serves 50 concurrent calls with the same results as serial ones', async () => {
    const ce = await CrossEncoder.load(TINY, { threads: 1 });
    const pairs = corpusPairs(50);
    const serial = await ce.predict(pairs);
    const results = await Promise.all(pairs.map((p) => ce.predict([p])));
    results.forEach((r, i) => expect(Math.abs(r[0] - serial[i])).toBeLessThan(1e-5));
    // 50 + 1 × 50 rows ran; the single-pair calls shared batches (batchAcrossCalls, the default).
    expect(ce.counters()).toMatchObject({ queued: 0, running: 0, rows: 100 });
    expect(ce.counters().sharedBatches).toBeGreaterThan(0);
    expect(ce.counters().batches).toBeLessThan(51);
    ce.dispose();
    // Without batching across calls every single-pair call runs its own batch, with the same results.
    const alone = await CrossEncoder.load(TINY, { threads: 1, batchAcrossCalls: false, concurrency: 8 });
    const each = await Promise.all(pairs.map((p) => alone.predict([p])));
    each.forEach((r, i) => expect(Math.abs(r[0] - serial[i])).toBeLessThan(1e-5));
    expect(alone.counters()).toMatchObject({ queued: 0, running: 0, rows: 50, batches: 50, sharedBatches: 0 });
    alone.dispose();
  });

  it('keeps timers ticking during a long predict', async () => {
    const ce = await CrossEncoder.load(TINY, { threads: 1 });
    const pairs = corpusPairs(400);
    const many = Array.from({ length: 6 }, () => pairs).flat();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const started = Date.now();
    await ce.predict(many);
    const elapsed = Date.now() - started;
    clearInterval(timer);
    // A blocked loop would tick at most once; a free one ticks roughly every 5 ms.
    expect(elapsed).toBeGreaterThan(50);
    expect(ticks).toBeGreaterThan(elapsed / 5 / 4);
    ce.dispose();
  });

  it('refuses dispose while a call runs, then disposes', async () => {
    const ce = await CrossEncoder.load(TINY, { threads: 1 });
    const running = ce.predict(corpusPairs(200));
    expect(() => ce.dispose()).toThrow(expect.objectContaining({ code: 'MODEL_BUSY' }));
    await running;
    ce.dispose();
    await expect(ce.predict([['a', 'b']])).rejects.toMatchObject({ code: 'DISPOSED' });
  });

  it('reports progress and can be aborted', async () => {
    const ce = await CrossEncoder.load(TINY, { threads: 1, batchSize: 8 });
    const seen: number[] = [];
    await ce.predict(corpusPairs(64), { onProgress: (p) => seen.push(p.done) });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[seen.length - 1]).toBe(64);
    const ac = new AbortController();
    const p = ce.predict(Array.from({ length: 10 }, () => corpusPairs(300)).flat(), { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
    const pre = new AbortController();
    pre.abort();
    await expect(ce.predict([['a', 'b']], { signal: pre.signal })).rejects.toMatchObject({ code: 'ABORTED' });
    ce.dispose();
  });
});

describe('CrossEncoder argument and file errors', () => {
  let ce: CrossEncoder;
  beforeAll(async () => {
    ce = await CrossEncoder.load(TINY);
  });
  afterAll(() => ce.dispose());

  const rejectsWith = (p: Promise<unknown>, name: string, message: string) =>
    expect(p).rejects.toMatchObject({ name, message, code: 'INVALID_ARGUMENT' });

  it('gives TypeErrors with one message template', async () => {
    await rejectsWith(ce.predict('nope' as any), 'TypeError', 'Expected an array of [string, string] pairs for pairs but received "nope" of type string');
    await rejectsWith(ce.predict([['a', 2]] as any), 'TypeError', 'Expected a string for pairs[0][1] but received 2 of type number');
    await rejectsWith(ce.predict([['a']] as any), 'TypeError', 'Expected a [string, string] pair for pairs[0] but received an array of length 1 of type array');
    await rejectsWith(ce.rank('q', ['a', null] as any), 'TypeError', 'Expected a string for documents[1] but received null of type null');
    await rejectsWith(ce.rank(42 as any, []), 'TypeError', 'Expected a string for query but received 42 of type number');
    await rejectsWith(
      ce.rank('q', [], { topK: 0 }),
      'RangeError',
      `Expected an integer between 1 and ${Number.MAX_SAFE_INTEGER} for topK but received 0 of type number`,
    );
    await rejectsWith(CrossEncoder.load(TINY, { batchSize: '8' as any }), 'TypeError', 'Expected a positive integer for batchSize but received "8" of type string');
    await rejectsWith(CrossEncoder.load(TINY, { maxLength: 4096 }), 'RangeError', 'maxLength 4096 exceeds the model\'s maximum of 512');
    await expect(CrossEncoder.load(TINY, { device: 'gpu' as any })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('names the option a misspelling meant', async () => {
    await expect(CrossEncoder.load(TINY, { max_length: 128 } as any)).rejects.toThrow('Unknown option max_length for CrossEncoder.load options; did you mean maxLength?');
    await expect(ce.rank('q', ['d'], { top_k: 1 } as any)).rejects.toThrow('did you mean topK?');
    await expect(ce.rank('q', ['d'], { topk: 1 } as any)).rejects.toThrow('did you mean topK?');
  });

  it('lists every path tried when no ONNX file fits', async () => {
    const dir = tmpModel({});
    fs.rmSync(path.join(dir, 'onnx'), { recursive: true });
    const err = await CrossEncoder.load(dir).catch((e) => e);
    expect(err.code).toBe('MODEL_NOT_FOUND');
    expect(err.message).toContain(path.join(dir, 'model.onnx'));
    expect(err.message).toContain(path.join(dir, 'onnx', 'model.onnx'));
    expect(err.message).toContain('has no .onnx file');
    // Only other exports downloaded: the error names them and the option that picks one.
    fs.mkdirSync(path.join(dir, 'onnx'));
    fs.copyFileSync(path.join(TINY, 'onnx', 'model_quantized.onnx'), path.join(dir, 'onnx', 'model_qint8_avx512.onnx'));
    fs.copyFileSync(path.join(TINY, 'onnx', 'model_quantized.onnx'), path.join(dir, 'onnx', 'model_O4.onnx'));
    const others = await CrossEncoder.load(dir).catch((e) => e);
    expect(others.code).toBe('MODEL_NOT_FOUND');
    expect(others.message).toContain("The folder has onnx/model_O4.onnx, onnx/model_qint8_avx512.onnx: name one with the file option (e.g. { file: 'model_O4.onnx' })");
    const picked = await CrossEncoder.load(dir, { file: 'model_qint8_avx512.onnx', threads: 1 });
    expect(picked.file).toBe(path.join(dir, 'onnx', 'model_qint8_avx512.onnx'));
    picked.dispose();
    const named = await CrossEncoder.load(TINY, { file: 'model_fp16.onnx' }).catch((e) => e);
    expect(named.code).toBe('MODEL_NOT_FOUND');
    expect(named.message).toContain(path.join(TINY, 'model_fp16.onnx'));
    expect(named.message).toContain(path.join(TINY, 'onnx', 'model_fp16.onnx'));
    await expect(CrossEncoder.load('/no/such/folder')).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
  });

  it('gives codes for malformed config, tokenizer and onnx files', async () => {
    await expect(CrossEncoder.load(tmpModel({ 'config.json': '{ not json' }))).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(CrossEncoder.load(tmpModel({ 'config.json': '{"max_position_embeddings": "512"}' }))).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('max_position_embeddings'),
    });
    await expect(CrossEncoder.load(tmpModel({ 'tokenizer.json': '[1,2' }))).rejects.toMatchObject({ code: 'TOKENIZER_INVALID' });
    const badModel = JSON.parse(fs.readFileSync(path.join(TINY, 'tokenizer.json'), 'utf8'));
    badModel.normalizer = { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Foo' }] };
    await expect(CrossEncoder.load(tmpModel({ 'tokenizer.json': JSON.stringify(badModel) }))).rejects.toMatchObject({
      code: 'TOKENIZER_UNSUPPORTED',
      message: expect.stringContaining('normalizer.normalizers[1].type = "Foo"'),
    });
    await expect(CrossEncoder.load(tmpModel({ 'onnx/model.onnx': Buffer.from('not an onnx file at all') }))).rejects.toMatchObject({
      code: 'ONNX_INVALID',
    });
  });
});

describe('ONNX Runtime isolation', () => {
  const script = (first: 'winnow' | 'ort') => `
    const path = require('path');
    const load = {
      winnow: async () => {
        const { CrossEncoder } = require(${JSON.stringify(path.join(ROOT, 'dist/cjs/index.js'))});
        const ce = await CrossEncoder.load(${JSON.stringify(TINY)});
        const s = await ce.predict([['a query', 'a document']]);
        return s[0];
      },
      ort: async () => {
        const ort = require('onnxruntime-node');
        const s = await ort.InferenceSession.create(${JSON.stringify(path.join(TINY, 'onnx/model.onnx'))});
        const t = (v) => new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), [1, v.length]);
        const r = await s.run({ input_ids: t([101, 1037, 102, 2000, 102]), attention_mask: t([1,1,1,1,1]), token_type_ids: t([0,0,0,1,1]) });
        return r.logits.data[0];
      },
    };
    (async () => {
      const order = ${JSON.stringify(first === 'winnow' ? ['winnow', 'ort'] : ['ort', 'winnow'])};
      const out = [];
      for (const k of order) out.push(await load[k]());
      console.log(JSON.stringify(out));
    })().catch((e) => { console.error(e); process.exit(1); });`;

  for (const first of ['winnow', 'ort'] as const) {
    it(`works beside onnxruntime-node when ${first} loads first`, () => {
      const out = execFileSync(process.execPath, ['-e', script(first)], { cwd: ROOT, encoding: 'utf8' });
      const values = JSON.parse(out.trim().split('\n').pop()!);
      expect(values.every((x: number) => Number.isFinite(x))).toBe(true);
    });
  }
});
