// Load test: many concurrent clients on loopback (autocannon) against `winnow serve` and a hand-written node:http +
// Winnow server, reranking 10 documents per request with a small model. Every 200 answer is checked against the
// library's own ranking. Figures go to docs/benchmark.md ("Server under load").
//   node bench/server/load.mjs [--model DIR] [--connections 1000] [--duration 15] [--bounds 256,2048]
// autocannon is a dependency of bench/package.json (or set AUTOCANNON to its folder).
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
} });

const query = 'what is the capital of france';
const texts = Array.from({ length: 10 }, (_, i) => `document ${i}: ${i === 3 ? 'Paris is the capital of France.' : 'an unrelated sentence about rivers and mountains'}`);
const body = JSON.stringify({ query, texts });
const ce = await CrossEncoder.load(a.model);
const expected = JSON.stringify((await ce.rank(query, texts)).map((r) => ({ index: r.index, score: r.score })));
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

async function run(name, args, normalize) {
  const { child, url } = await start(args);
  let wrong = 0;
  let checked = 0;
  const result = await autocannon({
    url: url + '/rerank', method: 'POST', body, headers: { 'content-type': 'application/json' },
    connections: Number(a.connections), duration: Number(a.duration), timeout: 60,
    requests: [{ onResponse: (status, resBody) => {
      if (status !== 200) return;
      checked++;
      if (normalize(resBody) !== expected) wrong++;
    } }],
  });
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  const codes = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([k, v]) => [k, v.count]));
  const row = {
    server: name, connections: Number(a.connections), seconds: Number(a.duration),
    ok: codes['200'] ?? 0, refused429: codes['429'] ?? 0, wrong, checked,
    errors: result.errors, timeouts: result.timeouts,
    okPerSecond: Math.round((codes['200'] ?? 0) / Number(a.duration)),
    p50ms: result.latency.p50, p99ms: result.latency.p99,
  };
  console.log(JSON.stringify(row));
  return row;
}

console.log(JSON.stringify({ date: new Date().toISOString(), cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, load: os.loadavg() }));
const asWinnow = (s) => s; // TEI's body: [{ index, score }]
const asPlain = (s) => JSON.stringify(JSON.parse(s).map((r) => ({ index: r.index, score: r.score })));
for (const bound of a.bounds.split(',')) {
  await run(`winnow serve (max_concurrent_requests ${bound})`, [path.join(root, 'dist/cjs/cli/main.js'), 'serve', `ce=${a.model}`, '--port', '0', '--host', '127.0.0.1', '--log-level', 'silent', '--max-concurrent-requests', bound], asWinnow);
}
await run('node:http + CrossEncoder.rank', [path.join(root, 'bench/server/plain-http.mjs'), a.model], asPlain);
