// One driver measured in a fresh process:  node worker.mjs <driver> <out.json>
// Load, one untimed pass (its vectors are kept for the cross-library cosine check), warm-up, then
// `reps` timed passes over all texts, then `queries` one-text calls timed one by one.
import fs from 'node:fs';
import { loadQueries, loadTexts, modelDir, settings } from './common.mjs';

const [driverName, outFile] = process.argv.slice(2);
const driver = await import(`./drivers/${driverName}.mjs`);
const texts = loadTexts();
const now = () => performance.now();
let result;
try {
  let t = now();
  const model = await driver.load(modelDir, settings);
  const loadMs = now() - t;
  const vectors = await model.encode(texts);
  for (let i = 0; i < settings.warmup; i++) await model.encode(texts);
  const ms = [];
  for (let i = 0; i < settings.reps; i++) {
    t = now();
    await model.encode(texts);
    ms.push(now() - t);
  }
  // One query per call, as a search service embeds each request's query: latency of each call.
  const queries = loadQueries();
  await model.encode([queries[0]]);
  const queryMs = [];
  for (const q of queries) {
    t = now();
    await model.encode([q]);
    queryMs.push(now() - t);
  }
  const rssMB = process.memoryUsage().rss / 2 ** 20;
  await model.close();
  result = { driver: driverName, name: driver.name, versions: driver.versions(), loadMs, ms, queryMs, rssMB, dim: vectors.length / texts.length, vectors: Array.from(vectors) };
} catch (e) {
  result = { driver: driverName, name: driver.name ?? driverName, error: String(e?.stack ?? e) };
}
fs.writeFileSync(outFile, JSON.stringify(result));
