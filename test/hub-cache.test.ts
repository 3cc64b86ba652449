// Hub ids in load(): models already downloaded by huggingface_hub are found in the local Hugging Face cache.
// The cache built here has the layout huggingface_hub writes (refs/, snapshots/<commit>/ with relative links into
// blobs/), filled with the fixture models.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrossEncoder, SentenceEncoder, StaticModel, Tokenizer } from '../lib/index';
import { hubCacheDir, parseHubId, resolveModelDir } from '../lib/hub-cache';
import { writeWithExternalData } from './helpers/external-data';
import { FIXTURES } from './helpers/reference';

const COMMIT_A = 'a'.repeat(8) + '0123456789abcdef0123456789abcdef';
const COMMIT_B = 'b'.repeat(8) + '0123456789abcdef0123456789abcdef';
const MISSING = 'c'.repeat(40);

function files(dir: string, sub = ''): string[] {
  return fs.readdirSync(path.join(dir, sub), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(dir, path.join(sub, e.name)) : [path.join(sub, e.name)],
  );
}

// Puts `from`'s files into the cache as the snapshot `commit` of repository `id`: contents in blobs/ (named by
// hash), the snapshot's files relative links to them, as huggingface_hub writes them.
function addSnapshot(cache: string, id: string, commit: string, from: string, refs: string[]): string {
  const repo = path.join(cache, `models--${id.replace('/', '--')}`);
  const snapshot = path.join(repo, 'snapshots', commit);
  for (const f of files(from)) {
    const bytes = fs.readFileSync(path.join(from, f));
    const blob = path.join(repo, 'blobs', createHash('sha256').update(bytes).digest('hex'));
    fs.mkdirSync(path.dirname(blob), { recursive: true });
    if (!fs.existsSync(blob)) fs.writeFileSync(blob, bytes);
    const link = path.join(snapshot, f);
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(path.relative(path.dirname(link), blob), link);
  }
  for (const ref of refs) {
    fs.mkdirSync(path.dirname(path.join(repo, 'refs', ref)), { recursive: true });
    fs.writeFileSync(path.join(repo, 'refs', ref), commit); // huggingface_hub writes the hash without a newline
  }
  return snapshot;
}

const PAIRS: [string, string][] = [
  ['who wrote hamlet?', 'Hamlet is a tragedy by William Shakespeare.'],
  ['who wrote hamlet?', 'Paris is the capital of France.'],
];

