// Decoded NMEA 2000 messages, remembered by (CAN id, payload): the same bytes from the same
// device decode to the same Signal K values, and a bus repeats most of its messages byte for byte
// (static data, settled readings). What may be remembered is decided by watching the mapper
// (n2k-signalk's N2kMapper) rather than by a list of PGNs, so it follows the library:
// - a mapping that reads or writes its per-source state (course calculation type, AIS, address
//   claims) makes that one result unremembered;
// - a result that changes with the message's timestamp (an ETA as time-to-go) marks its PGN as
//   never remembered;
// - the source fields the mapper takes from state (canName, deviceInstance) are kept with the
//   entry and checked on every hit, so an address claim after the fact is seen.
// Admitted on second sight: the first time a message is seen, only its key is noted; the checks
// above (a second mapping at another time) and the entry are made the second time, so a message
// that never repeats (a moving boat's position, heading, depth) costs a lookup and a note, not a
// second mapping. Both are bounded, the oldest out first, and kept apart, so a flood of one-off
// messages does not push out the entries of the ones that do repeat.
// Looked up only where it pays: a sender (CAN id: one device's PGN) whose last 256 messages came
// again fewer than 16 times (a heading, a position under way) is decoded without a lookup for its
// next 2,048, then tried again, so a reading that settles (a boat coming to anchor) is answered
// from memory again. What is remembered and how an entry is checked do not change, so answers are
// exactly what the libraries give whether a message is looked up or not.

import type { PathValue } from '../../../core/delta.js';
import type { JsonValue } from '../../../core/json.js';

const MEMO_ENTRIES = 8192;
/** A sender's messages counted in a row before judging whether its messages come again. */
const WINDOW = 256;
/** Repeats in a window below which a lookup (≈ 1 µs: a key, a hash, a note) costs more than it saves (a decode, ≈ 20 µs). */
const WORTH = WINDOW / 16;
/** Messages of a sender decoded without a lookup after a window with fewer repeats. */
const REST = 8 * WINDOW;
/** Senders followed at most (a bus has 254 addresses and far fewer senders in use). */
const MAX_SENDERS = 4096;

export type MemoEntry =
  | {
      kind: 'delta';
      updates: readonly { source: Readonly<Record<string, JsonValue>>; values: readonly PathValue[] }[];
      context: string | undefined;
      canName: unknown;
      deviceInstance: unknown;
    }
  | { kind: 'no-values'; detail: string; canName: unknown; deviceInstance: unknown };

/** The mapper's per-source state as N2kMapper keeps it (`state[src]`), read without being watched. */
export type SourceState = Record<string, Record<string, unknown> | undefined>;

/** Watches a mapper's per-source state: `touched` is set by any use beyond the two source fields. */
export class StateWatch {
  touched = false;
  readonly real: SourceState;
  private readonly views = new WeakMap<object, object>();

  /** Replaces `holder.state` by a watched view of it; returns the unwatched state. */
  constructor(holder: { state: SourceState }) {
    this.real = holder.state;
    const touch = () => (this.touched = true);
    holder.state = new Proxy(this.real, {
      get: (target, key) => {
        const value: unknown = Reflect.get(target, key);
        return typeof value === 'object' && value !== null ? this.view(value) : value;
      },
      set: (target, key, value) => (touch(), Reflect.set(target, key, value)),
      deleteProperty: (target, key) => (touch(), Reflect.deleteProperty(target, key)),
    });
  }

  private view(source: object): object {
    let view = this.views.get(source);
    if (!view) {
      const touch = () => (this.touched = true);
      view = new Proxy(source, {
        get: (target, key) => {
          if (key !== 'canName' && key !== 'deviceInstance') touch();
          return Reflect.get(target, key);
        },
        has: (target, key) => (touch(), Reflect.has(target, key)),
        ownKeys: (target) => (touch(), Reflect.ownKeys(target)),
        set: (target, key, value) => (touch(), Reflect.set(target, key, value)),
        deleteProperty: (target, key) => (touch(), Reflect.deleteProperty(target, key)),
      });
      this.views.set(source, view);
    }
    return view;
  }
}

interface Sender {
  looked: number;
  again: number;
  /** Messages still to be decoded without a lookup. */
  resting: number;
}

/** Whether a sender's messages come again often enough to be worth looking up. */
class Senders {
  private readonly senders = new Map<number, Sender>();

  worth(id: number): boolean {
    const s = this.senders.get(id);
    if (s === undefined || s.resting === 0) return true;
    s.resting--;
    return false;
  }

  /** A message of `id` was looked up; `again`: it was remembered or seen before. */
  looked(id: number, again: boolean): void {
    let s = this.senders.get(id);
    if (s === undefined) {
      if (this.senders.size >= MAX_SENDERS) this.senders.delete(this.senders.keys().next().value as number);
      s = { looked: 0, again: 0, resting: 0 };
      this.senders.set(id, s);
    }
    s.looked++;
    if (again) s.again++;
    if (s.looked === WINDOW) {
      if (s.again < WORTH) s.resting = REST;
      s.looked = 0;
      s.again = 0;
    }
  }
}

export class DecodeMemo {
  private readonly entries = new Map<string, MemoEntry>();
  /** Keys seen once and not (yet) remembered, in the order they were first seen. */
  private readonly seen = new Set<string>();
  /** PGNs whose mapped values depend on the message's timestamp. */
  private readonly timed = new Set<number>();
  private readonly senders = new Senders();

  constructor(private readonly state: SourceState) {}

  /** The memo key of a message with CAN id `id`; undefined when it is not to be looked up (its PGN is timed, or its sender resting). */
  keyOf(id: number, pgn: number, payload: Uint8Array): string | undefined {
    if (this.timed.has(pgn) || !this.senders.worth(id)) return undefined;
    return `${id}:${Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('latin1')}`;
  }

  /** The entry for `key` (of CAN id `id`) when the source's state fields still match it. */
  get(key: string, id: number, src: number): MemoEntry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    const state = this.state[src];
    if (entry.canName !== state?.canName || entry.deviceInstance !== state?.deviceInstance) return undefined;
    this.senders.looked(id, true);
    return entry;
  }

  /** Whether `key` (not remembered) was seen before; notes it when not. */
  seenBefore(key: string, id: number): boolean {
    const again = this.seen.delete(key);
    if (!again) {
      if (this.seen.size >= MEMO_ENTRIES) this.seen.delete(this.seen.values().next().value as string);
      this.seen.add(key);
    }
    this.senders.looked(id, again);
    return again;
  }

  markTimed(pgn: number): void {
    this.timed.add(pgn);
  }

  /** Source state fields an entry made now depends on. */
  sourceFields(src: number): { canName: unknown; deviceInstance: unknown } {
    const state = this.state[src];
    return { canName: state?.canName, deviceInstance: state?.deviceInstance };
  }

  set(key: string, entry: MemoEntry): void {
    if (this.entries.size >= MEMO_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, entry);
  }
}
