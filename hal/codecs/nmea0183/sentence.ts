// Structural checks of one framed NMEA 0183 line before it reaches the parser library, so bad
// input is classified by what is wrong with it rather than by the library's exception text.
//
// The library (validateChecksum on, its default) throws `Sentence "..." is invalid` both for a
// wrong checksum and for a missing one, and with validation off it parses whatever it is given,
// emitting NaN for fields cut off by a truncated line. Hence the checks here, after which the
// library runs with its own validation off.

export type SentenceFault = 'checksum' | 'truncated' | 'garbage';

export type SentenceCheck =
  { ok: true; sentence: string; header: string } | { ok: false; reason: SentenceFault; detail: string };

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
// Talker + type (`GPRMC`), proprietary (`PGRME`) or query (`GPECQ`): letters and digits.
const HEADER = /^[$!][A-Z0-9]{4,9}$/;

function fault(reason: SentenceFault, detail: string): SentenceCheck {
  return { ok: false, reason, detail };
}

/**
 * Checks one line: optional NMEA 4 tag block, start character, no second sentence run into it,
 * a two-digit hex checksum that matches, a well-formed header. A line without a checksum counts
 * as truncated: that is what a cut-off line looks like, and a talker that never sends checksums
 * is refused as signalk-server refuses it by default.
 */
export function checkSentence(line: string): SentenceCheck {
  let body = line;
  if (line.charCodeAt(0) === 0x5c /* \ */) {
    const close = line.indexOf('\\', 1);
    if (close < 0) return fault('truncated', 'tag block without its closing backslash');
    body = line.slice(close + 1);
  }
  const first = body.charAt(0);
  if (first !== '$' && first !== '!') {
    return TAIL_WITH_CHECKSUM.test(body)
      ? fault('truncated', 'the start of the sentence is missing')
      : fault('garbage', 'not an NMEA 0183 sentence');
  }
  const star = body.indexOf('*');
  const data = star < 0 ? body : body.slice(0, star);
  if (data.indexOf('$', 1) >= 0 || data.indexOf('!', 1) >= 0) {
    return fault('truncated', 'another sentence starts inside this one (line end lost)');
  }
  if (star < 0) return fault('truncated', 'ends without a checksum');
  const given = body.slice(star + 1);
  if (given.length < 2 && HEX.test(given)) return fault('truncated', 'checksum cut short');
  if (given.length !== 2 || !HEX.test(given))
    return fault('garbage', `malformed checksum ${JSON.stringify(given.slice(0, 8))}`);
  const expected = nmeaChecksum(body, 1, star);
  if (parseInt(given, 16) !== expected) {
    return fault(
      'checksum',
      `checksum ${given.toUpperCase()}, computed ${expected.toString(16).toUpperCase().padStart(2, '0')}`,
    );
  }
  const comma = data.indexOf(',');
  const header = comma < 0 ? data : data.slice(0, comma);
  if (!HEADER.test(header)) return fault('garbage', `malformed header ${JSON.stringify(header.slice(0, 12))}`);
  return { ok: true, sentence: line, header };
}
