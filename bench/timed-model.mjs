// One benchmark configuration in its own process: a cross-encoder scoring pairs, or a sentence encoder embedding the
// pairs' queries ("query: ") and documents ("passage: ") with each pair scored by the cosine of its two normalized
// embeddings; Winnow with the given load options, or transformers.js on the folder's ONNX file (`dtype` fp32 / q8).
// One untimed pass over 64 items, then `reps` timed passes over all (wall and CPU seconds of each). With `profile` (a path
// prefix), Winnow writes ONNX Runtime's profile there (WINNOW_PROFILE) and the file is returned.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

export function sentenceTexts(pairs) {
  const queries = [...new Set(pairs.map((p) => p[0]))];
  return { queries, texts: [...queries.map((q) => `query: ${q}`), ...pairs.map((p) => `passage: ${p[1]}`)] };
}

export async function timeConfig({ driver, options = {}, dtype, modelDir, pairs, reps, threads, batch, sentence, profile }) {
  const { queries, texts } = sentence ? sentenceTexts(pairs) : { queries: [], texts: [] };
  const items = sentence ? texts : pairs;
  let run, close, info = {};
  if (profile) process.env.WINNOW_PROFILE = profile;
  if (driver === 'winnow') {
    const w = require(path.join(root, 'dist', 'cjs', 'index.js'));
    const opts = { threads, batchSize: batch, ...options };
    const m = sentence ? await w.SentenceEncoder.load(modelDir, opts) : await w.CrossEncoder.load(modelDir, opts);
    run = sentence ? async (t) => (await m.encode(t, { normalize: true })).toArrays() : (p) => m.predict(p);
    close = () => m.dispose();
    info = Object.fromEntries(['fusedLayerNorms', 'fusedAttentions', 'quantizedMatMuls', 'bf16MatMuls'].filter((k) => k in m).map((k) => [k, m[k]]));
  } else if (sentence) {
    const t = await import('./sentence/drivers/transformers.mjs');
    const m = await t.load(modelDir, { threads, batch, dtype, maxLength: 512 });
    run = async (x) => {
      const flat = await m.encode(x);
      const dim = flat.length / x.length;
      return Array.from({ length: x.length }, (_, i) => flat.subarray(i * dim, (i + 1) * dim));
    };
    close = () => m.close();
  } else {
    const t = await import('./cross-encoder/drivers/transformers.mjs');
    const m = await t.load(modelDir, { threads, batch, dtype, maxLength: 512 });
    run = (p) => m.predictPairs(p);
    close = () => m.close();
  }
  delete process.env.WINNOW_PROFILE;
  await run(items.slice(0, 64));
  const seconds = [], cpuSeconds = [];
  let out;
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
    out = await run(items);
    seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
    const c = process.cpuUsage(c0);
    cpuSeconds.push((c.user + c.system) / 1e6);
  }
  await close();
  let scores = Array.from(out);
  if (sentence) {
    const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
    scores = pairs.map((p, i) => dot(out[queries.indexOf(p[0])], out[queries.length + i]));
  }
  let profileFile;
  if (profile) {
    const dir = path.dirname(profile), base = path.basename(profile);
    for (let i = 0; i < 100 && !profileFile; i++) {
      profileFile = fs.readdirSync(dir).find((f) => f.startsWith(base) && f.endsWith('.json'));
      if (!profileFile) await new Promise((r) => setTimeout(r, 50));
    }
    profileFile = profileFile && path.join(dir, profileFile);
  }
  return { seconds, cpuSeconds, scores, info, items: items.length, profileFile };
}
