// CAN (NMEA 2000) through the HAL. Reading needs `can:<iface>` (every PGN) or
// `can:<iface>:<pgn>,<pgn>` (only those); sending needs `can:<iface>:write`.

import { can_close, can_open, can_read, can_send } from './ffi'
import { noteResult } from './errors'
import { ensureScratch, scratchPtr } from './buffer'

/** Size of one frame record in can_read / can_send buffers. */
export const CAN_FRAME_BYTES: i32 = 16
/** Frames fetched per can_read call while draining. */
const FRAMES_PER_READ: i32 = 64

/**
 * One CAN frame with a 29-bit extended id. Record layout (16 bytes): u32 LE id, u8 data length,
 * 3 zero bytes, 8 data bytes (zero padded).
 */
export class CanFrame {
  constructor(readonly id: u32, readonly data: Uint8Array) {}

  /** A frame carrying `pgn` (ISO 11783 / NMEA 2000 id layout). */
  static forPgn(pgn: u32, data: Uint8Array, priority: u32 = 6, source: u32 = 0, destination: u32 = 255): CanFrame {
    const pf = (pgn >> 8) & 0xff
    let id = ((priority & 7) << 26) | ((pgn & 0x3ffff) << 8) | (source & 0xff)
    // PDU1 (PF < 240): the low byte of the PGN field is the destination address.
    if (pf < 240) id = (id & ~(<u32>0xff00)) | ((destination & 0xff) << 8)
    return new CanFrame(id, data)
  }

  get priority(): u32 {
    return (this.id >> 26) & 7
  }

  get pgn(): u32 {
    const pgn = (this.id >> 8) & 0x3ffff
    return ((pgn >> 8) & 0xff) < 240 ? pgn & 0x3ff00 : pgn
  }

  get source(): u32 {
    return this.id & 0xff
  }

  /** 255 (global) for PDU2 PGNs, which have no destination. */
  get destination(): u32 {
    return ((this.id >> 16) & 0xff) < 240 ? (this.id >> 8) & 0xff : 255
  }
}

function decodeFrame(at: usize): CanFrame {
  const len = <i32>min(load<u8>(at, 4), 8)
  const data = new Uint8Array(len)
  memory.copy(data.dataStart, at + 8, <usize>len)
  return new CanFrame(load<u32>(at), data)
}

export class CanChannel {
  constructor(readonly handle: i32, readonly iface: string) {}

  /**
   * Opens `iface` (e.g. can0, or a board alias). `pgns` limits what arrives (within the grant);
   * null = every granted PGN. Null when refused: see lastHalCode() and lastHalError().
   */
  static open(iface: string, pgns: u32[] | null = null): CanChannel | null {
    const name = String.UTF8.encode(iface)
    let rc: i32
    if (pgns === null) {
      rc = can_open(changetype<usize>(name), name.byteLength, 0, 0)
    } else {
      const list = String.UTF8.encode('[' + pgns.join(',') + ']')
      rc = can_open(changetype<usize>(name), name.byteLength, changetype<usize>(list), list.byteLength)
    }
    noteResult(rc)
    return rc < 0 ? null : new CanChannel(rc, iface)
  }

  /** Every frame pending now, oldest first (empty when none or on error: see lastHalCode()). */
  read(): CanFrame[] {
    const frames = new Array<CanFrame>()
    const bytes = FRAMES_PER_READ * CAN_FRAME_BYTES
    ensureScratch(bytes)
    for (;;) {
      const n = noteResult(can_read(this.handle, scratchPtr(), bytes))
      if (n <= 0) break
      const base = scratchPtr()
      for (let i = 0; i < n; i++) frames.push(decodeFrame(base + <usize>(i * CAN_FRAME_BYTES)))
      if (n < FRAMES_PER_READ) break
    }
    return frames
  }

  /** Sends one frame; 0 or a HAL_* code. More than 8 data bytes is refused by the host. */
  send(frame: CanFrame): i32 {
    const rec = new ArrayBuffer(CAN_FRAME_BYTES)
    const at = changetype<usize>(rec)
    store<u32>(at, frame.id)
    store<u8>(at, <u8>min(frame.data.length, 255), 4)
    memory.copy(at + 8, frame.data.dataStart, <usize>min(frame.data.length, 8))
    return noteResult(can_send(this.handle, at, CAN_FRAME_BYTES))
  }

  close(): i32 {
    return noteResult(can_close(this.handle))
  }
}
