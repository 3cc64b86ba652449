// The `winnow` command (dist/cjs/cli/main.js, as installed): JSONL jobs equal the library's results, ids carried,
// --resume after a partial line, kills (SIGKILL, SIGINT) at random points then resumes give the uninterrupted output
// line for line, bounded memory (a heap limit a whole-input job exceeds), clear errors.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrossEncoder } from '../lib/index';
import { FIXTURES, ROOT } from './helpers/reference';

const CE = path.join(FIXTURES, 'bert-ce-tiny');
const CLI = path.join(ROOT, 'dist/cjs/cli/main.js');
let dir: string;

function winnow(args: string[], nodeArgs: string[] = []) {
  return spawnSync(process.execPath, [...nodeArgs, CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
}

function pairsFile(n: number, withIds = true): string {
  const file = path.join(dir, `pairs-${n}-${withIds}.jsonl`);
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ ...(withIds ? { id: `q${i}` } : {}), query: `question ${i % 17}`, document: `document ${i} about topic ${i % 13} ${'and more '.repeat(i % 5)}` }));
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-cli-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('winnow jobs', () => {
  it('--help lists the commands', () => {
    const r = winnow(['--help']);
    expect(r.status).toBe(0);
    for (const c of ['serve', 'score', 'rank', 'embed', 'prune', 'tokenize', 'info']) expect(r.stdout).toContain(c);
  });

  it('score: one line per input line, ids carried (the position when absent), scores equal CrossEncoder.predict', async () => {
    const input = pairsFile(40, false);
    const out = path.join(dir, 'score.jsonl');
    const r = winnow(['score', CE, input, '-o', out, '--chunk', '16', '--no-progress']);
    expect(r.status, r.stderr).toBe(0);
    const lines = fs.readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    const pairs = fs.readFileSync(input, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l)).map((x) => [x.query, x.document] as [string, string]);
    const ce = await CrossEncoder.load(CE);
    const scores = await ce.predict(pairs);
    ce.dispose();
    expect(lines).toEqual(Array.from(scores, (score, id) => ({ id, score })));
  });

  it('--resume after a partially written last line gives the uninterrupted output', () => {
    const input = pairsFile(100);
    const full = path.join(dir, 'full.jsonl');
    expect(winnow(['score', CE, input, '-o', full, '--chunk', '32', '--no-progress']).status).toBe(0);
    const expected = fs.readFileSync(full, 'utf8');
    const cut = expected.indexOf('\n', 1000) + 15; // complete lines, then half a line
    const part = path.join(dir, 'part.jsonl');
    fs.writeFileSync(part, expected.slice(0, cut));
    const r = winnow(['score', CE, input, '-o', part, '--chunk', '32', '--resume', '--no-progress']);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readFileSync(part, 'utf8')).toBe(expected);
  });

  it('killed at random points (SIGKILL and SIGINT) and resumed: the output equals an uninterrupted run line for line', async () => {
    const input = pairsFile(2000);
    const full = path.join(dir, 'kill-full.jsonl');
    expect(winnow(['score', CE, input, '-o', full, '--chunk', '50', '--no-progress']).status).toBe(0);
    const out = path.join(dir, 'kill.jsonl');
    let kills = 0;
    let sigints = 0;
    for (let attempt = 0; attempt < 6; attempt++) {
      const signal = attempt % 2 === 0 ? 'SIGKILL' : 'SIGINT';
      const args = [CLI, 'score', CE, input, '-o', out, '--chunk', '50', '--no-progress', ...(fs.existsSync(out) ? ['--resume'] : [])];
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      // Once the job is writing, kill it after a random moment.
      const size0 = fs.existsSync(out) ? fs.statSync(out).size : 0;
      let done = false;
      exited.then(() => (done = true));
      while (!done && (fs.existsSync(out) ? fs.statSync(out).size : 0) <= size0) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, Math.random() * 100));
      if (!done) {
        child.kill(signal);
        if (signal === 'SIGKILL') kills++;
        else sigints++;
      }
      const code = await exited;
      if (code === 0) break;
      if (signal === 'SIGINT' && code !== null) {
        // A clean stop: exit 130, the output ends with a whole line and says how to continue.
        expect(code, stderr).toBe(130);
        expect(stderr).toContain('--resume');
        expect(fs.readFileSync(out, 'utf8').endsWith('\n')).toBe(true);
      }
    }
    expect(kills).toBeGreaterThanOrEqual(2);
    expect(sigints).toBeGreaterThanOrEqual(2);
    if (fs.readFileSync(out, 'utf8') !== fs.readFileSync(full, 'utf8')) {
      // Not done after 6 interrupted runs: finish it uninterrupted.
      expect(winnow(['score', CE, input, '-o', out, '--chunk', '50', '--resume', '--no-progress']).status).toBe(0);
    }
    expect(fs.readFileSync(out, 'utf8')).toBe(fs.readFileSync(full, 'utf8'));
  });

  it('memory stays bounded: a 100k-line job runs under a 16 MB heap, which the same job in one chunk exceeds', () => {
    const file = path.join(dir, 'texts.jsonl');
    const fd = fs.openSync(file, 'w');
    for (let i = 0; i < 100_000; i += 10_000) {
      fs.writeSync(fd, Array.from({ length: 10_000 }, (_, k) => `{"id":${i + k},"text":"line ${i + k} of a long input file"}\n`).join(''));
    }
    fs.closeSync(fd);
    const heap = ['--max-old-space-size=16'];
    const ok = winnow(['tokenize', path.join(CE, 'tokenizer.json'), file, '-o', path.join(dir, 'tok.jsonl'), '--no-progress'], heap);
    expect(ok.status, ok.stderr).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'tok.jsonl'), 'utf8').split('\n')).toHaveLength(100_001);
    const whole = winnow(['tokenize', path.join(CE, 'tokenizer.json'), file, '-o', path.join(dir, 'tok2.jsonl'), '--chunk', '1000000', '--no-progress'], heap);
    expect(whole.status).not.toBe(0);
    expect(whole.stderr).toMatch(/heap/i);
  });

  it('errors name the file and line; an existing output needs --resume or --overwrite; a resume checks the ids', () => {
    const bad = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(bad, '{"query":"q","document":"d"}\n\n{"query":"q"}\n');
    const r1 = winnow(['score', CE, bad, '--no-progress']);
    expect(r1.status).toBe(1);
    expect(r1.stderr).toContain(`${bad}:3: expected a string for "document" but received nothing (INVALID_ARGUMENT)`);
    fs.writeFileSync(bad, '{"query":"q","document":"d"}\nnot json\n');
    expect(winnow(['score', CE, bad, '--no-progress']).stderr).toContain(`${bad}:2: not JSON`);

    const input = pairsFile(10);
    const out = path.join(dir, 'exists.jsonl');
    fs.writeFileSync(out, '{"id":"other","score":1}\n');
    expect(winnow(['score', CE, input, '-o', out, '--no-progress']).stderr).toContain('exists: pass --resume to continue it, or --overwrite to replace it');
    const mismatch = winnow(['score', CE, input, '-o', out, '--resume', '--no-progress']);
    expect(mismatch.status).toBe(1);
    expect(mismatch.stderr).toContain('does not continue');
    expect(winnow(['score', CE, input, '-o', out, '--overwrite', '--no-progress']).status).toBe(0);
    expect(fs.readFileSync(out, 'utf8').trimEnd().split('\n')).toHaveLength(10);
  });

  it('a missing input is a clear error (IO_ERROR) and creates no output; an existing output is left as it was, even with --overwrite', () => {
    const missing = path.join(dir, 'no-such-input.jsonl');
    const out = path.join(dir, 'never.jsonl');
    const r = winnow(['score', CE, missing, '-o', out, '--no-progress']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`winnow: ${missing}: cannot read the input: no such file (IO_ERROR)`);
    expect(r.stderr).not.toMatch(/Unhandled|node:events|at /);
    expect(fs.existsSync(out)).toBe(false);

    const kept = path.join(dir, 'kept.jsonl');
    fs.writeFileSync(kept, '{"id":0,"score":0.5}\n');
    const r2 = winnow(['score', CE, missing, '-o', kept, '--overwrite', '--no-progress']);
    expect(r2.status).toBe(1);
    expect(r2.stderr).toContain(`${missing}: cannot read the input`);
    expect(fs.readFileSync(kept, 'utf8')).toBe('{"id":0,"score":0.5}\n');

    // A folder given as the input: the same clear error, nothing written.
    const r3 = winnow(['tokenize', path.join(CE, 'tokenizer.json'), dir, '-o', path.join(dir, 'never2.jsonl'), '--no-progress']);
    expect(r3.status).toBe(1);
    expect(r3.stderr).toContain(`winnow: ${dir}: cannot read the input: it is a folder (IO_ERROR)`);
    expect(fs.existsSync(path.join(dir, 'never2.jsonl'))).toBe(false);
  });

  it('tokenize: a single text next to a pair in one chunk has the ids it has alone (no empty pair added)', () => {
    const tok = path.join(CE, 'tokenizer.json');
    const alone = path.join(dir, 'tok-alone.jsonl');
    const mixed = path.join(dir, 'tok-mixed.jsonl');
    fs.writeFileSync(alone, '{"id":"a","text":"hello world"}\n');
    fs.writeFileSync(mixed, '{"id":"a","text":"hello world"}\n{"id":"b","text":"hello","text_pair":"world"}\n{"id":"c","text":"the quick brown fox"}\n');
    const r1 = winnow(['tokenize', tok, alone, '--no-progress']);
    const r2 = winnow(['tokenize', tok, mixed, '--no-progress']);
    expect(r1.status, r1.stderr).toBe(0);
    expect(r2.status, r2.stderr).toBe(0);
    const one = JSON.parse(r1.stdout.trim());
    const lines = r2.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(one.ids).toEqual([101, 7592, 2088, 102]);
    expect(lines[0]).toEqual(one);
    expect(lines[1].ids).toEqual([101, 7592, 102, 2088, 102]);
    expect(lines[2].id).toBe('c');
    expect(lines[2].tokens).toEqual(['[CLS]', 'the', 'quick', 'brown', 'fox', '[SEP]']);
  });

  it('--resume with an input shorter than the output is an error naming both counts', () => {
    const input = pairsFile(12);
    const out = path.join(dir, 'longer-output.jsonl');
    expect(winnow(['score', CE, input, '-o', out, '--no-progress']).status).toBe(0);
    const before = fs.readFileSync(out, 'utf8');
    const shorter = path.join(dir, 'shorter.jsonl');
    fs.writeFileSync(shorter, fs.readFileSync(input, 'utf8').split('\n').slice(0, 5).join('\n') + '\n');
    const r = winnow(['score', CE, shorter, '-o', out, '--resume', '--no-progress']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${out} holds 12 lines but ${shorter} has only 5: it does not continue this input; cannot resume (INVALID_ARGUMENT)`);
    expect(fs.readFileSync(out, 'utf8')).toBe(before);
    // The same input resumes to a no-op.
    expect(winnow(['score', CE, input, '-o', out, '--resume', '--no-progress']).status).toBe(0);
    expect(fs.readFileSync(out, 'utf8')).toBe(before);
  });

  it('info: source, files, architecture, tokenizer, device', () => {
    const r = winnow(['info', CE]);
    expect(r.status, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info).toMatchObject({ task: 'rerank', class: 'CrossEncoder', source: { file: 'onnx/model.onnx', built: false }, device: 'cpu', modelType: 'bert', tokenizer: { vocabSize: 30522 } });
    expect(info.files.map((f: { file: string }) => f.file)).toContain('onnx/model.onnx');
  });
});

