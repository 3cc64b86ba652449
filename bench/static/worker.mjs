// One (driver, threads) measurement in a fresh process: node worker.mjs <driver> <threads> <modelDir> <n> <reps>
// Prints one JSON line: { driver, threads, texts, seconds: [..] }.
import { drivers } from './drivers.mjs';
import { loadTexts } from './texts.mjs';

const [driver, threadsArg, modelDir, nArg, repsArg] = process.argv.slice(2);
const threads = Number(threadsArg);
if (driver === 'plain-js') process.env.RAYON_NUM_THREADS = String(threads);
const texts = loadTexts(Number(nArg));
const d = await drivers[driver](modelDir, { threads });
await d.run(texts.slice(0, 200)); // warm-up
const seconds = [];
for (let r = 0; r < Number(repsArg); r++) {
  const t0 = process.hrtime.bigint();
  const rows = await d.run(texts);
  seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
  if (rows !== texts.length) throw new Error(`${driver}: ${rows} rows for ${texts.length} texts`);
}
await d.close();
console.log(JSON.stringify({ driver, threads, texts: texts.length, seconds }));
