import * as fs from 'node:fs';

// This process's mappings of one file (by its real path), from /proc/self/smaps (Linux): how many, and their total
// size in KiB. Tests use them to see whether ONNX Runtime maps a model file and how much of it stays mapped.
export function fileMappings(file: string): { count: number; kib: number } {
  let inFile = false;
  let count = 0;
  let kib = 0;
  for (const line of fs.readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      inFile = line.endsWith(` ${file}`);
      if (inFile) count++;
    } else if (inFile && line.startsWith('Size:')) {
      kib += Number(line.split(/\s+/)[1]);
    }
  }
  return { count, kib };
}
