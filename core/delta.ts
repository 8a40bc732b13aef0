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
  publishTrusted(delta: Delta): void;
}

/**
 * The one check a delta our own codecs built still needs: the field libraries hand over NaN for
 * fields cut short (a talker bug) and the model and every JSON encoder would carry it as null.
 * Paths, structure and nesting are the codec's own making; see `DeltaSink.publishTrusted`.
 */
export function codecValuesFault(values: readonly { path: unknown; value: unknown }[]): string | undefined {
  for (let i = 0; i < values.length; i++) {
    const pv = values[i];
    if (typeof pv.path !== 'string') return `values[${i}].path is not a string`;
    const v = pv.value;
    // Most values are plain numbers: decided without the recursive walk.
    if (typeof v === 'number' ? !Number.isFinite(v) : !isJson(v)) return `values[${i}].value (${pv.path}) is not JSON data (NaN, Infinity or undefined)`;
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
