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

function printable(b: number): boolean {
  return b >= 0x20 && b <= 0x7e;
}

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
    let runStart = -1;
    for (let i = 0; i < buf.length; i++) {
      const b = buf[i];
      if (b === CR || b === LF) {
        if (runStart >= 0) this.append(buf, runStart, i);
        runStart = -1;
        this.endLine();
        continue;
      }
      this.rawLength++;
      if (this.discarding) continue;
      if (this.rawLength > this.maxLength) {
        this.discarding = true;
        this.sink.error('overlong', `line longer than ${this.maxLength} bytes, dropped up to the next line end`);
        this.pending = '';
        runStart = -1;
        continue;
      }
      if (printable(b)) {
        if (runStart < 0) runStart = i;
      } else {
        if (runStart >= 0) this.append(buf, runStart, i);
        runStart = -1;
        this.strippedBytes++;
      }
    }
    if (runStart >= 0 && !this.discarding) this.append(buf, runStart, buf.length);
  }

  /** Flushes a last line that had no line end (end of a file). */
  end(): void {
    this.endLine();
  }

  private append(buf: Buffer, start: number, end: number): void {
    this.pending += buf.toString('latin1', start, end);
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
