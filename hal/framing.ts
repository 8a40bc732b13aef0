// Line framing for text protocols (NMEA 0183) read from a byte stream: CR and/or LF end a line,
// bytes outside printable ASCII are dropped, lines are capped so a stream without line ends
// (wrong baud rate, binary device) cannot grow memory. Never throws.

import type { InputSink } from './sources/pipeline.js';

export type FramingError = 'overlong' | 'garbage';

export interface LineSink {
  line(text: string): void;
  error(reason: FramingError, detail: string): void;
}

/** The lines of a framer (or a replayed log) as a source pipeline's inputs. */
export function linesTo(sink: InputSink<string>): LineSink {
  return { line: (text) => sink.push(text), error: (reason, detail) => sink.error(reason, detail) };
}

/** NMEA 0183 allows 82 characters; tag blocks and proprietary sentences run longer. */
export const DEFAULT_MAX_LINE = 512;

const CR = 0x0d;
const LF = 0x0a;

export class LineFramer {
  /** Printable text of the current line, collected in pieces to avoid per-byte concatenation. */
  private pending = '';
  /** Raw bytes seen since the last line end, garbage included: the cap applies to these. */
  private rawLength = 0;
  private strippedBytes = 0;
  /** Set once a line passed the cap: everything up to the next line end is dropped. */
  private discarding = false;

  constructor(
    private readonly sink: LineSink,
    private readonly maxLength = DEFAULT_MAX_LINE,
  ) {}

  push(chunk: Uint8Array): void {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const n = buf.length;
    let i = 0;
    while (i < n) {
      // A run of printable bytes, the bulk of any line, checked with one range test per byte.
      const start = i;
      let b = 0;
      for (; i < n; i++) {
        b = buf[i];
        if (b < 0x20 || b > 0x7e) break;
      }
      if (i > start) this.run(buf, start, i);
      if (i === n) return;
      if (b === CR || b === LF) this.endLine();
      else if (!this.discarding) {
        // Not printable: dropped from the line, but counted against the cap.
        if (++this.rawLength > this.maxLength) this.overlong();
        else this.strippedBytes++;
      }
      i++;
    }
  }

  /** Flushes a last line that had no line end (end of a file). */
  end(): void {
    this.endLine();
  }

  /** Printable bytes [start, end) of the current line, within the cap or not. */
  private run(buf: Buffer, start: number, end: number): void {
    if (this.discarding) return;
    this.rawLength += end - start;
    if (this.rawLength > this.maxLength) this.overlong();
    else this.pending += buf.toString('latin1', start, end);
  }

  /** The line passed the cap: what it held so far is dropped, and the rest up to its end. */
  private overlong(): void {
    this.discarding = true;
    this.pending = '';
    this.sink.error('overlong', `line longer than ${this.maxLength} bytes, dropped up to the next line end`);
  }

  private endLine(): void {
    const text = this.pending;
    const stripped = this.strippedBytes;
    const discarded = this.discarding;
    this.pending = '';
    this.rawLength = 0;
    this.strippedBytes = 0;
    this.discarding = false;
    if (discarded) return;
    if (text.length > 0) this.sink.line(text);
    else if (stripped > 0) this.sink.error('garbage', `${stripped} non-printable bytes without any text`);
  }
}
