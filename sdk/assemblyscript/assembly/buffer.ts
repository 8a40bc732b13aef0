// One scratch buffer for reads: the host writes into it and the SDK copies out what it needs, so a
// plugin that polls often does not allocate a fresh buffer per call. AssemblyScript plugins are
// single threaded and the host never calls back into the plugin during a HAL call, so sharing it
// is safe.

import { HAL_TOO_SMALL, noteResult } from './errors'

let scratch = new ArrayBuffer(512)

export function scratchPtr(): usize {
  return changetype<usize>(scratch)
}

/**
 * Calls `read(handle, buf, max)` into the scratch buffer, doubling the buffer while the host answers
 * HAL_TOO_SMALL, up to `limit` bytes. Returns the host's result (bytes, 0 = nothing, or a HAL_* code).
 */
export function readGrowing(handle: i32, read: (handle: i32, buf: usize, max: i32) => i32, limit: i32): i32 {
  let rc = read(handle, changetype<usize>(scratch), scratch.byteLength)
  while (rc == HAL_TOO_SMALL && scratch.byteLength < limit) {
    scratch = new ArrayBuffer(min(scratch.byteLength * 2, limit))
    rc = read(handle, changetype<usize>(scratch), scratch.byteLength)
  }
  return noteResult(rc)
}

/** Makes sure the scratch buffer holds at least `bytes` (for fixed-size records such as CAN frames). */
export function ensureScratch(bytes: i32): void {
  if (scratch.byteLength < bytes) scratch = new ArrayBuffer(bytes)
}

/** Copies `len` bytes at `offset` of the scratch buffer into a new array. */
export function copyScratch(offset: i32, len: i32): Uint8Array {
  const out = new Uint8Array(len)
  memory.copy(out.dataStart, changetype<usize>(scratch) + <usize>offset, <usize>len)
  return out
}
