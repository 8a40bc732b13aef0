// HAL result codes and the last error of this plugin. Every SDK call records its raw result, so a
// caller that got null (or a negative number) can ask what happened with lastHalCode() and
// lastHalError().

import { hal_last_error } from './ffi'

export const HAL_OK: i32 = 0
/** Bad argument or pointer (also: a handle used for what it was not opened for). */
export const HAL_INVALID: i32 = -1
/** Not granted: the plugin did not request it, or the operator did not grant it. */
export const HAL_DENIED: i32 = -2
/** No such device, interface or handle. */
export const HAL_NOT_FOUND: i32 = -3
/** Device or broker not connected now, or not configured. */
export const HAL_UNAVAILABLE: i32 = -4
/** The buffer cannot hold the next item; nothing was consumed. */
export const HAL_TOO_SMALL: i32 = -5
/** Too many open handles (16 per plugin). */
export const HAL_LIMIT: i32 = -6
/** The write failed. */
export const HAL_IO: i32 = -7

let lastCode: i32 = HAL_OK

/** Records the raw result of a HAL call (for lastHalCode) and passes it on. */
export function noteResult(rc: i32): i32 {
  lastCode = rc
  return rc
}

/** Raw result of the latest HAL call made through this SDK: >= 0 success, < 0 a HAL_* code. */
export function lastHalCode(): i32 {
  return lastCode
}

/** Short name of a HAL_* code, for status texts. */
export function halErrorName(code: i32): string {
  if (code >= 0) return 'ok'
  if (code == HAL_INVALID) return 'invalid'
  if (code == HAL_DENIED) return 'denied'
  if (code == HAL_NOT_FOUND) return 'not found'
  if (code == HAL_UNAVAILABLE) return 'unavailable'
  if (code == HAL_TOO_SMALL) return 'buffer too small'
  if (code == HAL_LIMIT) return 'too many handles'
  if (code == HAL_IO) return 'i/o error'
  return 'error ' + code.toString()
}

const ERROR_TEXT_MAX: i32 = 1024

/** The host's text for this plugin's last HAL error ('' when there was none). */
export function lastHalError(): string {
  const buf = new ArrayBuffer(ERROR_TEXT_MAX)
  const n = hal_last_error(changetype<usize>(buf), ERROR_TEXT_MAX)
  if (n <= 0) return ''
  return String.UTF8.decodeUnsafe(changetype<usize>(buf), <usize>min(n, ERROR_TEXT_MAX))
}
