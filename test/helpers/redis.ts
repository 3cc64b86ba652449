// A real redis-server for the queue tests: loopback, a free port, its own folder, AOF on (a restart keeps the
// queue), no RDB snapshots; plus the `winnow` CLI processes (workers, producer) the tests start and kill.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const CLI = path.join(ROOT, 'dist/cjs/cli/main.js');
export const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'models');

/** Why the queue tests cannot run here, or null: they need the redis-server command (CI installs it). */
export const redisMissing: string | null = spawnSync('redis-server', ['--version']).error ? 'redis-server is not installed (apt-get install redis-server; scripts/setup.sh installs it)' : null;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export class RedisServer {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-redis-'));
  port = 0;
  private proc?: ChildProcess;

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    this.proc = spawn('redis-server', [
      '--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--save', '',
      '--maxmemory-policy', 'noeviction', '--logfile', path.join(this.dir, 'redis.log'),
    ], { stdio: 'ignore' });
    await waitFor('redis-server to answer', () => this.cli('PING').trim() === 'PONG');
  }

  /** SIGTERM (Redis writes its AOF and exits), then a new server on the same port and folder. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  }

  cli(...args: string[]): string {
    return spawnSync('redis-cli', ['-p', String(this.port), ...args], { encoding: 'utf8' }).stdout ?? '';
  }

  async dispose(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A running `winnow` process with its stderr collected. */
export class Proc {
  readonly child: ChildProcess;
  stderr = '';
  stdout = '';
  readonly exited: Promise<number | null>;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d) => (this.stdout += d));
    this.child.stderr!.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  async waitForStderr(text: string | RegExp, timeoutMs = 60_000): Promise<void> {
    await waitFor(`"${text}" on stderr (got: ${this.stderr.slice(-500)})`, () => (typeof text === 'string' ? this.stderr.includes(text) : text.test(this.stderr)) || this.child.exitCode !== null, timeoutMs);
    if (this.child.exitCode !== null && !(typeof text === 'string' ? this.stderr.includes(text) : text.test(this.stderr))) {
      throw new Error(`process exited (${this.child.exitCode}) before "${text}": ${this.stderr}`);
    }
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** A worker process; resolves once it has loaded the model and listens. */
export async function startWorker(url: string, model: string, extra: string[] = []): Promise<Proc> {
  const w = new Proc(['worker', url, model, '--threads', '1', '--lock-duration', '2000', '--stalled-interval', '1000', ...extra]);
  await w.waitForStderr(' ready: ');
  return w;
}

export { waitFor };
