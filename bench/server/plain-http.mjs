// The hand-written baseline: node:http + CrossEncoder.rank, about the 20 lines a user writes today (no bound on the
// work it accepts, no limits, no metrics). Prints its URL on stdout. Usage: node plain-http.mjs MODEL_DIR [THREADS]
import http from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { CrossEncoder } = require('../../dist/cjs/index.js');
const ce = await CrossEncoder.load(process.argv[2], process.argv[3] ? { threads: Number(process.argv[3]) } : {});
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', async () => {
    try {
      const { query, texts } = JSON.parse(body);
      const ranked = await ce.rank(query, texts);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(ranked));
    } catch (e) {
      res.writeHead(422, { 'content-type': 'application/json' }).end(JSON.stringify({ error: e.message }));
    }
  });
});
server.listen(0, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${server.address().port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
