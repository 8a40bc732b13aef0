// One CAN frame as the HAL passes it around (NMEA 2000 uses 29-bit extended ids only), the
// ISO 11783 fields of its id, and the 16-byte layout plugins read and send through `signalk_hal`:
// u32 LE id, u8 data length, 3 zero bytes, 8 data bytes zero padded (Linux's struct can_frame).

import { lazyModule } from '../lazy-module.js';

/** canboatjs's id rules, loaded with the first frame (its module pulls in lodash). */
const canId = lazyModule<typeof import('@canboat/canboatjs/dist/canId.js')>('@canboat/canboatjs/dist/canId.js');

export interface CanFrame {
  /** 29-bit extended CAN id. */
  id: number;
  /** 0-8 data bytes. */
  data: Uint8Array;
  /** Epoch ms the frame was received, when known. */
  time?: number;
}

export interface CanIdFields {
  pgn: number;
  src: number;
  /** Destination address (PDU1), 255 (global) for PDU2 PGNs. */
  dst: number;
  prio: number;
}

export const FRAME_BYTES = 16;
export const MAX_EXTENDED_ID = 0x1fffffff;
export const MAX_DATA = 8;

/** PGN, source, destination and priority of an id (canboatjs's ISO 11783 PDU1/PDU2 rules). */
export function parseId(id: number): CanIdFields {
  const { pgn, src, dst, prio } = canId().parseCanId(id);
  return { pgn, src, dst, prio };
}

export function pgnOf(id: number): number {
  return canId().parseCanId(id).pgn;
}

/** Whether a frame is one the HAL can carry: an integer 29-bit id and at most 8 data bytes. */
export function isValidFrame(frame: CanFrame): boolean {
  return Number.isInteger(frame.id) && frame.id >= 0 && frame.id <= MAX_EXTENDED_ID && frame.data.length <= MAX_DATA;
}

/**
 * Writes a frame's 16 bytes at `offset`. Frames come from the HAL's drivers, which only deliver
 * valid ones, so an invalid frame here is a bug and throws.
 */
export function encodeFrame(frame: CanFrame, buf: Uint8Array, offset: number): void {
  if (!isValidFrame(frame))
    throw new RangeError(`not a valid CAN frame: id ${frame.id}, ${frame.data.length} data bytes`);
  if (offset < 0 || offset + FRAME_BYTES > buf.length)
    throw new RangeError(`no room for a CAN frame at ${offset} in ${buf.length} bytes`);
  new DataView(buf.buffer, buf.byteOffset, buf.byteLength).setUint32(offset, frame.id, true);
  buf[offset + 4] = frame.data.length;
  buf.fill(0, offset + 5, offset + FRAME_BYTES);
  buf.set(frame.data, offset + 8);
}

/**
 * Reads the 16 bytes at `offset` (untrusted plugin memory): undefined when they do not fit, the id
 * has more than 29 bits or the length is over 8. The data is copied, so the frame outlives `buf`.
 */
export function decodeFrame(buf: Uint8Array, offset: number): CanFrame | undefined {
  if (offset < 0 || offset + FRAME_BYTES > buf.length) return undefined;
  const id = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(offset, true);
  const length = buf[offset + 4];
  if (id > MAX_EXTENDED_ID || length > MAX_DATA) return undefined;
  return { id, data: buf.slice(offset + 8, offset + 8 + length) };
}
