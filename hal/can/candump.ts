// candump (can-utils) log lines → CAN frames. Three formats:
//   `candump -l` / `-L`:  (1502984866.421964) can0 09F8012B#F12B6B1B8E5E36FF
//   plain `candump`:        can0  09F8012B   [8]  F1 2B 6B 1B 8E 5E 36 FF
//   `candump -ta`:         (1502984866.421964)  can0  09F8012B   [8]  F1 2B 6B 1B 8E 5E 36 FF
// (an `-a` ASCII column after the bytes is ignored). Blank lines and `#` comments carry nothing.
// Never throws: a line that is not a frame says why, as `malformed` (not candump) or `unsupported`
// (a real candump frame NMEA 2000 has no use for: 11-bit id, remote request, error or CAN FD frame).

import { MAX_DATA, MAX_EXTENDED_ID, type CanFrame } from './frame.js';

export type CandumpFault = 'malformed' | 'unsupported';

export type CandumpLine =
  | { kind: 'frame'; iface: string; frame: CanFrame }
  | { kind: 'none' }
  | { kind: 'error'; reason: CandumpFault; detail: string };

const NONE: CandumpLine = { kind: 'none' };
const TIME = /^\((\d+\.\d+)\)$/;
const SECONDS = /^\d+\.\d+$/;
const HEX = /^[0-9A-Fa-f]+$/;
const BYTE = /^[0-9A-Fa-f]{2}$/;
const LENGTH = /^\[(\d{1,2})\]$/;
const CAN_ERR_FLAG = 0x20000000;

function malformed(detail: string): CandumpLine {
  return { kind: 'error', reason: 'malformed', detail };
}

function unsupported(detail: string): CandumpLine {
  return { kind: 'error', reason: 'unsupported', detail };
}

/** The 29-bit id of an id field, or why not. */
function extendedId(text: string): number | CandumpLine {
  if (!HEX.test(text)) return malformed(`CAN id ${JSON.stringify(text)} is not hex`);
  if (text.length === 3) return unsupported(`11-bit CAN id ${text} (NMEA 2000 uses 29-bit ids)`);
  if (text.length !== 8) return malformed(`CAN id ${JSON.stringify(text)} has neither 3 nor 8 hex digits`);
  const id = parseInt(text, 16);
  if (id & CAN_ERR_FLAG) return unsupported(`error frame ${text}`);
  if (id > MAX_EXTENDED_ID) return malformed(`CAN id ${text} has flag bits set`);
  return id;
}

/** `ID#DATA` of the log format. */
function logFrame(text: string): { id: number; data: Uint8Array } | CandumpLine {
  const hash = text.indexOf('#');
  const id = extendedId(text.slice(0, hash));
  if (typeof id !== 'number') return id;
  let payload = text.slice(hash + 1);
  if (payload.startsWith('#')) return unsupported('CAN FD frame');
  if (payload.startsWith('R') || payload.startsWith('r')) return unsupported('remote request frame');
  // `_<dlc>` is the classic frame's raw DLC (9-15) when it exceeds the data; the data is what counts.
  const dlc = payload.indexOf('_');
  if (dlc >= 0) payload = payload.slice(0, dlc);
  if (payload !== '' && !HEX.test(payload)) return malformed(`data ${JSON.stringify(payload)} is not hex`);
  if (payload.length % 2 !== 0) return malformed(`data ${payload} has an odd number of hex digits`);
  if (payload.length > MAX_DATA * 2)
    return malformed(`data has ${payload.length / 2} bytes, at most ${MAX_DATA} fit a CAN frame`);
  const data = new Uint8Array(payload.length / 2);
  for (let i = 0; i < data.length; i++) data[i] = parseInt(payload.slice(2 * i, 2 * i + 2), 16);
  return { id, data };
}

