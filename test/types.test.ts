// The published declarations, as a strict TypeScript user's code sees them: test/types/consumer.ts must compile,
// and its `@ts-expect-error` lines (mistakes the types must catch) must each be errors.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..');

describe('type declarations', () => {
  it('type-check a strict consumer and catch the mistakes it marks', () => {
    const tsc = require.resolve('typescript/bin/tsc', { paths: [ROOT] });
    let out = '';
    try {
      execFileSync(process.execPath, [tsc, '-p', path.join(ROOT, 'test', 'types', 'tsconfig.json')], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      out = String((e as { stdout?: string }).stdout ?? e);
    }
    expect(out).toBe('');
  }, 60_000);
});
