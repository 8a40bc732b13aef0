// The shape of one entry of the source table (hal/sources/table.ts): a source type owns the parsing
// of its settings and the making of its parts, a codec and the driver that feeds it.

import type { Reader } from '../../core/settings-reader.js';
import type { Codec } from '../codecs/codec.js';
import type { HalDevices } from '../devices.js';
import type { InputSink } from './pipeline.js';
import type { SourceDriver } from './source.js';

/** Where a `sources[i]` entry stands while it is parsed. */
export interface SourceEntry {
  /** Its key in errors: `sources[2]`. */
  key: string;
  /** Its `id`, already checked (unique, 1-32 letters, digits, _ or -). */
  id: string;
  /** The settings file's folder: relative paths resolve against it. */
  base: string;
  /** The entries parsed before it (two sources cannot drive one interface). */
  earlier: readonly { id: string; type: string }[];
}

/** What a source is made of: its codec, and its driver feeding the codec's inputs to `sink` (the pipeline). */
export interface SourceParts<I> {
  codec: Codec<I>;
  driver(sink: InputSink<I>): SourceDriver;
}

/** One source type: `S` its settings (with `type` its key in the table), `I` what its driver delivers to its codec. */
export interface SourceType<S extends { id: string; type: string }, I> {
  /** Reads the rest of one `sources[i]` entry, failing with a SettingsError naming the key. */
  parse(r: Reader, entry: Record<string, unknown>, at: SourceEntry): S;
  /**
   * The codec and driver of a source; devices are the process's shared serial ports and CAN interfaces.
   * Async: a type imports its codec and driver here, so types no source uses are never loaded.
   */
  create(settings: S, devices: HalDevices): Promise<SourceParts<I>>;
}

/** An entry with its settings and input types checked against each other. */
export function sourceType<S extends { id: string; type: string }, I>(entry: SourceType<S, I>): SourceType<S, I> {
  return entry;
}
