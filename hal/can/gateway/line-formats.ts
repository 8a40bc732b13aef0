// The text formats of NMEA 2000 gateways and logs, one line at a time, parsed with canboatjs's
// string parsers (stringMsg) after a shape check of our own: canboatjs turns bad hex into fewer
// bytes without a word, so a line must look right before it is handed over, and what does not is
// counted by reason, never passed on half-read.

import { isRecord } from '../../../core/json.js';
import { lazyModule } from '../../lazy-module.js';
import type { CanFrame } from '../frame.js';
import { frameId, toFrames, type N2kMessage } from './message.js';

const canboatjs = lazyModule<typeof import('@canboat/canboatjs')>('@canboat/canboatjs');
const stringMsg = lazyModule<typeof import('@canboat/canboatjs/dist/stringMsg.js')>(
  '@canboat/canboatjs/dist/stringMsg.js',
);

export type LineFormat = 'actisense-ascii' | 'ydwg-raw' | 'ikonvert' | 'n2k-log';

export type LineResult =
  | { kind: 'frames'; frames: CanFrame[] }
  /** Gateway chatter (iKonvert status lines, Actisense's own PGNs): nothing for the bus, not an error either. */
  | { kind: 'none' }
  | { kind: 'error'; reason: 'garbage' | 'truncated' | 'unparsed'; detail: string };

const HEX2 = '[0-9A-Fa-f]{2}';
/** W2K-1 N2K ASCII: `A173321.107 23FF7 1F513 012F3070002F30709F`. */
const ACTISENSE_ASCII = new RegExp(`^A\\d{6}\\.\\d{3} [0-9A-Fa-f]{5} [0-9A-Fa-f]{5} (?:${HEX2})+$`);
/** Yacht Devices RAW, received (R) or sent by the gateway (T): `16:29:27.082 R 09F8017F 50 C3 B8 13 47 D8 2B C6`. */
const YDWG_RAW = new RegExp(`^\\d{2}:\\d{2}:\\d{2}\\.\\d{3} [RT] [0-9A-Fa-f]{8}(?: ${HEX2}){1,8}$`);
/** iKonvert data: `!PDGY,<pgn>,<prio>,<src>,<dst>,<timer>,<base64>`. */
const IKONVERT = /^!PDGY,\d{1,6},\d,\d{1,3},\d{1,3},[0-9.]+,[A-Za-z0-9+/]+={0,2}$/;
/** canboat's plain format (Actisense text): `2014-08-15T19:00:00.045Z,3,129033,160,255,8,a9,...`. */
const PLAIN = new RegExp(`^[^,]+,\\d,\\d{1,6},\\d{1,3},\\d{1,3},\\d{1,4}(?:,${HEX2})*$`);

function clip(line: string): string {
  return JSON.stringify(line.length > 100 ? `${line.slice(0, 100)}...` : line);
}

/** canboatjs's parse result checked at the edge: ids in range, data a Buffer. */
function message(parsed: unknown, line: string): N2kMessage | LineResult {
  if (!isRecord(parsed) || parsed.error !== undefined || !Buffer.isBuffer(parsed.data)) {
    const why = isRecord(parsed) && parsed.error instanceof Error ? parsed.error.message : 'no data';
    return { kind: 'error', reason: 'unparsed', detail: `${why} in ${clip(line)}` };
  }
  const { prio, pgn, src, dst } = parsed;
  for (const [name, v, max] of [
    ['prio', prio, 7],
    ['pgn', pgn, 0x3ffff],
    ['src', src, 255],
    ['dst', dst, 255],
  ] as const) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max)
      return { kind: 'error', reason: 'unparsed', detail: `${name} out of range in ${clip(line)}` };
  }
  return { prio: prio as number, pgn: pgn as number, src: src as number, dst: dst as number, data: parsed.data };
}

/** Actisense's own PGNs (0x40000 and up: its status, its configuration) are the gateway's, never on the bus. */
const GATEWAY_PGNS = 0x40000;

function messageFrames(parsed: unknown, line: string, time: number): LineResult {
  if (isRecord(parsed) && typeof parsed.pgn === 'number' && parsed.pgn >= GATEWAY_PGNS && parsed.pgn <= 0xfffff)
    return { kind: 'none' };
  const m = message(parsed, line);
  return 'kind' in m ? m : { kind: 'frames', frames: toFrames(m, time) };
}

/** A single bus frame (Yacht Devices RAW, candump): passed on as it is. */
function busFrame(parsed: unknown, line: string, time: number): LineResult {
  const m = message(parsed, line);
  if ('kind' in m) return m;
  if (m.data.length > 8)
    return {
      kind: 'error',
      reason: 'unparsed',
      detail: `a CAN frame carries at most 8 bytes, got ${m.data.length} in ${clip(line)}`,
    };
  // The frame's own id where canboatjs kept it (YD RAW), else rebuilt from its fields (candump).
  const id = isRecord(parsed) && typeof parsed.canId === 'number' ? parsed.canId : frameId(m);
  return { kind: 'frames', frames: [{ id, data: m.data, time }] };
}

