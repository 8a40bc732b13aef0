// A plugin's WASI stdout and stderr as lines of the runtime log, as upstream shows them (its
// plugins inherit the server's streams). Bounded, because a plugin that prints in a loop must not
// flood the log or grow memory: a line is cut at MAX_LINE characters, an unterminated line is
// flushed at that length, and at most LINES_PER_WINDOW lines per stream pass every WINDOW_MS; the
// rest are counted and reported in one line when the window ends.

import type { Logger } from '../../core/log.js';

export const MAX_LINE = 1000;
export const LINES_PER_WINDOW = 20;
export const WINDOW_MS = 10_000;

type Stream = 'stdout' | 'stderr';

class LineSink {
  private pending = '';
  private windowStart = 0;
  private passed = 0;
  private dropped = 0;
  private readonly decoder = new TextDecoder('utf-8');

  constructor(
    private readonly stream: Stream,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  write(bytes: Uint8Array): void {
    this.pending += this.decoder.decode(bytes, { stream: true });
    let nl: number;
    while ((nl = this.pending.indexOf('\n')) >= 0) {
      this.line(this.pending.slice(0, nl));
      this.pending = this.pending.slice(nl + 1);
    }
    while (this.pending.length >= MAX_LINE) {
      this.line(this.pending.slice(0, MAX_LINE));
      this.pending = this.pending.slice(MAX_LINE);
    }
  }

  flush(): void {
    if (this.pending !== '') this.line(this.pending);
    this.pending = '';
    this.report();
  }

  private line(text: string): void {
    const t = this.now();
    if (t - this.windowStart >= WINDOW_MS) {
      this.report();
      this.windowStart = t;
      this.passed = 0;
    }
    if (this.passed >= LINES_PER_WINDOW) {
      this.dropped++;
      return;
    }
    this.passed++;
    const clean = text.replace(/\r$/, '').slice(0, MAX_LINE);
    if (this.stream === 'stdout') this.log.info(`stdout: ${clean}`);
    else this.log.warn(`stderr: ${clean}`);
  }

  private report(): void {
    if (this.dropped === 0) return;
    this.log.warn(
      `${this.stream}: ${this.dropped} more line(s) not logged (over ${LINES_PER_WINDOW} per ${WINDOW_MS / 1000} s)`,
    );
    this.dropped = 0;
  }
}

export interface WasiOutput {
  /** Bytes written to fd 1 (stdout) or 2 (stderr). */
  write(fd: 1 | 2, bytes: Uint8Array): void;
  /** Logs what is left of an unterminated line and the count of dropped lines (instance closed). */
  flush(): void;
}

export function createWasiOutput(log: Logger, now: () => number = Date.now): WasiOutput {
  const sinks = { 1: new LineSink('stdout', log, now), 2: new LineSink('stderr', log, now) };
  return {
    write: (fd, bytes) => sinks[fd].write(bytes),
    flush() {
      sinks[1].flush();
      sinks[2].flush();
    },
  };
}
