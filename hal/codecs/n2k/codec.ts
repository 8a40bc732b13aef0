// CAN frame → NMEA 2000 PGN → Signal K delta. canboatjs's FromPgn does the PGN semantics and
// fast-packet reassembly (fed frame by frame exactly as its own SocketCAN stream feeds it);
// @signalk/n2k-signalk's N2kMapper maps PGNs to Signal K paths. One codec per source: both keep
// per-device state (partial fast packets, device metadata). Never throws.

import type { FromPgn } from '@canboat/canboatjs';
import type { N2kMapper } from '@signalk/n2k-signalk';
import { lazyModule } from '../../lazy-module.js';
import type { Codec } from '../codec.js';
import type { Delta, PathValue, Update } from '../../../core/delta.js';
import { isRecord, type JsonValue } from '../../../core/json.js';
import { parseId, type CanFrame } from '../../can/frame.js';

/** Why a frame produced no delta and counts as an error. */
export type N2kCodecError = 'fast-packet' | 'unparsed' | 'invalid';
/** Why a decoded message produced no delta without being an error. */
export type N2kCodecSkip = 'unknown-pgn' | 'no-values';

export type N2kDecodeResult =
  | { kind: 'delta'; delta: Delta; pgn: number }
  /** A fast-packet frame taken in; the message completes with a later frame. */
  | { kind: 'pending'; pgn: number }
  | { kind: 'error'; reason: N2kCodecError; detail: string }
  | { kind: 'skip'; reason: N2kCodecSkip; detail: string };


/**
 * A mapped value as it goes on the wire in signalk-server, which sends the same mapper output as
 * JSON: "not available" fields come out of canboatjs as NaN, and inside an object (attitude's
 * yaw/pitch/roll) JSON turns them into null and drops undefined members; a Date becomes its
 * toJSON() text. undefined when nothing is left to send.
 */
function wireValue(v: unknown, depth = 0): JsonValue | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string' || typeof v === 'boolean' || v === null) return v;
  if (depth > 32 || typeof v !== 'object') return undefined;
  if ('toJSON' in v && typeof v.toJSON === 'function') return wireValue(v.toJSON(), depth + 1);
  if (Array.isArray(v)) return v.map((x) => wireValue(x, depth + 1) ?? null);
  const out: { [key: string]: JsonValue } = {};
  for (const [k, x] of Object.entries(v)) {
    const w = wireValue(x, depth + 1);
    if (w !== undefined) out[k] = w;
  }
  return out;
}

/**
 * The path values worth publishing: a value that is not available as a whole is left out. What
 * comes out is JSON data by construction (no NaN, bounded depth), so the bus takes these deltas
 * as trusted (`DeltaBus.publishTrusted`).
 */
function wireValues(values: unknown[]): PathValue[] {
  const out: PathValue[] = [];
  for (const pv of values) {
    if (!isRecord(pv) || typeof pv.path !== 'string' || (typeof pv.value === 'number' && !Number.isFinite(pv.value))) continue;
    const value = wireValue(pv.value);
    if (value !== undefined) out.push({ path: pv.path, value });
  }
  return out;
}

const canboatjs = lazyModule<typeof import('@canboat/canboatjs')>('@canboat/canboatjs');
const n2kSignalk = lazyModule<typeof import('@signalk/n2k-signalk')>('@signalk/n2k-signalk');

export class N2kCodec implements Codec<CanFrame> {
  private readonly parser: FromPgn = new (canboatjs().FromPgn)({});
  private readonly mapper: N2kMapper = new (n2kSignalk().N2kMapper)({});
  /** Set by the parser's events during one synchronous parse() call. */
  private unknown = false;

  /** `label` becomes `source.label` of every delta, so `$source` reads `<label>.<src>`. */
  constructor(readonly label: string) {
    this.parser.on('warning', () => {
      this.unknown = true;
    });
    // Parse failures also arrive through parse()'s callback; without a listener, EventEmitter would throw.
    this.parser.on('error', () => {});
  }

  decode(frame: CanFrame): N2kDecodeResult {
    const id = parseId(frame.id);
    const data = Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength);
    const header: Record<string, unknown> = { ...id };
    if (frame.time !== undefined) header.timestamp = new Date(frame.time);
    this.unknown = false;
    let failure: unknown;
    let message: unknown;
    try {
      message = this.parser.parse({ pgn: header, length: data.length, data }, (err: unknown) => {
        if (err) failure = err;
      });
    } catch (err) {
      failure = err;
    }
    if (failure !== undefined) {
      const text = failure instanceof Error ? failure.message : String(failure);
      // canboatjs reports a fast-packet frame out of sequence (a lost frame, or a log starting mid-message) this way.
      if (text.startsWith('Could not parse')) return { kind: 'error', reason: 'fast-packet', detail: `PGN ${id.pgn} from ${id.src}: frame out of sequence` };
      return { kind: 'error', reason: 'unparsed', detail: `PGN ${id.pgn} from ${id.src}: ${text}` };
    }
    if (!isRecord(message)) {
      if (this.unknown) return { kind: 'skip', reason: 'unknown-pgn', detail: `PGN ${id.pgn} is not in canboat's PGN database` };
      return { kind: 'pending', pgn: id.pgn };
    }
    return this.map(message, id.pgn);
  }

  private map(message: Record<string, unknown>, pgn: number): N2kDecodeResult {
    const what = `PGN ${pgn}${typeof message.description === 'string' ? ` (${message.description})` : ''}`;
    let mapped: unknown;
    try {
      mapped = this.mapper.toDelta(message);
    } catch (err) {
      return { kind: 'error', reason: 'unparsed', detail: `${what}: ${(err as Error).message}` };
    }
    if (!isRecord(mapped) || !Array.isArray(mapped.updates)) return { kind: 'skip', reason: 'no-values', detail: `${what} maps to no Signal K data` };
    // Fresh update objects with our label; the mapper leaves label empty for the server to fill in.
    const updates: Update[] = [];
    for (const u of mapped.updates) {
      if (!isRecord(u) || !Array.isArray(u.values)) continue;
      const values = wireValues(u.values);
      if (values.length === 0) continue;
      const source = { ...(isRecord(u.source) ? (wireValue(u.source) as Record<string, JsonValue>) : {}), label: this.label };
      const update: Update = { source, values };
      if (typeof u.timestamp === 'string') update.timestamp = u.timestamp;
      updates.push(update);
    }
    if (updates.length === 0) return { kind: 'skip', reason: 'no-values', detail: `${what} maps to no Signal K values` };
    // AIS targets (129038, 129039, 129794, 129809, 129810, ...) carry their own vessel's context.
    const delta: Delta = { updates };
    if (typeof mapped.context === 'string') delta.context = mapped.context;
    return { kind: 'delta', delta, pgn };
  }
}
