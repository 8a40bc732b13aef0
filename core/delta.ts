// The Signal K delta: the one data shape every part passes along (codecs make it, the bus carries
// it, the model and subscribers read it), with the helpers codecs and the bus both need.

import { isJson, type JsonValue } from './json.js';

/** Where a value came from, as in signalk-server: label plus protocol detail. */
export interface Source {
  label: string;
  type?: string;
  talker?: string;
  sentence?: string;
  src?: string;
  pgn?: number;
  [key: string]: JsonValue | undefined;
}

export interface PathValue {
  path: string;
  value: JsonValue;
}

export interface Update {
  source?: Source;
  $source?: string;
  timestamp?: string;
  values?: PathValue[];
  meta?: { path: string; value: JsonValue }[];
}

export interface Delta {
  context?: string;
  updates: Update[];
}

/** Where deltas go: the bus, as a driver-side part sees it (codecs' deltas are trusted, see codecValuesFault). */
export interface DeltaSink {
  /** `encoder`: the codec's own JSON encoding of the deltas it built (see DeltaEncoder). */
  publishTrusted(delta: Delta, encoder?: DeltaEncoder): void;
}

/**
 * A codec's JSON encoding of the deltas it built, for the bus's shared text (plugins, clients):
 * the same text as `JSON.stringify(delta)` byte for byte, made faster from what the codec knows of
 * their shape (its frozen source objects, recurring paths).
 */
export interface DeltaEncoder {
  encode(delta: Delta): string;
}

/**
 * The structure of a leaf in the full model (its value, its sources, their times, its metadata).
 * A path through one of them would rewrite another source's leaf under that source's name, so
 * none is a path segment.
 */
const LEAF_KEYS = new Set(['value', 'values', '$source', 'timestamp', 'meta']);

/** What is wrong with a value's path for the model (too long, a leaf key as a segment), if anything. */
export function checkPath(path: string): string | undefined {
  if (path.length > 256) return 'is longer than 256 characters';
  const reserved = path.split('.').find((s) => LEAF_KEYS.has(s));
  return reserved === undefined ? undefined : `${path} uses "${reserved}", a key of the model's leaves, as a segment`;
}

/** Paths codecs produced that passed checkPath (bounded: emptied when full). */
const goodPaths = new Set<string>();

/**
 * The checks a delta our own codecs built still needs: the field libraries hand over NaN for
 * fields cut short (a talker bug) and the model and every JSON encoder would carry it as null.
 * Structure and nesting are the codec's own making; see `DeltaSink.publishTrusted`.
 */
export function codecValuesFault(values: readonly { path: unknown; value: unknown }[]): string | undefined {
  for (let i = 0; i < values.length; i++) {
    const pv = values[i];
    if (typeof pv.path !== 'string') return `values[${i}].path is not a string`;
    // Libraries build some paths from input fields (an RPM sentence's engine id): checked, once per path.
    if (!goodPaths.has(pv.path)) {
      const pathFault = checkPath(pv.path);
      if (pathFault) return `values[${i}].path ${pathFault}`;
      if (goodPaths.size >= 4096) goodPaths.clear();
      goodPaths.add(pv.path);
    }
    const v = pv.value;
    // Most values are plain numbers: decided without the recursive walk.
    if (typeof v === 'number' ? !Number.isFinite(v) : !isJson(v))
      return `values[${i}].value (${pv.path}) is not JSON data (NaN, Infinity or undefined)`;
  }
  return undefined;
}

/**
 * The `$source` reference of an update, derived as signalk-server does:
 * NMEA 0183 → `<label>.<talker>`, NMEA 2000 → `<label>.<src>`, otherwise the label.
 */
export function sourceRef(update: Update): string {
  if (update.$source) return update.$source;
  const s = update.source;
  if (!s) return 'unknown';
  if (s.type === 'NMEA0183' && s.talker) return `${s.label}.${s.talker}`;
  if (s.type === 'NMEA2000' && s.src !== undefined) return `${s.label}.${s.src}`;
  return s.label;
}
