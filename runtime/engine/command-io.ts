// Byte plumbing of a command plugin's standard streams: stdout split into UTF-8 lines (bounded,
// so a program that never ends a line cannot grow memory), and a log budget for stderr (a chatty
// program cannot flood the journal).

import type { Logger } from '../../core/log.js';

const LF = 0x0a;

/** A stdout line longer than this is not a delta: it is refused (counted) and skipped up to its end. */
export const MAX_OUTPUT_LINE = 1024 * 1024;

export interface OutputLineSink {
  line(text: string): void;
  overlong(bytes: number): void;
}

/** Splits a byte stream on LF (a CR before it is dropped), decoding each whole line as UTF-8. */
export class Utf8Lines {
  private parts: Buffer[] = [];
  private length = 0;
  /** Bytes of a line past the cap, dropped up to its end. */
  private dropped = 0;

  constructor(
    private readonly sink: OutputLineSink,
    private readonly maxLength = MAX_OUTPUT_LINE,
  ) {}

  push(chunk: Uint8Array): void {
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    for (let nl = buf.indexOf(LF, start); nl >= 0; nl = buf.indexOf(LF, start)) {
      this.add(buf.subarray(start, nl));
      this.endLine();
      start = nl + 1;
    }
    if (start < buf.length) this.add(buf.subarray(start));
  }

  /** The stream ended: a last line without LF counts as a line. */
  end(): void {
    if (this.length > 0 || this.dropped > 0) this.endLine();
  }

  private add(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.dropped > 0 || this.length + bytes.length > this.maxLength) {
      this.dropped += this.length + bytes.length;
      this.parts = [];
      this.length = 0;
      return;
    }
    // Copied: the SDK may reuse the chunk's memory.
    this.parts.push(Buffer.from(bytes));
    this.length += bytes.length;
  }

  private endLine(): void {
    if (this.dropped > 0) {
      const bytes = this.dropped;
      this.dropped = 0;
      this.sink.overlong(bytes);
      return;
    }
    let text = (this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.length)).toString('utf8');
    this.parts = [];
    this.length = 0;
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (text.length > 0) this.sink.line(text);
  }
}

/** At most `perWindow` lines per window go to the log; the rest are counted and reported as one line. */
export class LogBudget {
  private windowStart = 0;
  private used = 0;
  private suppressed = 0;

  constructor(
    private readonly log: Logger,
    private readonly prefix: string,
    private readonly perWindow = 20,
    private readonly windowMs = 10_000,
  ) {}

  line(text: string): void {
    const now = Date.now();
    if (now - this.windowStart >= this.windowMs) {
      this.flush();
      this.windowStart = now;
      this.used = 0;
    }
    if (this.used < this.perWindow) {
      this.used++;
      this.log.info(`${this.prefix}${text}`);
    } else {
      this.suppressed++;
    }
  }

  /** Reports what was suppressed (window end, or the stream closed). */
  flush(): void {
    if (this.suppressed === 0) return;
    this.log.info(
      `${this.prefix}(${this.suppressed} more lines suppressed; at most ${this.perWindow} per ${this.windowMs / 1000} s are logged)`,
    );
    this.suppressed = 0;
  }
}
