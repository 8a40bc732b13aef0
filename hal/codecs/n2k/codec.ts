// CAN frame → NMEA 2000 PGN → Signal K delta. canboatjs's FromPgn does the PGN semantics (fed
// whole messages, as `coalesced` input, once fast-packet frames are reassembled here by its own
// rules); @signalk/n2k-signalk's N2kMapper maps PGNs to Signal K paths. A message seen before
// (same id, same bytes) is answered from the decode memo without either library (memo.ts says
// when that is exact). One codec per source: all of it keeps per-device state (partial fast
// packets, device metadata). Never throws.

import type { FromPgn } from '@canboat/canboatjs';
import type { N2kMapper } from '@signalk/n2k-signalk';
import { lazyModule } from '../../lazy-module.js';
import type { Codec } from '../codec.js';
import type { Delta, PathValue, Update } from '../../../core/delta.js';
import { isRecord, type JsonValue } from '../../../core/json.js';
import { parseId, type CanFrame } from '../../can/frame.js';
import { FastPacketAssembler } from './fast-packet.js';
import { DecodeMemo, StateWatch, type MemoEntry, type SourceState } from './memo.js';

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
 * toJSON() text. undefined when nothing is left to send. Frozen: memo entries share it.
 */
function wireValue(v: unknown, depth = 0): JsonValue | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string' || typeof v === 'boolean' || v === null) return v;
  if (depth > 32 || typeof v !== 'object') return undefined;
  if ('toJSON' in v && typeof v.toJSON === 'function') return wireValue(v.toJSON(), depth + 1);
  if (Array.isArray(v)) return Object.freeze(v.map((x) => wireValue(x, depth + 1) ?? null)) as JsonValue[];
  const out: { [key: string]: JsonValue } = {};
  for (const [k, x] of Object.entries(v)) {
    const w = wireValue(x, depth + 1);
    if (w !== undefined) out[k] = w;
  }
  return Object.freeze(out);
}

/**
 * The path values worth publishing: a value that is not available as a whole is left out. What
 * comes out is JSON data by construction (no NaN, bounded depth), so the bus takes these deltas
 * as trusted (`DeltaBus.publishTrusted`).
 */
function wireValues(values: unknown[]): PathValue[] {
  const out: PathValue[] = [];
  for (const pv of values) {
    if (!isRecord(pv) || typeof pv.path !== 'string' || (typeof pv.value === 'number' && !Number.isFinite(pv.value)))
      continue;
    const value = wireValue(pv.value);
    if (value !== undefined) out.push(Object.freeze({ path: pv.path, value }));
  }
  return out;
}

const canboatjs = lazyModule<typeof import('@canboat/canboatjs')>('@canboat/canboatjs');
const canboatPgns = lazyModule<typeof import('@canboat/canboatjs/dist/pgns.js')>('@canboat/canboatjs/dist/pgns.js');
const n2kSignalk = lazyModule<typeof import('@signalk/n2k-signalk')>('@signalk/n2k-signalk');

/** How canboat's database carries a PGN: unknown, in one frame, or as a fast packet. */
type Transport = 'unknown' | 'single' | 'fast';
const transports = new Map<number, Transport>();

/** The transport of the definition canboatjs picks for a PGN (the one with match fields when there are several). */
function transportOf(pgn: number): Transport {
  let t = transports.get(pgn);
  if (t === undefined) {
    const list = canboatPgns().getPgn(pgn);
    const def =
      list && list.length > 1 ? (list.find((d) => d.Fields.some((f) => f.Match !== undefined)) ?? list[0]) : list?.[0];
    t = def === undefined ? 'unknown' : def.Type === 'Fast' ? 'fast' : 'single';
    transports.set(pgn, t);
  }
  return t;
}

/** What N2kMapper keeps that the memo reads: per-source state and the PGNs it has no mapping for. */
interface MapperState {
  state: SourceState;
  unknownPGNs: Record<string, Record<string, unknown> | undefined>;
}

function hasMapperState(m: object): m is MapperState {
  return 'state' in m && isRecord(m.state) && 'unknownPGNs' in m && isRecord(m.unknownPGNs);
}

/** 9999-12-31T23:59:59.999Z: later times need ISO 8601's expanded years, which Signal K's timestamps do not allow. */
const LAST_ISO_MS = 253_402_300_799_999;

/** A second timestamp for the timestamp-dependence check: a day and 1.5 s later. */
const shifted = (iso: string) => new Date(Date.parse(iso) + 86_401_500).toISOString();

