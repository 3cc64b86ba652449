// Body of a worker thread for test/worker-threads.test.ts and bench/worker-soak.mjs: starts one Winnow load or
// call (workerData.entry), posts 'started' once it is pending and 'settled' if it ends, and with workerData.exitAfter
// calls process.exit() that many milliseconds after starting it. The parent terminates it at will. Required from a
// main thread, it only exports the entry names.
const { isMainThread, parentPort, workerData } = require('node:worker_threads');
const path = require('node:path');

const root = path.resolve(__dirname, '../..');
const w = require(path.join(root, 'dist/cjs/index.js'));
const model = (name) => path.join(root, 'test/fixtures/models', name);
const docs = (n) => Array.from({ length: n }, (_, i) => `document ${i} tells of rivers, mountains and the weather of the north`);

// Each entry: what to prepare (awaited first), then the operation left pending.
const ENTRIES = {
  'CrossEncoder.load': { start: () => w.CrossEncoder.load(model('bert-ce-tiny')) },
  'CrossEncoder.rank': {
    prepare: () => w.CrossEncoder.load(model('bert-ce-tiny')),
    start: (ce) => ce.rank('where are the mountains', docs(2000)),
  },
  // Eight calls at once: they share batches, each on a thread of its own while the others run.
  'CrossEncoder.rank concurrent': {
    prepare: () => w.CrossEncoder.load(model('bert-ce-tiny')),
    start: (ce) => Promise.all(Array.from({ length: 8 }, (_, i) => ce.rank(`where are the mountains ${i}`, docs(400)))),
  },
  'CrossEncoder.predict': {
    prepare: () => w.CrossEncoder.load(model('bert-ce-tiny')),
    start: (ce) => ce.predict(docs(2000).map((d) => ['a query', d]), { onProgress() {} }),
  },
  'SentenceEncoder.encode': {
    prepare: () => w.SentenceEncoder.load(model('e5-tiny')),
    start: (se) => se.encode(docs(2000)),
  },
  'PruningEncoder.prune': {
    prepare: () => w.PruningEncoder.load(model('pruning-bert-tiny')),
    start: (pe) => pe.prune('where are the mountains', docs(1500)),
  },
  'StaticModel.load': { start: () => w.StaticModel.load(model('potion-tiny')) },
  'StaticModel.encode': {
    prepare: () => w.StaticModel.load(model('potion-tiny')),
    start: (sm) => sm.encode(docs(100000)),
  },
  'Tokenizer.encodeBatch': {
    prepare: () => w.Tokenizer.fromFile(path.join(model('bert-ce-tiny'), 'tokenizer.json')),
    start: (tok) => tok.encodeBatch(docs(20000)),
  },
  semanticSearch: {
    prepare: () => {
      let x = 1;
      const rows = (n, dim) => {
        const data = new Float32Array(n * dim);
        for (let i = 0; i < data.length; i++) data[i] = (x = (x * 48271) % 2147483647) / 2147483647 - 0.5;
        return new w.Embeddings(data, n, dim);
      };
      return { queries: rows(256, 128), corpus: rows(40000, 128) };
    },
    start: ({ queries, corpus }) => w.semanticSearch(queries, corpus, { topK: 5, corpusChunkSize: 2000 }),
  },
};

async function run({ entry, exitAfter }) {
  const e = ENTRIES[entry];
  if (!e) throw new Error(`unknown entry ${entry}`);
  const prepared = e.prepare ? await e.prepare() : undefined;
  const pending = e.start(prepared);
  if (exitAfter !== undefined) setTimeout(() => process.exit(0), exitAfter);
  parentPort.postMessage('started');
  await pending;
  parentPort.postMessage('settled');
}

if (isMainThread) module.exports = { ENTRY_NAMES: Object.keys(ENTRIES) };
else run(workerData);
