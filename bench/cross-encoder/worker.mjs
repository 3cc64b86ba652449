// One (driver, trial) measurement in a fresh process:  node worker.mjs <driver> <trial name> <out.json>
// Load, score the parity pairs, warm up, then time predictPairs(all pairs) and rank(query, docs).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { trials } from './trials.mjs';
import { loadCorpus, makePairs, makeRankSet } from '../pairs.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const [driverName, trialName, outFile] = process.argv.slice(2);
const trial = trials.find((t) => t.name === trialName);
if (!trial) throw new Error(`unknown trial ${trialName}`);
const driver = await import(`./drivers/${driverName}.mjs`);
const versions = driver.versions();

const corpus = loadCorpus();
const pairs = makePairs(corpus, trial.pairs, trial.perQuery);
const rankSet = makeRankSet(corpus, trial.rankDocs);
const modelDir = path.join(here, '..', 'models', trial.model);

const now = () => performance.now();
let t = now();
const model = await driver.load(modelDir, trial);
const loadMs = now() - t;

// untimed: scores for the parity check (every pair, input order) and warm-up
const scores = Array.from(await model.predictPairs(pairs));
const rankCheck = (await model.rank(rankSet.query, rankSet.docs)).slice(0, 10).map((r) => r.index);
for (let i = 1; i < trial.warmup; i++) await model.predictPairs(pairs.slice(0, 2 * trial.batch));

const pairMs = [];
for (let i = 0; i < trial.pairReps; i++) {
  t = now();
  await model.predictPairs(pairs);
  pairMs.push(now() - t);
}
const rankMs = [];
for (let i = 0; i < trial.rankReps; i++) {
  t = now();
  await model.rank(rankSet.query, rankSet.docs);
  rankMs.push(now() - t);
}
const rssMB = process.memoryUsage().rss / 2 ** 20;
await model.close();

fs.writeFileSync(
  outFile,
  JSON.stringify({ driver: driverName, name: driver.name, trial: trial.name, versions, loadMs, pairMs, rankMs, rssMB, scores, rankTop10: rankCheck }),
);
