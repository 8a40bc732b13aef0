// Actisense NGT-1 binary (BST) framing: `DLE STX <command> <len> <payload> <checksum> DLE ETX`, a
// DLE inside doubled, the checksum making command + len + payload + checksum 0 mod 256. N2K
// messages come as command 0x93 with payload `prio pgn(3, LE) dst src timestamp(4) len data`.
// canboatjs reads this format only inside its own serial stream (it opens the port itself and drops
// bad frames without a count), so the byte framing is here, counting what it refuses; sending uses
// canboatjs's composeMessage.

import { lazyModule } from '../../lazy-module.js';
import type { N2kMessage } from './message.js';

const actisense = lazyModule<typeof import('@canboat/canboatjs/dist/actisense-serial.js')>(
  '@canboat/canboatjs/dist/actisense-serial.js',
);

const DLE = 0x10;
const STX = 0x02;
const ETX = 0x03;
const N2K_MSG_RECEIVED = 0x93;
const N2K_MSG_SEND = 0x94;
/** The gateway's own messages (startup, configuration answers): not bus traffic. */
const NGT_MSG_RECEIVED = 0xa0;
/** Command + len + 255 payload bytes + checksum. */
const MAX_FRAME = 258;
/** prio, pgn(3), dst, src, timestamp(4), len. */
const N2K_HEADER = 11;

export type ActisenseError = 'checksum' | 'truncated' | 'garbage' | 'overlong';

export interface ActisenseSink {
  message(m: N2kMessage): void;
  error(reason: ActisenseError, detail: string): void;
}

export class ActisenseFramer {
  private readonly buf = Buffer.alloc(MAX_FRAME);
  private length = 0;
  private inFrame = false;
  private escaped = false;
  /** Bytes seen outside any frame since the last frame; reported once a frame starts. */
  private stray = 0;
  /** The rest of an overlong or broken frame, up to the next frame: dropped without counting it again as stray bytes. */
  private discarding = false;

  constructor(private readonly sink: ActisenseSink) {}

  push(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length; i++) this.byte(chunk[i]);
  }

  /** The stream ended (device lost): a frame cut short counts as truncated. */
  end(): void {
    if (this.inFrame) this.sink.error('truncated', `frame cut after ${this.length} bytes`);
    this.flushStray();
    this.inFrame = false;
    this.escaped = false;
    this.discarding = false;
    this.length = 0;
  }

  private byte(c: number): void {
    if (this.escaped) {
      this.escaped = false;
      if (c === STX) {
        if (this.inFrame) this.sink.error('truncated', `frame cut after ${this.length} bytes by the next frame`);
        this.discarding = false;
        this.flushStray();
        this.inFrame = true;
        this.length = 0;
      } else if (c === ETX && this.inFrame) {
        this.inFrame = false;
        this.frame();
      } else if (c === DLE && this.inFrame) {
        this.store(c);
      } else if (this.inFrame) {
        this.inFrame = false;
        this.discarding = true;
        this.sink.error('garbage', `DLE followed by 0x${c.toString(16).padStart(2, '0')} inside a frame`);
      } else if (c === ETX && this.discarding) {
        this.discarding = false;
      } else if (!this.discarding) {
        this.stray += 2;
      }
      return;
    }
    if (c === DLE) this.escaped = true;
    else if (this.inFrame) this.store(c);
    else if (!this.discarding && ++this.stray >= MAX_FRAME) this.flushStray(); // a stream of noise (wrong rate) shows while it lasts
  }

  private store(c: number): void {
    if (this.length === MAX_FRAME) {
      this.inFrame = false;
      this.discarding = true;
      this.sink.error('overlong', `frame longer than ${MAX_FRAME} bytes`);
      return;
    }
    this.buf[this.length++] = c;
  }

  private flushStray(): void {
    if (this.stray === 0) return;
    this.sink.error('garbage', `${this.stray} bytes outside any frame`);
    this.stray = 0;
  }

  private frame(): void {
    const b = this.buf;
    const n = this.length;
    if (n < 3 || b[1] !== n - 3)
      return this.sink.error('truncated', `frame of ${n} bytes announces ${n >= 2 ? b[1] : '?'} payload bytes`);
    let sum = 0;
    for (let i = 0; i < n; i++) sum = (sum + b[i]) & 0xff;
    if (sum !== 0) return this.sink.error('checksum', `command 0x${b[0].toString(16)}: checksum off by ${sum}`);
    if (b[0] === NGT_MSG_RECEIVED) return;
    if (b[0] !== N2K_MSG_RECEIVED) return this.sink.error('garbage', `unknown command 0x${b[0].toString(16)}`);
    const p = b.subarray(2, n - 1);
    if (p.length < N2K_HEADER || p[10] !== p.length - N2K_HEADER)
      return this.sink.error(
        'truncated',
        `N2K payload of ${p.length} bytes does not hold its ${p.length >= N2K_HEADER ? p[10] : '?'} data bytes`,
      );
    this.sink.message({
      prio: p[0] & 7,
      pgn: p[1] | (p[2] << 8) | (p[3] << 16),
      dst: p[4],
      src: p[5],
      data: Buffer.from(p.subarray(N2K_HEADER)),
    });
  }
}

/** The bytes that ask the NGT-1 to transmit `m` (it sends from its own claimed address). */
export function encodeActisense(m: N2kMessage): Buffer {
  const payload = Buffer.alloc(6 + m.data.length);
  payload[0] = m.prio;
  payload.writeUIntLE(m.pgn, 1, 3);
  payload[4] = m.dst;
  payload[5] = m.data.length;
  m.data.copy(payload, 6);
  return actisense().composeMessage(N2K_MSG_SEND, payload, payload.length);
}

/** A received N2K message as the NGT-1 frames it (tests, recordings): the inverse of ActisenseFramer. */
export function encodeActisenseReceived(m: N2kMessage, timestamp = 0): Buffer {
  const payload = Buffer.alloc(N2K_HEADER + m.data.length);
  payload[0] = m.prio;
  payload.writeUIntLE(m.pgn, 1, 3);
  payload[4] = m.dst;
  payload[5] = m.src;
  payload.writeUInt32LE(timestamp >>> 0, 6);
  payload[10] = m.data.length;
  m.data.copy(payload, N2K_HEADER);
  return actisense().composeMessage(N2K_MSG_RECEIVED, payload, payload.length);
}
