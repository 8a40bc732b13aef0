// Structural checks of one framed NMEA 0183 line before it reaches the parser library, so bad
// input is classified by what is wrong with it rather than by the library's exception text.
//
// The library (validateChecksum on, its default) throws `Sentence "..." is invalid` both for a
// wrong checksum and for a missing one, and with validation off it parses whatever it is given,
// emitting NaN for fields cut off by a truncated line. Hence the checks here, after which the
// library runs with its own validation off.

export type SentenceFault = 'checksum' | 'truncated' | 'garbage';

export type SentenceCheck =
  | {
      ok: true;
      sentence: string;
      /** The header (`$GPRMC`) is `sentence.slice(headerStart, headerEnd)`. */
      headerStart: number;
      headerEnd: number;
      /** One number per header (base 37: the start character as 1 or 2, then digits 1–36): a map key without cutting and hashing it. */
      headerId: number;
    }
  | { ok: false; reason: SentenceFault; detail: string };

/** XOR of the characters between the start character and `end` (exclusive), as NMEA 0183 defines it. */
export function nmeaChecksum(text: string, start = 1, end = text.length): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum ^= text.charCodeAt(i);
  return sum;
}

/** Appends `*hh` to a sentence without a checksum. */
export function withChecksum(sentence: string): string {
  return `${sentence}*${nmeaChecksum(sentence).toString(16).toUpperCase().padStart(2, '0')}`;
}

const HEX = /^[0-9A-Fa-f]*$/;
const TAIL_WITH_CHECKSUM = /\*[0-9A-Fa-f]{2}$/;

function fault(reason: SentenceFault, detail: string): SentenceCheck {
  return { ok: false, reason, detail };
}

/** The value of a hex digit's character code, or -1. */
function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/** A header character after the start character (`GPRMC`, `PGRME`: A-Z, 0-9) as 1..36, else 0. */
function headerDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30 + 1;
  return c >= 0x41 && c <= 0x5a ? c - 0x41 + 11 : 0;
}

/**
 * Checks one line: optional NMEA 4 tag block, start character, no second sentence run into it,
 * a two-digit hex checksum that matches, a well-formed header. A line without a checksum counts
 * as truncated: that is what a cut-off line looks like, and a talker that never sends checksums
 * is refused as signalk-server refuses it by default. Every line passes here, so a good one is
 * checked in one scan of its characters (no regular expressions, no substrings).
 */
export function checkSentence(line: string): SentenceCheck {
  let from = 0;
  if (line.charCodeAt(0) === 0x5c /* \ */) {
    const close = line.indexOf('\\', 1);
    if (close < 0) return fault('truncated', 'tag block without its closing backslash');
    from = close + 1;
  }
  const first = line.charCodeAt(from);
  if (first !== 0x24 /* $ */ && first !== 0x21 /* ! */) {
    return TAIL_WITH_CHECKSUM.test(line.slice(from))
      ? fault('truncated', 'the start of the sentence is missing')
      : fault('garbage', 'not an NMEA 0183 sentence');
  }
  // One pass over the data: its checksum, where the header ends, and whether a start character
  // of another sentence lies inside it.
  let sum = 0;
  let comma = -1;
  let star = -1;
  let restart = false;
  for (let i = from + 1; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 0x2a /* * */) {
      star = i;
      break;
    }
    if (c === 0x24 || c === 0x21) restart = true;
    else if (c === 0x2c /* , */ && comma < 0) comma = i;
    sum ^= c;
  }
  if (restart) return fault('truncated', 'another sentence starts inside this one (line end lost)');
  if (star < 0) return fault('truncated', 'ends without a checksum');
  const hi = hexDigit(line.charCodeAt(star + 1));
  const lo = hexDigit(line.charCodeAt(star + 2));
  if (line.length !== star + 3 || hi < 0 || lo < 0) {
    const given = line.slice(star + 1);
    if (given.length < 2 && HEX.test(given)) return fault('truncated', 'checksum cut short');
    return fault('garbage', `malformed checksum ${JSON.stringify(given.slice(0, 8))}`);
  }
  const given = hi * 16 + lo;
  if (given !== sum) {
    return fault(
      'checksum',
      `checksum ${line.slice(star + 1).toUpperCase()}, computed ${sum.toString(16).toUpperCase().padStart(2, '0')}`,
    );
  }
  const end = comma < 0 ? star : comma;
  let wellFormed = end - from - 1 >= 4 && end - from - 1 <= 9;
  // At most 2 × 37^9 < 2^53: exact.
  let headerId = first === 0x24 ? 1 : 2;
  for (let i = from + 1; wellFormed && i < end; i++) {
    const digit = headerDigit(line.charCodeAt(i));
    wellFormed = digit > 0;
    headerId = headerId * 37 + digit;
  }
  if (!wellFormed)
    return fault('garbage', `malformed header ${JSON.stringify(line.slice(from, Math.min(end, from + 12)))}`);
  return { ok: true, sentence: line, headerStart: from, headerEnd: end, headerId };
}