describe('hub ids from the local Hugging Face cache', () => {
  let cache: string;
  let snapshotA: string;
  const saved = { ...process.env };

  beforeAll(() => {
    cache = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-hub-'));
    snapshotA = addSnapshot(cache, 'winnow-test/bert-ce-tiny', COMMIT_A, path.join(FIXTURES, 'bert-ce-tiny'), ['main']);
    addSnapshot(cache, 'winnow-test/bert-ce-tiny', COMMIT_B, path.join(FIXTURES, 'bert-ce-tiny-3labels'), ['v2', 'pr/1']);
    addSnapshot(cache, 'potion-tiny', COMMIT_A, path.join(FIXTURES, 'potion-tiny'), ['main']);
    addSnapshot(cache, 'winnow-test/e5-tiny', COMMIT_A, path.join(FIXTURES, 'e5-tiny'), ['main']);
    const ckpt = path.join(FIXTURES, '..', 'checkpoints');
    addSnapshot(cache, 'winnow-test/bert-cls-sharded', COMMIT_A, path.join(ckpt, 'bert-cls-sharded'), ['main']);
    fs.mkdirSync(path.join(cache, 'models--winnow-test--dangling', 'refs'), { recursive: true });
    fs.writeFileSync(path.join(cache, 'models--winnow-test--dangling', 'refs', 'main'), MISSING + '\n');
    process.env.HF_HUB_CACHE = cache;
  });
  afterAll(() => {
    process.env = saved;
    fs.rmSync(cache, { recursive: true, force: true });
  });

  it('loads the snapshot main points to, with the scores of the folder itself', async () => {
    const byId = await CrossEncoder.load('winnow-test/bert-ce-tiny', { threads: 1 });
    const byPath = await CrossEncoder.load(path.join(FIXTURES, 'bert-ce-tiny'), { threads: 1 });
    expect(byId.file).toBe(path.join(snapshotA, 'onnx', 'model.onnx'));
    expect(fs.lstatSync(byId.file).isSymbolicLink()).toBe(true);
    const a = await byId.predict(PAIRS);
    expect(a).toEqual(await byPath.predict(PAIRS));
    expect(a[0]).not.toBe(a[1]);
    byId.dispose();
    byPath.dispose();
  });

  it('loads weights kept in an external data file, from a folder and through the cache\'s symlinks', async () => {
    // As exporters write models over 2 GiB (model.onnx + model.onnx_data); in the hub cache both names are links
    // into blobs/, whose own names are hashes, so the data file must be found beside the link, not its target.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-external-'));
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(FIXTURES, 'bert-ce-tiny', f), path.join(dir, f));
    const moved = writeWithExternalData(fs.readFileSync(path.join(FIXTURES, 'bert-ce-tiny', 'onnx', 'model.onnx')), path.join(dir, 'onnx'), 'model.onnx');
    expect(moved).toBeGreaterThan(10);
    expect(fs.statSync(path.join(dir, 'onnx', 'model.onnx')).size).toBeLessThan(200_000);
    // The load-time rewrites read the external weights too (the data file is mapped beside the graph): the same
    // norms and attention blocks fuse, Q/K/V packed from the external bytes, and the scores are the inline file's.
    const inline = await CrossEncoder.load(path.join(FIXTURES, 'bert-ce-tiny'), { threads: 1 });
    const expected = await inline.predict(PAIRS);
    const asWritten = await CrossEncoder.load(path.join(FIXTURES, 'bert-ce-tiny'), { threads: 1, fuseLayerNorm: false, fuseAttention: false });
    const folder = await CrossEncoder.load(dir, { threads: 1 });
    expect([folder.fusedLayerNorms, folder.fusedAttentions]).toEqual([inline.fusedLayerNorms, inline.fusedAttentions]);
    expect(inline.fusedAttentions).toBeGreaterThan(0);
    expect(await folder.predict(PAIRS)).toEqual(expected);
    const plain = await CrossEncoder.load(dir, { threads: 1, fuseLayerNorm: false, fuseAttention: false });
    expect(await plain.predict(PAIRS)).toEqual(await asWritten.predict(PAIRS));
    addSnapshot(cache, 'winnow-test/bert-ce-external', COMMIT_A, dir, ['main']);
    const cached = await CrossEncoder.load('winnow-test/bert-ce-external', { threads: 1 });
    expect(fs.lstatSync(path.join(path.dirname(cached.file), 'model.onnx_data')).isSymbolicLink()).toBe(true);
    expect(cached.fusedAttentions).toBe(inline.fusedAttentions);
    expect(await cached.predict(PAIRS)).toEqual(expected);
    // A data file that is missing: the model cannot load at all, and says which file.
    fs.rmSync(path.join(dir, 'onnx', 'model.onnx_data'));
    const missing = await CrossEncoder.load(dir, { threads: 1 }).catch((e) => e);
    expect(missing.code).toBe('ONNX_INVALID');
    expect(missing.message).toContain('model.onnx_data');
    for (const m of [inline, asWritten, folder, plain, cached]) m.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // ONNX Runtime opens the shards itself: each by its blob's name, in blobs/.
  it('builds a sharded checkpoint through the cache\'s symlinks, with the scores of the folder itself', async () => {
    const folder = path.join(FIXTURES, '..', 'checkpoints', 'bert-cls-sharded');
    for (const options of [{}, { quantize: 'int8' as const }]) {
      const byId = await CrossEncoder.load('winnow-test/bert-cls-sharded', { threads: 1, ...options });
      const byPath = await CrossEncoder.load(folder, { threads: 1, ...options });
      expect(byId.source).toEqual({ file: 'model.safetensors.index.json', built: true });
      const a = await byId.predict(PAIRS);
      expect(a).toEqual(await byPath.predict(PAIRS));
      expect(a[0]).not.toBe(a[1]);
      byId.dispose();
      byPath.dispose();
    }
  });

  it('takes a branch, a nested ref or a commit hash as revision', async () => {
    for (const revision of ['v2', 'pr/1', COMMIT_B]) {
      const ce = await CrossEncoder.load('winnow-test/bert-ce-tiny', { threads: 1, revision });
      expect(ce.numLabels, revision).toBe(3);
      ce.dispose();
    }
    const main = await CrossEncoder.load('winnow-test/bert-ce-tiny', { threads: 1, revision: COMMIT_A });
    expect(main.numLabels).toBe(1);
    main.dispose();
  });

  it('serves StaticModel and SentenceEncoder too, bare ids included', async () => {
    const potion = await StaticModel.load('potion-tiny');
    const direct = await StaticModel.load(path.join(FIXTURES, 'potion-tiny'));
    expect(potion.encodeSync(['hub cache']).data).toEqual(direct.encodeSync(['hub cache']).data);
    const e5 = await SentenceEncoder.load('winnow-test/e5-tiny', { threads: 1 });
    const e5Direct = await SentenceEncoder.load(path.join(FIXTURES, 'e5-tiny'), { threads: 1 });
    expect((await e5.encode(['query: hub'])).data).toEqual((await e5Direct.encode(['query: hub'])).data);
    for (const m of [potion, direct, e5, e5Direct]) m.dispose();
  });

  it('Tokenizer.fromPretrained reads tokenizer.json of a folder or a cached hub id', async () => {
    const byId = await Tokenizer.fromPretrained('winnow-test/bert-ce-tiny');
    const byFolder = await Tokenizer.fromPretrained(path.join(FIXTURES, 'bert-ce-tiny'));
    const byFile = await Tokenizer.fromFile(path.join(FIXTURES, 'bert-ce-tiny', 'tokenizer.json'));
    const text = 'Who wrote Hamlet? Shakespeare, in 1600.';
    expect(byId.encode(text).ids).toEqual(byFile.encode(text).ids);
    expect(byFolder.encode(text).offsets).toEqual(byFile.encode(text).offsets);
    const potion = await Tokenizer.fromPretrained('potion-tiny', { revision: COMMIT_A });
    expect(potion.encode(text).ids).toEqual((await Tokenizer.fromFile(path.join(FIXTURES, 'potion-tiny', 'tokenizer.json'))).encode(text).ids);
    const noFile = await Tokenizer.fromPretrained(path.join(FIXTURES, 'potion-tiny-st')).catch((e) => e);
    expect(noFile.code).toBe('MODEL_NOT_FOUND');
    expect(noFile.message).toContain('tokenizer.json');
    const badOption = await Tokenizer.fromPretrained('potion-tiny', { revison: 'main' } as never).catch((e) => e);
    expect(badOption.code).toBe('INVALID_ARGUMENT');
  });

  it('says what is missing and how to get it', async () => {
    const missing = await CrossEncoder.load('winnow-test/not-downloaded').catch((e) => e);
    expect(missing.code).toBe('MODEL_NOT_FOUND');
    expect(missing.message).toContain(path.join(cache, 'models--winnow-test--not-downloaded'));
    expect(missing.message).toContain('hf download winnow-test/not-downloaded');

    const noRef = await CrossEncoder.load('winnow-test/bert-ce-tiny', { revision: 'v3' }).catch((e) => e);
    expect(noRef.code).toBe('MODEL_NOT_FOUND');
    expect(noRef.message).toContain('no revision v3');
    expect(noRef.message).toContain(`main, ${path.join('pr', '1')}, v2`);
    expect(noRef.message).toContain('--revision v3');

    const dangling = await CrossEncoder.load('winnow-test/dangling').catch((e) => e);
    expect(dangling.code).toBe('MODEL_NOT_FOUND');
    expect(dangling.message).toContain(`commit ${MISSING}`);
    expect(dangling.message).toContain('snapshots: none');

    // A ref naming something that is not a commit hash (a hand-made or damaged cache) is said to be that.
    addSnapshot(cache, 'winnow-test/short-ref', 'abc123', path.join(FIXTURES, 'potion-tiny'), ['main']);
    const shortRef = await StaticModel.load('winnow-test/short-ref').catch((e) => e);
    expect(shortRef.code).toBe('MODEL_NOT_FOUND');
    expect(shortRef.message).toContain('names "abc123", not a 40-character commit hash');

    const unknownCommit = await StaticModel.load('potion-tiny', { revision: MISSING }).catch((e) => e);
    expect(unknownCommit.code).toBe('MODEL_NOT_FOUND');
    expect(unknownCommit.message).toContain(`snapshots: ${COMMIT_A}`);

    // A snapshot without the ONNX file (a partial download): the folder loader lists the paths it tried.
    fs.rmSync(path.join(snapshotA, '..', COMMIT_B, 'onnx'), { recursive: true });
    const partial = await CrossEncoder.load('winnow-test/bert-ce-tiny', { revision: 'v2' }).catch((e) => e);
    expect(partial.code).toBe('MODEL_NOT_FOUND');
    expect(partial.message).toContain(path.join(cache, 'models--winnow-test--bert-ce-tiny', 'snapshots', COMMIT_B));
  });

  it('rejects a revision for a local folder, and an empty one', async () => {
    const local = await CrossEncoder.load(path.join(FIXTURES, 'bert-ce-tiny'), { revision: 'main' }).catch((e) => e);
    expect(local.code).toBe('INVALID_ARGUMENT');
    expect(local.message).toContain('local path');
    const empty = await CrossEncoder.load('winnow-test/bert-ce-tiny', { revision: '' }).catch((e) => e);
    expect(empty.code).toBe('INVALID_ARGUMENT');
  });

  it('never turns a path into a hub id: a folder that exists wins, paths that climb are paths', () => {
    expect(resolveModelDir('test/fixtures', undefined, { HF_HUB_CACHE: cache })).toBe('test/fixtures');
    fs.mkdirSync(path.join(cache, 'models--test--fixtures', 'snapshots', COMMIT_A), { recursive: true });
    fs.mkdirSync(path.join(cache, 'models--test--fixtures', 'refs'), { recursive: true });
    fs.writeFileSync(path.join(cache, 'models--test--fixtures', 'refs', 'main'), COMMIT_A);
    expect(resolveModelDir('test/fixtures', undefined, { HF_HUB_CACHE: cache })).toBe('test/fixtures');
    expect(() => resolveModelDir('test/not-here', undefined, { HF_HUB_CACHE: path.join(cache, 'none') })).toThrow(/hf download test\/not-here/);
    for (const p of ['./a/b', '../a', 'a/../b', 'a/b/c', '/abs/x', 'a--b/c', '.hidden/x', 'a/b.', '-a/b', 'a\\b'])
      expect(parseHubId(p), p).toBeNull();
    for (const id of ['cross-encoder/ms-marco-MiniLM-L-6-v2', 'BAAI/bge-reranker-base', 'bert-base-uncased', 'intfloat/e5-small-unsupervised'])
      expect(parseHubId(id), id).not.toBeNull();
  });
});

describe('hubCacheDir', () => {
  it('follows huggingface_hub: HF_HUB_CACHE, HF_HOME/hub, XDG_CACHE_HOME, then ~/.cache', () => {
    expect(hubCacheDir({ HF_HUB_CACHE: '/c', HF_HOME: '/h', XDG_CACHE_HOME: '/x' })).toBe('/c');
    expect(hubCacheDir({ HUGGINGFACE_HUB_CACHE: '/old', HF_HOME: '/h' })).toBe('/old');
    expect(hubCacheDir({ HF_HOME: '/h', XDG_CACHE_HOME: '/x' })).toBe(path.join('/h', 'hub'));
    expect(hubCacheDir({ XDG_CACHE_HOME: '/x' })).toBe(path.join('/x', 'huggingface', 'hub'));
    expect(hubCacheDir({})).toBe(path.join(os.homedir(), '.cache', 'huggingface', 'hub'));
  });
});
