// What a gateway carries: whole NMEA 2000 messages (NGT-1, W2K-1, iKonvert and canboat logs hand
// over fast-packet PGNs already assembled) or single CAN frames (Yacht Devices RAW, candump). A
// gateway source delivers CAN frames, the currency of CanInterfaces, so the N2K codec and plugins
// with a `can:` grant see a gateway as they see SocketCAN: whole messages are cut into frames with
// canboatjs's fast-packet splitter, and frames a plugin sends are put back together for gateways
// that only take whole messages.

import { isRecord } from '../../../core/json.js';
import { lazyModule } from '../../lazy-module.js';
import { MAX_DATA, parseId, type CanFrame, type CanIdFields } from '../frame.js';

const canId = lazyModule<typeof import('@canboat/canboatjs/dist/canId.js')>('@canboat/canboatjs/dist/canId.js');
const utilities = lazyModule<typeof import('@canboat/canboatjs/dist/utilities.js')>(
  '@canboat/canboatjs/dist/utilities.js',
);
const pgns = lazyModule<typeof import('@canboat/canboatjs/dist/pgns.js')>('@canboat/canboatjs/dist/pgns.js');

/** One whole NMEA 2000 message. */
export interface N2kMessage extends CanIdFields {
  data: Buffer;
}

const fastCache = new Map<number, boolean>();

/** Whether canboat's PGN database says the PGN travels as a fast packet. */
export function isFastPacket(pgn: number): boolean {
  let fast = fastCache.get(pgn);
  if (fast === undefined) {
    const defs: unknown = pgns().getPgn(pgn);
    fast = Array.isArray(defs) && defs.some((d: unknown) => isRecord(d) && d.Type === 'Fast');
    fastCache.set(pgn, fast);
  }
  return fast;
}

export function frameId(m: CanIdFields): number {
  return canId().encodeCanId(canId().buildCanId(m.prio, m.pgn, m.dst, m.src));
}

/** A whole message as the frames it travels in on the bus, stamped `time`. */
export function toFrames(m: N2kMessage, time: number): CanFrame[] {
  const id = frameId(m);
  if (m.data.length <= MAX_DATA && !isFastPacket(m.pgn)) return [{ id, data: m.data, time }];
  return utilities()
    .getPlainPGNs(m.data)
    .map((data) => ({ id, data, time }));
}

/**
 * Puts frames a plugin sends back into whole messages, for gateways that transmit whole messages
 * (they do the fast-packet framing on the bus themselves). One pending message per PGN and sender.
 */
export class FastPacketJoiner {
  private readonly pending = new Map<string, { m: N2kMessage; length: number; have: number; next: number }>();

  /** The whole message once `frame` completes it; undefined while more frames are due. Throws on a frame out of sequence. */
  add(frame: CanFrame): N2kMessage | undefined {
    const fields = parseId(frame.id);
    const data = Buffer.from(frame.data);
    if (!isFastPacket(fields.pgn)) return { ...fields, data };
    const key = `${fields.pgn}:${fields.src}:${fields.dst}`;
    const counter = data[0] & 0x1f;
    if (counter === 0) {
      if (data.length < 2) throw new Error(`PGN ${fields.pgn}: first fast-packet frame without a length`);
      const length = data[1];
      const m = { ...fields, data: Buffer.alloc(length) };
      const have = data.copy(m.data, 0, 2, Math.min(8, 2 + length));
      return this.progress(key, { m, length, have, next: 1 });
    }
    const p = this.pending.get(key);
    if (!p || counter !== p.next) {
      this.pending.delete(key);
      throw new Error(`PGN ${fields.pgn}: fast-packet frame ${counter} out of sequence`);
    }
    p.have += data.copy(p.m.data, p.have, 1, Math.min(8, 1 + p.length - p.have));
    p.next++;
    return this.progress(key, p);
  }

  private progress(
    key: string,
    p: { m: N2kMessage; length: number; have: number; next: number },
  ): N2kMessage | undefined {
    if (p.have < p.length) {
      this.pending.set(key, p);
      return undefined;
    }
    this.pending.delete(key);
    return p.m;
  }
}
