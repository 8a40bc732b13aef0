// Serial ports through the HAL. Needs `serial:<device>` (read) or `serial:<device>:write` in the
// plugin's package.json `signalkEdge.requests`, granted by the operator.

import { serial_close, serial_open, serial_read, serial_write } from './ffi'
import { noteResult } from './errors'
import { copyScratch, readGrowing, scratchPtr } from './buffer'

/** Mode bit: the host frames NMEA 0183 lines (one line per read, without CR/LF); else raw bytes. */
export const SERIAL_LINES: i32 = 1
/** Mode bit: open for writing too (needs a write grant). */
export const SERIAL_WRITE: i32 = 2

/** Longest line readLine() makes room for; NMEA 0183 allows 82 characters. */
const MAX_LINE_BYTES: i32 = 64 * 1024

export class SerialPort {
  constructor(readonly handle: i32, readonly device: string) {}

  /**
   * Opens `device` (a path such as /dev/ttyUSB0 or a board alias such as nmea1). `mode` is
   * SERIAL_LINES and/or SERIAL_WRITE; `baud` 0 keeps the configured or default speed.
   * Null when refused: see lastHalCode() and lastHalError().
   */
  static open(device: string, mode: i32 = SERIAL_LINES, baud: i32 = 0): SerialPort | null {
    const name = String.UTF8.encode(device)
    const rc = noteResult(serial_open(changetype<usize>(name), name.byteLength, mode, baud))
    return rc < 0 ? null : new SerialPort(rc, device)
  }

  /** Lines mode: the next line, or null when none is pending or on error (lastHalCode() < 0). */
  readLine(): string | null {
    const n = readGrowing(this.handle, (h: i32, buf: usize, max: i32): i32 => serial_read(h, buf, max), MAX_LINE_BYTES)
    if (n <= 0) return null
    return String.UTF8.decodeUnsafe(scratchPtr(), <usize>n)
  }

  /** Lines mode: the next line as bytes, or null (as readLine). */
  readLineBytes(): Uint8Array | null {
    const n = readGrowing(this.handle, (h: i32, buf: usize, max: i32): i32 => serial_read(h, buf, max), MAX_LINE_BYTES)
    return n <= 0 ? null : copyScratch(0, n)
  }

  /** Raw mode: fills `buf` with what is pending; bytes read, 0 when nothing, or a HAL_* code. */
  read(buf: Uint8Array): i32 {
    return noteResult(serial_read(this.handle, buf.dataStart, buf.length))
  }

  /** Writes `text` as UTF-8 (add "\r\n" yourself for NMEA); bytes written or a HAL_* code. */
  write(text: string): i32 {
    const data = String.UTF8.encode(text)
    return noteResult(serial_write(this.handle, changetype<usize>(data), data.byteLength))
  }

  writeBytes(data: Uint8Array): i32 {
    return noteResult(serial_write(this.handle, data.dataStart, data.length))
  }

  close(): i32 {
    return noteResult(serial_close(this.handle))
  }
}