/** `ID [n] b0 b1 ...` of the plain formats. */
function plainFrame(tokens: string[]): { id: number; data: Uint8Array } | CandumpLine {
  const id = extendedId(tokens[0]);
  if (typeof id !== 'number') return id;
  const length = LENGTH.exec(tokens[1] ?? '');
  if (!length) return malformed(`expected a length like [8] after the id, got ${JSON.stringify(tokens[1] ?? '')}`);
  const n = Number(length[1]);
  if (tokens[2] === 'remote') return unsupported('remote request frame');
  if (n > MAX_DATA || length[1].length === 2) return unsupported(`CAN FD frame of ${n} bytes`);
  const bytes = tokens.slice(2, 2 + n);
  if (bytes.length < n) return malformed(`[${n}] but only ${bytes.length} data bytes`);
  const bad = bytes.find((b) => !BYTE.test(b));
  if (bad !== undefined) return malformed(`data byte ${JSON.stringify(bad)} is not two hex digits`);
  const rest = tokens.slice(2 + n);
  if (rest.length > 0 && !rest[0].startsWith("'"))
    return malformed(`unexpected ${JSON.stringify(rest.join(' '))} after ${n} data bytes`);
  return { id, data: Uint8Array.from(bytes, (b) => parseInt(b, 16)) };
}

/** The value of a hex digit's char code, -1 for any other character. */
function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x57 : -1;
}

/**
 * `(seconds.fraction) iface ID#DATA` of `candump -l`, the format of recordings and replays, read
 * without splitting the line: 8-digit id, 0-16 data digits, single spaces. undefined for
 * anything else (the general parser then reads the line and says what is wrong with it).
 */
function fastLogLine(line: string): CandumpLine | undefined {
  if (line.charCodeAt(0) !== 0x28) return undefined;
  const close = line.indexOf(') ', 1);
  const space = close < 0 ? -1 : line.indexOf(' ', close + 2);
  const hash = space + 9;
  if (space <= close + 2 || line.charCodeAt(hash) !== 0x23) return undefined;
  let id = 0;
  for (let i = space + 1; i < hash; i++) {
    const v = hexValue(line.charCodeAt(i));
    if (v < 0) return undefined;
    id = id * 16 + v;
  }
  if (id & CAN_ERR_FLAG || id > MAX_EXTENDED_ID) return undefined;
  const digits = line.length - hash - 1;
  if (digits % 2 !== 0 || digits > MAX_DATA * 2) return undefined;
  const data = new Uint8Array(digits / 2);
  for (let i = 0, at = hash + 1; i < data.length; i++, at += 2) {
    const hi = hexValue(line.charCodeAt(at));
    const lo = hexValue(line.charCodeAt(at + 1));
    if (hi < 0 || lo < 0) return undefined;
    data[i] = hi * 16 + lo;
  }
  const stamp = line.slice(1, close);
  if (!SECONDS.test(stamp)) return undefined;
  return { kind: 'frame', iface: line.slice(close + 2, space), frame: { id, data, time: Number(stamp) * 1000 } };
}

export function parseCandumpLine(line: string): CandumpLine {
  const fast = fastLogLine(line);
  if (fast) return fast;
  const tokens = line.trim().split(/\s+/);
  if (tokens[0] === '' || tokens[0].startsWith('#')) return NONE;
  let time: number | undefined;
  const stamp = TIME.exec(tokens[0]);
  if (stamp) {
    time = Number(stamp[1]) * 1000;
    tokens.shift();
  } else if (tokens[0].startsWith('(')) {
    return malformed(`timestamp ${JSON.stringify(tokens[0])} is not (seconds.fraction)`);
  }
  const iface = tokens.shift();
  if (iface === undefined || tokens.length === 0) return malformed('no CAN frame after the interface name');
  const parsed = tokens.length === 1 && tokens[0].includes('#') ? logFrame(tokens[0]) : plainFrame(tokens);
  if ('kind' in parsed) return parsed;
  const frame: CanFrame = time === undefined ? parsed : { ...parsed, time };
  return { kind: 'frame', iface, frame };
}

/** The frames of a candump text, in order; lines that are not frames (blank, comments, faults) are left out. */
export function candumpFrames(text: string): CanFrame[] {
  return text.split(/\r?\n/).flatMap((line) => {
    const parsed = parseCandumpLine(line);
    return parsed.kind === 'frame' ? [parsed.frame] : [];
  });
}

/** One frame as a `candump -l` line (no line end), stamped `seconds` (epoch seconds). */
export function candumpLogLine(frame: CanFrame, seconds: number, iface: string): string {
  const data = Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength).toString('hex');
  return `(${seconds.toFixed(6)}) ${iface} ${frame.id.toString(16).toUpperCase().padStart(8, '0')}#${data.toUpperCase()}`;
}
