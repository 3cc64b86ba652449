// Job progress on stderr: cli-progress's bar (rate, ETA) on a terminal, a plain line every few seconds otherwise.
import { SingleBar } from 'cli-progress';

const PLAIN_EVERY_MS = 5000;

export class Progress {
  private readonly bar?: SingleBar;
  private readonly started = Date.now();
  private lastPlain = Date.now();

  /** `total`: input bytes when known (a file), so the ETA follows the bytes read. */
  constructor(private readonly name: string, private readonly total: number | undefined) {
    if (process.stderr.isTTY) {
      this.bar = new SingleBar({
        stream: process.stderr,
        format: total === undefined
          ? `${name} | {lines} lines | {rate} lines/s | {duration_formatted}`
          : `${name} [{bar}] {percentage}% | {lines} lines | {rate} lines/s | ETA {eta_formatted}`,
        hideCursor: true,
        etaBuffer: 50,
      });
      this.bar.start(total ?? 0, 0, { lines: 0, rate: 0 });
    }
  }

  private rate(done: number): number {
    const s = (Date.now() - this.started) / 1000;
    return s > 0 ? Math.round(done / s) : 0;
  }

  /** `lines`: output lines in all; `done`: those this run wrote (the rate). */
  update(bytes: number, lines: number, done: number): void {
    if (this.bar) {
      this.bar.update(this.total === undefined ? 0 : bytes, { lines, rate: this.rate(done) });
      return;
    }
    const now = Date.now();
    if (now - this.lastPlain < PLAIN_EVERY_MS) return;
    this.lastPlain = now;
    const pct = this.total ? ` (${((100 * bytes) / this.total).toFixed(1)}% of the input)` : '';
    process.stderr.write(`winnow ${this.name}: ${lines} lines${pct}, ${this.rate(done)} lines/s\n`);
  }

  stop(lines: number, done: number): void {
    if (this.bar) {
      this.bar.update({ lines, rate: this.rate(done) });
      this.bar.stop();
    }
  }
}
