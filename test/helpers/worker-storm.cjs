// Child process of test/worker-threads.test.ts: worker threads that load and call Winnow are terminated (or call
// process.exit()) mid-load and mid-call, many at once, while the main thread keeps using Winnow; then the main thread
// loads and scores again. Prints one JSON line: the main thread's results before, during and after, and per entry and
// mode how many workers ended with their operation still pending.
const { Worker } = require('node:worker_threads');
const path = require('node:path');
const { ENTRY_NAMES } = require('./worker-call.cjs');

const root = path.resolve(__dirname, '../..');
const w = require(path.join(root, 'dist/cjs/index.js'));
const model = (name) => path.join(root, 'test/fixtures/models', name);
const DELAYS = [0, 5, 25];  // ms after the operation started
const PARALLEL = 6;

const texts = ['the mountains of the north', 'a river runs to the sea', 'weather report: rain', 'mountain passes close in winter'];

async function mainThreadResults() {
  const ce = await w.CrossEncoder.load(model('bert-ce-tiny'));
  const se = await w.SentenceEncoder.load(model('e5-tiny'));
  const pe = await w.PruningEncoder.load(model('pruning-bert-tiny'));
  const sm = await w.StaticModel.load(model('potion-tiny'));
  const tok = await w.Tokenizer.fromFile(path.join(model('bert-ce-tiny'), 'tokenizer.json'));
  const vectors = (await sm.encode(texts)).toArray();
  const out = {
    rank: await ce.rank('where are the mountains', texts),
    predict: Array.from(await ce.predict(texts.map((t) => ['a query', t]))),
    sentence: (await se.encode(texts)).toArray().map((v) => Array.from(v)),
    prune: (await pe.prune('where are the mountains', texts)).map((r) => [r.score, r.text]),
    static: vectors.map((v) => Array.from(v)),
    tokens: (await tok.encodeBatch(texts)).map((e) => Array.from(e.ids)),
    search: await w.semanticSearch(vectors, vectors, { topK: 2 }),
  };
  for (const m of [ce, se, pe, sm]) m.dispose();
  return out;
}

function runWorker(entry, mode, delay) {
  return new Promise((resolve) => {
    const worker = new Worker(path.join(__dirname, 'worker-call.cjs'), {
      workerData: { entry, exitAfter: mode === 'exit' ? delay : undefined },
    });
    let settled = false;
    let error;
    worker.on('message', (m) => {
      if (m === 'settled') settled = true;
      if (m === 'started' && mode === 'terminate') setTimeout(() => worker.terminate(), delay);
    });
    worker.on('error', (e) => (error = String(e && e.stack || e)));
    worker.on('exit', (code) => resolve({ entry, mode, delay, code, settled, error }));
  });
}

(async () => {
  const before = await mainThreadResults();
  const jobs = [];
  for (const entry of ENTRY_NAMES) for (const mode of ['terminate', 'exit']) for (const delay of DELAYS) jobs.push([entry, mode, delay]);
  const runs = [];
  let next = 0;
  const lane = async () => {
    while (next < jobs.length) runs.push(await runWorker(...jobs[next++]));
  };
  // The main thread keeps working while workers come and go.
  const [during] = await Promise.all([mainThreadResults(), ...Array.from({ length: PARALLEL }, lane)]);
  const after = await mainThreadResults();
  const pending = {};
  for (const r of runs) {
    const key = `${r.entry} ${r.mode}`;
    pending[key] = (pending[key] || 0) + (r.settled ? 0 : 1);
  }
  const errors = runs.filter((r) => r.error).map((r) => `${r.entry} ${r.mode} ${r.delay}: ${r.error}`);
  console.log(JSON.stringify({ before, during, after, pending, errors, workers: runs.length }));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
