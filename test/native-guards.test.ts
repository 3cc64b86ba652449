// Synchronous native entry points: a C++ exception other than Napi::Error (here std::bad_alloc) becomes a coded JS
// error, never an abort. The TypeScript layer refuses these arguments first, so the native methods are called
// directly, in a child process (an abort is the failure).
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from './helpers/reference';

const ROOT = path.resolve(__dirname, '..');

describe('native entry points', () => {
  it('turn an allocation failure into INTERNAL "out of memory" and the process goes on', () => {
    const script = `
      const w = require(${JSON.stringify(path.join(ROOT, 'dist/cjs/index.js'))});
      const F = ${JSON.stringify(FIXTURES)} + '/';
      // An array of 2^32 - 1 holes: copying it into strings asks for about 137 GB up front.
      const huge = [];
      huge.length = 2 ** 32 - 1;
      const outcome = (f) => {
        try {
          const r = f();
          return r && typeof r.then === 'function' ? r.then(() => 'resolved', (e) => [e.code, e.message]) : 'returned';
        } catch (e) {
          return [e.code, e.message];
        }
      };
      (async () => {
        const ce = (await w.CrossEncoder.load(F + 'bert-ce-tiny')).native;
        const se = (await w.SentenceEncoder.load(F + 'e5-tiny')).native;
        const pe = (await w.PruningEncoder.load(F + 'pruning-bert-tiny')).native;
        const sm = (await w.StaticModel.load(F + 'potion-tiny')).native;
        const out = {
          'CrossEncoder.predict': await outcome(() => ce.predict(huge, huge)),
          'CrossEncoder.score': await outcome(() => ce.score('q', huge)),
          'SentenceEncoder.encode': await outcome(() => se.encode(huge, {})),
          'PruningEncoder.process': await outcome(() => pe.process(huge, [], [])),
          'PruningEncoder.predict': await outcome(() => pe.predict(huge, huge)),
          'StaticModel.encodeSync': await outcome(() => sm.encodeSync(huge, {})),
          'StaticModel.encode': await outcome(() => sm.encode(huge, {})),
          'StaticModel.countTokens': await outcome(() => sm.countTokens(huge, {})),
        };
        out.after = Array.from(await ce.predict(['a query'], ['a document']));
        console.log(JSON.stringify(out));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const child = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(child.stderr).not.toMatch(/terminate called|bad_alloc/);
    expect({ status: child.status, signal: child.signal }).toEqual({ status: 0, signal: null });
    const out = JSON.parse(child.stdout.trim().split('\n').pop()!);
    const { after, ...calls } = out;
    for (const [name, result] of Object.entries(calls)) expect(result, name).toEqual(['INTERNAL', 'out of memory']);
    expect(after).toHaveLength(1);
    expect(Number.isFinite(after[0])).toBe(true);
  });
});