export class N2kCodec implements Codec<CanFrame> {
  private readonly parser: FromPgn = new (canboatjs().FromPgn)({});
  private readonly mapper: N2kMapper = new (n2kSignalk().N2kMapper)({});
  private readonly fastPackets = new FastPacketAssembler();
  /** undefined when the mapper does not keep its state where the memo can watch it. */
  private readonly memo: DecodeMemo | undefined;
  private readonly mapperState: MapperState | undefined;
  private readonly watch: StateWatch | undefined;
  /** PGNs the mapper has no mapping for (not parsed at all), with the skip's detail. */
  private readonly unmapped = new Map<number, string>();
  private lastMs = NaN;
  private lastIso = '';
  private lastSecond = NaN;
  private secondText = '';

  /** `label` becomes `source.label` of every delta, so `$source` reads `<label>.<src>`. */
  constructor(readonly label: string) {
    // Parse failures also arrive through parse()'s callback; without a listener, EventEmitter would throw.
    this.parser.on('error', () => {});
    this.parser.on('warning', () => {});
    if (hasMapperState(this.mapper)) {
      this.mapperState = this.mapper;
      this.watch = new StateWatch(this.mapper);
      this.memo = new DecodeMemo(this.watch.real);
    }
  }

  decode(frame: CanFrame): N2kDecodeResult {
    const id = parseId(frame.id);
    const pgn = id.pgn;
    const transport = transportOf(pgn);
    if (transport === 'unknown')
      return { kind: 'skip', reason: 'unknown-pgn', detail: `PGN ${pgn} is not in canboat's PGN database` };
    let payload: Uint8Array = frame.data;
    if (transport === 'fast') {
      const r = this.fastPackets.push(id.src, pgn, frame.data);
      if (r.kind === 'pending') return { kind: 'pending', pgn };
      // canboatjs reports a fast-packet frame out of sequence (a lost frame, or a log starting mid-message) the same way.
      if (r.kind === 'out-of-sequence')
        return { kind: 'error', reason: 'fast-packet', detail: `PGN ${pgn} from ${id.src}: frame out of sequence` };
      payload = r.data;
    }
    const unmapped = this.unmapped.get(pgn);
    if (unmapped !== undefined) return { kind: 'skip', reason: 'no-values', detail: unmapped };
    const timestamp = this.isoTime(frame.time ?? Date.now());
    const key = this.memo?.keyOf(frame.id, pgn, payload);
    const hit = key === undefined ? undefined : this.memo?.get(key, frame.id, id.src);
    if (hit) return this.fromEntry(hit, pgn, timestamp);
    // Only a message seen before is worth checking for the memo: most of a moving boat's are new every time.
    const admit = key !== undefined && this.memo?.seenBefore(key, frame.id) === true;

    const data = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    let failure: unknown;
    let message: unknown;
    try {
      message = this.parser.parse(
        { pgn: { ...id, timestamp }, length: data.length, data, coalesced: true },
        (err: unknown) => {
          if (err) failure = err;
        },
      );
    } catch (err) {
      failure = err;
    }
    if (failure !== undefined)
      return {
        kind: 'error',
        reason: 'unparsed',
        detail: `PGN ${pgn} from ${id.src}: ${failure instanceof Error ? failure.message : String(failure)}`,
      };
    // A proprietary PGN from a manufacturer none of canboat's definitions of it is for: the PGN is known, this message carries nothing it can read.
    if (!isRecord(message))
      return {
        kind: 'skip',
        reason: 'no-values',
        detail: `PGN ${pgn} from ${id.src} matches none of canboat's definitions of it`,
      };
    return this.map(message, pgn, id.src, admit ? key : undefined);
  }

  /**
   * ISO 8601 text of epoch ms, made once per millisecond (a busy bus delivers several frames in
   * each; a Date drops the fraction of a millisecond that candump and SocketCAN stamps carry, so it
   * is dropped before comparing), from the text of its second and the milliseconds.
   */
  private isoTime(ms: number): string {
    const whole = Math.trunc(ms);
    if (whole !== this.lastMs) {
      // A stamp ISO 8601's four-digit years cannot write (a damaged log) is "now", as canboatjs
      // makes an invalid one.
      if (!(whole >= 0 && whole <= LAST_ISO_MS)) return new Date().toISOString();
      const second = whole - (whole % 1000);
      // "YYYY-MM-DDTHH:MM:SS." of the second, made once per second.
      if (second !== this.lastSecond) {
        this.lastSecond = second;
        this.secondText = new Date(second).toISOString().slice(0, 20);
      }
      this.lastMs = whole;
      this.lastIso = `${this.secondText}${String(whole - second).padStart(3, '0')}Z`;
    }
    return this.lastIso;
  }

