// The threads option: bounded relative to the machine, and a system that refuses to create threads gets a coded
// error, never an abort or a hang.
import { execFileSync, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CrossEncoder, PruningEncoder, SentenceEncoder, StaticModel, Tokenizer, semanticSearch, similarity } from '../lib/index';
import { MAX_THREADS } from '../lib/model-options';
import { FIXTURES } from './helpers/reference';

const ROOT = path.resolve(__dirname, '..');
const TINY = path.join(FIXTURES, 'bert-ce-tiny');
const POTION = path.join(FIXTURES, 'potion-tiny');

const hasPrlimit = (() => {
  try {
    execFileSync('prlimit', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('threads', () => {
  it(`is an integer from 1 to 4 × the hardware threads, 256 at most (here ${MAX_THREADS}), everywhere`, async () => {
    const os = await import('node:os');
    expect(MAX_THREADS).toBe(Math.min(256, 4 * os.availableParallelism()));
    const tok = await Tokenizer.fromFile(path.join(TINY, 'tokenizer.json'));
    const v = [new Float32Array([1, 0]), new Float32Array([0, 1])];
    for (const threads of [MAX_THREADS + 1, 1024]) {
      const message = `Expected an integer between 1 and ${MAX_THREADS} for threads but received ${threads} of type number`;
      const refused = expect.objectContaining({ name: 'RangeError', code: 'INVALID_ARGUMENT', message });
      await expect(CrossEncoder.load(TINY, { threads })).rejects.toEqual(refused);
      await expect(SentenceEncoder.load(path.join(FIXTURES, 'e5-tiny'), { threads })).rejects.toEqual(refused);
      await expect(PruningEncoder.load(path.join(FIXTURES, 'pruning-bert-tiny'), { threads })).rejects.toEqual(refused);
      await expect(StaticModel.load(POTION, { threads })).rejects.toEqual(refused);
      await expect(tok.encodeBatch(['a'], { threads })).rejects.toEqual(refused);
      expect(() => similarity(v, v, 'cosine', { threads })).toThrow(refused);
      await expect(semanticSearch(v, v, { threads })).rejects.toEqual(refused);
    }
    const sm = await StaticModel.load(POTION, { threads: MAX_THREADS });
    expect((await sm.encode(['a', 'b'])).rows).toBe(2);
    sm.dispose();
  });

  // RLIMIT_NPROC is not enforced for root: as root the child runs as nobody.
  it.skipIf(!hasPrlimit)('a thread limit makes loads reject with INTERNAL and leaves the process working', () => {
    const script = `
      const fs = require('node:fs');
      const { execFileSync } = require('node:child_process');
      const w = require(${JSON.stringify(path.join(ROOT, 'dist/cjs/index.js'))});
      const TINY = ${JSON.stringify(TINY)}, POTION = ${JSON.stringify(POTION)};
      const threadsOf = (status) => Number(/^Threads:\\s*(\\d+)/m.exec(status)?.[1] ?? 0);
      // Tasks of this user: what RLIMIT_NPROC counts.
      const userTasks = () => {
        let n = 0;
        for (const pid of fs.readdirSync('/proc').filter((d) => /^\\d+$/.test(d))) {
          try {
            const status = fs.readFileSync('/proc/' + pid + '/status', 'utf8');
            if (Number(/^Uid:\\s*(\\d+)/m.exec(status)[1]) === process.getuid()) n += threadsOf(status);
          } catch {}
        }
        return n;
      };
      const texts = Array.from({ length: 300 }, (_, i) => 'text number ' + i + ' about mountains');
      const outcome = (p) => p.then(() => 'resolved', (e) => ({ code: e.code, message: e.message }));
      (async () => {
        // Everything that starts threads once per process first: libuv's pool, ONNX Runtime's environment.
        const ce = await w.CrossEncoder.load(TINY, { threads: 1 });
        const before = await ce.rank('where are the mountains', texts.slice(0, 8));
        const tok = await w.Tokenizer.fromFile(TINY + '/tokenizer.json');
        const ids = (await tok.encodeBatch(texts, { threads: 1 })).map((e) => Array.from(e.ids));
        execFileSync('prlimit', ['--pid', String(process.pid), '--nproc=' + (userTasks() + 2)]);
        const threads = Math.min(8, ${MAX_THREADS});
        const out = {
          threads,
          crossEncoder: await outcome(w.CrossEncoder.load(TINY, { threads })),
          staticModel: await outcome(w.StaticModel.load(POTION, { threads })),
          // A call's own helper threads: it runs on fewer, with the same result.
          encodeBatch: JSON.stringify((await tok.encodeBatch(texts, { threads })).map((e) => Array.from(e.ids))) === JSON.stringify(ids),
          rankAgain: JSON.stringify(await ce.rank('where are the mountains', texts.slice(0, 8))) === JSON.stringify(before),
        };
        const again = await w.CrossEncoder.load(TINY, { threads: 1 });
        out.loadAgain = JSON.stringify(await again.rank('where are the mountains', texts.slice(0, 8))) === JSON.stringify(before);
        console.log(JSON.stringify(out));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const child = spawnSync(process.execPath, ['-e', script], { cwd: '/', encoding: 'utf8', timeout: 120_000, ...asNobody });
    expect(child.stderr).not.toMatch(/terminate called|system_error/);
    expect({ status: child.status, signal: child.signal }).toEqual({ status: 0, signal: null });
    const out = JSON.parse(child.stdout.trim().split('\n').pop()!);
    const refused = { code: 'INTERNAL', message: expect.stringMatching(new RegExp(`^could not start ${out.threads - 1} threads \\(`)) };
    expect(out.crossEncoder).toEqual(refused);
    expect(out.staticModel).toEqual(refused);
    expect(out).toMatchObject({ encodeBatch: true, rankAgain: true, loadAgain: true });
  });
});
