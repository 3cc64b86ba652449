import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A copy of a model folder in a new temporary folder, changed by `edit` (given the copy's path). */
export function editedCopy(from: string, edit: (dir: string) => void): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-copy-'));
  fs.cpSync(from, dir, { recursive: true });
  edit(dir);
  return dir;
}