  private fromEntry(entry: MemoEntry, pgn: number, timestamp: string): N2kDecodeResult {
    if (entry.kind === 'no-values') return { kind: 'skip', reason: 'no-values', detail: entry.detail };
    const updates: Update[] = entry.updates.map((u) => ({
      source: u.source as Update['source'],
      values: u.values as PathValue[],
      timestamp,
    }));
    const delta: Delta = { updates };
    if (entry.context !== undefined) delta.context = entry.context;
    return { kind: 'delta', delta, pgn };
  }

  /** The mapper's output for `message`; undefined when it threw (said in `error`). */
  private mapped(
    message: Record<string, unknown>,
  ): { updates: Update[]; context: string | undefined } | { error: string } {
    let mapped: unknown;
    try {
      mapped = this.mapper.toDelta(message);
    } catch (err) {
      return { error: (err as Error).message };
    }
    const updates: Update[] = [];
    if (!isRecord(mapped) || !Array.isArray(mapped.updates)) return { updates, context: undefined };
    // Fresh update objects with our label; the mapper leaves label empty for the server to fill in.
    for (const u of mapped.updates) {
      if (!isRecord(u) || !Array.isArray(u.values)) continue;
      const values = wireValues(u.values);
      if (values.length === 0) continue;
      const source = Object.freeze({
        ...(isRecord(u.source) ? (wireValue(u.source) as Record<string, JsonValue>) : {}),
        label: this.label,
      });
      const update: Update = { source, values };
      if (typeof u.timestamp === 'string') update.timestamp = u.timestamp;
      updates.push(update);
    }
    // AIS targets (129038, 129039, 129794, 129809, 129810, ...) carry their own vessel's context.
    return { updates, context: typeof mapped.context === 'string' ? mapped.context : undefined };
  }

  private map(message: Record<string, unknown>, pgn: number, src: number, key: string | undefined): N2kDecodeResult {
    const what = `PGN ${pgn}${typeof message.description === 'string' ? ` (${message.description})` : ''}`;
    if (this.watch) this.watch.touched = false;
    const out = this.mapped(message);
    if ('error' in out) return { kind: 'error', reason: 'unparsed', detail: `${what}: ${out.error}` };
    const { updates, context } = out;
    const memo = this.memo;
    // The mapper notes a PGN it has no mapping for: later messages of it are not parsed at all.
    if (this.mapperState?.unknownPGNs[src]?.[pgn] !== undefined) {
      const detail = `${what} maps to no Signal K data`;
      this.unmapped.set(pgn, detail);
      return { kind: 'skip', reason: 'no-values', detail };
    }
    if (key !== undefined && memo && !this.watch?.touched && this.sameAtAnotherTime(message, updates, context)) {
      const fields = memo.sourceFields(src);
      if (updates.length === 0)
        memo.set(key, { kind: 'no-values', detail: `${what} maps to no Signal K values`, ...fields });
      else
        memo.set(key, {
          kind: 'delta',
          updates: updates.map((u) => ({
            source: u.source as Record<string, JsonValue>,
            values: Object.freeze(u.values ?? []),
          })),
          context,
          ...fields,
        });
    }
    if (updates.length === 0)
      return { kind: 'skip', reason: 'no-values', detail: `${what} maps to no Signal K values` };
    const delta: Delta = { updates };
    if (context !== undefined) delta.context = context;
    return { kind: 'delta', delta, pgn };
  }

  /** Whether the mapper gives the same values for the message stamped at another time; marks the PGN timed when not. */
  private sameAtAnotherTime(message: Record<string, unknown>, updates: Update[], context: string | undefined): boolean {
    if (typeof message.timestamp !== 'string') return false;
    const again = this.mapped({ ...message, timestamp: shifted(message.timestamp) });
    const same =
      !('error' in again) &&
      again.context === context &&
      JSON.stringify(again.updates.map((u) => [u.source, u.values])) ===
        JSON.stringify(updates.map((u) => [u.source, u.values]));
    if (!same && typeof message.pgn === 'number') this.memo?.markTimed(message.pgn);
    return same;
  }
}
