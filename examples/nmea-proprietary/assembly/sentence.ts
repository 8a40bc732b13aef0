// NMEA 0183 sentence checks: framing, checksum, fields. Pure functions, no HAL.

export const SENTENCE_OK: i32 = 0
/** No `*hh` checksum (Garmin always sends one, so a line without it is not trusted). */
export const SENTENCE_NO_CHECKSUM: i32 = 1
export const SENTENCE_BAD_CHECKSUM: i32 = 2
/** Not `$...*hh` at all. */
export const SENTENCE_MALFORMED: i32 = 3

export class Sentence {
  status: i32 = SENTENCE_OK
  /** Comma-separated fields between `$` and `*`; fields[0] is the address, e.g. PGRME. */
  fields: string[] = []
}

function hexValue(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x41 && c <= 0x46) return c - 0x37
  if (c >= 0x61 && c <= 0x66) return c - 0x57
  return -1
}

/** Splits `line` into fields after checking its checksum (XOR of the bytes between `$` and `*`). */
export function parseSentence(line: string): Sentence {
  const out = new Sentence()
  let text = line.trim()
  // An NMEA 4.10 tag block (\s:src,c:time*hh\) may precede the sentence.
  if (text.startsWith('\\')) {
    const end = text.indexOf('\\', 1)
    text = end < 0 ? '' : text.substring(end + 1)
  }
  if (text.length < 2 || text.charCodeAt(0) != 0x24 /* $ */) {
    out.status = SENTENCE_MALFORMED
    return out
  }
  const star = text.lastIndexOf('*')
  if (star < 0) {
    out.status = SENTENCE_NO_CHECKSUM
    return out
  }
  if (star != text.length - 3) {
    out.status = SENTENCE_MALFORMED
    return out
  }
  const hi = hexValue(text.charCodeAt(star + 1))
  const lo = hexValue(text.charCodeAt(star + 2))
  if (hi < 0 || lo < 0) {
    out.status = SENTENCE_MALFORMED
    return out
  }
  let sum = 0
  for (let i = 1; i < star; i++) sum ^= text.charCodeAt(i)
  if (sum != ((hi << 4) | lo)) {
    out.status = SENTENCE_BAD_CHECKSUM
    return out
  }
  out.fields = text.substring(1, star).split(',')
  return out
}

/** A non-negative decimal such as `15.0`: its value; NaN for an empty field; -1 for anything else. */
export function parseDecimal(field: string): f64 {
  if (field.length == 0) return NaN
  let dots = 0
  for (let i = 0; i < field.length; i++) {
    const c = field.charCodeAt(i)
    if (c == 0x2e) dots++
    else if (c < 0x30 || c > 0x39) return -1
  }
  if (dots > 1 || field.length == dots) return -1
  return parseFloat(field)
}
