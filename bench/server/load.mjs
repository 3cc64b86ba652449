// Load test: many concurrent clients on loopback (autocannon) against `winnow serve`, a hand-written node:http +
// Winnow server and a node:http + transformers.js server, reranking 10 documents per request with the same model
// folder. Every 200 answer is checked against the library's own ranking (Winnow's servers: equal; transformers.js,
// another ONNX Runtime: the same order, scores within 1e-4). Figures go to docs/benchmark.md ("Server under load").
//   node bench/server/load.mjs [--model DIR] [--connections 1000] [--duration 15] [--bounds 256,2048]
//     [--threads N] [--servers winnow,winnow-unshared,plain,transformersjs]
// winnow-unshared: `winnow serve --no-batch-across-calls` (each request its own batches, one call at a time per model).
// autocannon and @huggingface/transformers are dependencies of bench/package.json (or set AUTOCANNON to its folder).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);
const autocannon = require(process.env.AUTOCANNON ?? 'autocannon');
const { CrossEncoder } = require(path.join(root, 'dist/cjs/index.js'));

const { values: a } = parseArgs({ options: {
  model: { type: 'string', default: path.join(root, 'test/fixtures/models/bert-ce-tiny') },
  connections: { type: 'string', default: '1000' },
  duration: { type: 'string', default: '15' },
  bounds: { type: 'string', default: '256,2048' },
  threads: { type: 'string', default: String(os.cpus().length) },
  servers: { type: 'string', default: 'winnow,plain,transformersjs' },
} });

const query = 'what is the capital of france';
const texts = Array.from({ length: 10 }, (_, i) => `document ${i}: ${i === 3 ? 'Paris is the capital of France.' : 'an unrelated sentence about rivers and mountains'}`);
const body = JSON.stringify({ query, texts });
const ce = await CrossEncoder.load(a.model);
const ranked = (await ce.rank(query, texts)).map((r) => ({ index: r.index, score: r.score }));
const expected = JSON.stringify(ranked);
ce.dispose();

function start(args) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ child, url: m[1] });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
  });
}

async function run(name, args, check) {
  const { child, url } = await start(args);
  let wrong = 0;
  let checked = 0;
  const errorKinds = {};
  const job = autocannon({
    url: url + '/rerank', method: 'POST', body, headers: { 'content-type': 'application/json' },
    connections: Number(a.connections), duration: Number(a.duration), timeout: 60,
    requests: [{ onResponse: (status, resBody) => {
      if (status !== 200) return;
      checked++;
      if (!check(resBody)) wrong++;
    } }],
  });
  job.on('reqError', (e) => (errorKinds[e.code ?? e.message] = (errorKinds[e.code ?? e.message] ?? 0) + 1));
  const result = await job;
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  const codes = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([k, v]) => [k, v.count]));
  const row = {
    server: name, connections: Number(a.connections), seconds: Number(a.duration), threads: Number(a.threads),
    ok: codes['200'] ?? 0, refused429: codes['429'] ?? 0, wrong, checked,
    errors: result.errors, errorKinds, timeouts: result.timeouts,
    okPerSecond: Math.round((codes['200'] ?? 0) / Number(a.duration)),
    p50ms: result.latency.p50, p99ms: result.latency.p99,
  };
  console.log(JSON.stringify(row));
  return row;
}

const { packageVersion } = await import('../package-version.mjs');
console.log(JSON.stringify({
  date: new Date().toISOString(), cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, load: os.loadavg(),
  versions: { 'winnow-native': require(path.join(root, 'package.json')).version, autocannon: packageVersion('autocannon'), '@huggingface/transformers': packageVersion('@huggingface/transformers') },
}));
const exact = (s) => s === expected; // TEI's body: [{ index, score }]
const sameRanking = (tolerance) => (s) => {
  const got = JSON.parse(s);
  return got.length === ranked.length && got.every((r, i) => r.index === ranked[i].index && Math.abs(r.score - ranked[i].score) <= tolerance);
};
const servers = a.servers.split(',');
if (servers.includes('winnow')) {
  for (const bound of a.bounds.split(',')) {
    await run(`winnow serve (max_concurrent_requests ${bound})`, [path.join(root, 'dist/cjs/cli/main.js'), 'serve', `ce=${a.model}`, '--port', '0', '--host', '127.0.0.1', '--log-level', 'silent', '--threads', a.threads, '--max-concurrent-requests', bound], exact);
  }
}
if (servers.includes('winnow-unshared')) {
  for (const bound of a.bounds.split(',')) {
    await run(`winnow serve --no-batch-across-calls (max_concurrent_requests ${bound})`, [path.join(root, 'dist/cjs/cli/main.js'), 'serve', `ce=${a.model}`, '--port', '0', '--host', '127.0.0.1', '--log-level', 'silent', '--threads', a.threads, '--max-concurrent-requests', bound, '--no-batch-across-calls'], exact);
  }
}
if (servers.includes('plain')) await run('node:http + CrossEncoder.rank', [path.join(root, 'bench/server/plain-http.mjs'), a.model, a.threads], sameRanking(0));
if (servers.includes('transformersjs')) await run('node:http + transformers.js', [path.join(root, 'bench/server/transformersjs-http.mjs'), a.model, a.threads], sameRanking(1e-4));
