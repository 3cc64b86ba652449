import { readFileSync } from 'node:fs';
import path from 'node:path';

/** winnow-native's version, from the package.json above this file (lib/ from source, dist/cjs/ when built). */
export function packageVersion(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    try {
      const p = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
      if (p.name === 'winnow-native') return p.version;
    } catch {
      // no package.json here (or dist/cjs's type-only one): look further up
    }
    if (path.dirname(dir) === dir) return 'unknown';
  }
}