/** A canboat analyzer JSON line (`{"pgn":...,"src":...,"fields":{...}}`), encoded with canboatjs's toPgn. */
function jsonLine(line: string, time: number): LineResult {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch (err) {
    return { kind: 'error', reason: 'garbage', detail: `${(err as Error).message} in ${clip(line)}` };
  }
  if (!isRecord(obj) || typeof obj.pgn !== 'number')
    return { kind: 'error', reason: 'unparsed', detail: `no pgn in ${clip(line)}` };
  let data: Buffer | undefined;
  try {
    data = canboatjs().toPgn(obj);
  } catch (err) {
    return { kind: 'error', reason: 'unparsed', detail: `${(err as Error).message} in ${clip(line)}` };
  }
  if (!data)
    return {
      kind: 'error',
      reason: 'unparsed',
      detail: `PGN ${obj.pgn} is not in canboat's PGN database in ${clip(line)}`,
    };
  return messageFrames({ prio: obj.prio ?? 3, pgn: obj.pgn, src: obj.src ?? 0, dst: obj.dst ?? 255, data }, line, time);
}

/** A line of a canboat log in any format canboatjs reads (plain, YD RAW, iKonvert, PCDIN, MXPGN, candump, N2K ASCII) or JSON. */
function logLine(line: string, time: number): LineResult {
  if (line.startsWith('{')) return jsonLine(line, time);
  const s = stringMsg();
  if (s.isActisense(line)) {
    if (!PLAIN.test(line))
      return { kind: 'error', reason: 'garbage', detail: `not a plain canboat line: ${clip(line)}` };
    const parsed: unknown = s.parseActisense(line);
    if (isRecord(parsed) && Buffer.isBuffer(parsed.data) && parsed.len !== parsed.data.length) {
      return {
        kind: 'error',
        reason: 'truncated',
        detail: `${String(parsed.len)} bytes announced, ${parsed.data.length} present in ${clip(line)}`,
      };
    }
    return messageFrames(parsed, line, time);
  }
  if (s.isYDRAW(line))
    return YDWG_RAW.test(line)
      ? busFrame(s.parseYDRAW(line), line, time)
      : { kind: 'error', reason: 'garbage', detail: clip(line) };
  if (s.isActisenseN2KASCII(line))
    return ACTISENSE_ASCII.test(line)
      ? messageFrames(s.parseActisenseN2KASCII(line), line, time)
      : { kind: 'error', reason: 'garbage', detail: clip(line) };
  const parsed: unknown = s.parseN2kString(line);
  const format = isRecord(parsed) ? parsed.format : undefined;
  if (format === 'MISSING_PARSER' || format === 'INVALID')
    return { kind: 'error', reason: 'garbage', detail: `no N2K format in ${clip(line)}` };
  if (format === 'PDGYdebug') return { kind: 'none' };
  return typeof format === 'string' && format.startsWith('candump')
    ? busFrame(parsed, line, time)
    : messageFrames(parsed, line, time);
}

/** Decodes one line of `format` into the bus frames it stands for. Never throws. */
export function decodeLine(format: LineFormat, line: string, time: number): LineResult {
  try {
    const s = stringMsg();
    switch (format) {
      case 'actisense-ascii':
        return ACTISENSE_ASCII.test(line)
          ? messageFrames(s.parseActisenseN2KASCII(line), line, time)
          : { kind: 'error', reason: 'garbage', detail: `not an Actisense N2K ASCII line: ${clip(line)}` };
      case 'ydwg-raw':
        return YDWG_RAW.test(line)
          ? busFrame(s.parseYDRAW(line), line, time)
          : { kind: 'error', reason: 'garbage', detail: `not a Yacht Devices RAW line: ${clip(line)}` };
      case 'ikonvert':
        if (line.startsWith('$PDGY,')) return { kind: 'none' };
        return IKONVERT.test(line)
          ? messageFrames(s.parsePDGY(line), line, time)
          : { kind: 'error', reason: 'garbage', detail: `not an iKonvert !PDGY line: ${clip(line)}` };
      case 'n2k-log':
        return logLine(line, time);
    }
  } catch (err) {
    return { kind: 'error', reason: 'unparsed', detail: `${(err as Error).message} in ${clip(line)}` };
  }
}

/** The line a Yacht Devices gateway transmits a frame for: `<id> <bytes>` (its RAW output format). */
export function encodeYdwgRaw(frame: CanFrame): string {
  const hex = [...frame.data].map((b) => b.toString(16).padStart(2, '0').toUpperCase());
  return `${frame.id.toString(16).padStart(8, '0').toUpperCase()} ${hex.join(' ')}\r\n`;
}

/** The line a W2K-1 transmits a whole message for: N2K ASCII (canboatjs's encodeActisenseN2KACSII). */
export function encodeActisenseAscii(m: N2kMessage): string {
  return `${stringMsg().encodeActisenseN2KACSII({ pgn: m.pgn, data: m.data, dst: m.dst, src: m.src, prio: m.prio })}\r\n`;
}

/** The line an iKonvert transmits a whole message for: `!PDGY,<pgn>,<dst>,<base64>` (canboatjs's encodePDGY). */
export function encodeIkonvert(m: N2kMessage): string {
  return `${stringMsg().encodePDGY({ pgn: m.pgn, dst: m.dst, data: m.data })}\r\n`;
}
