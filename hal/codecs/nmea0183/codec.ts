// NMEA 0183 line → Signal K delta, with @signalk/nmea0183-signalk doing the sentence semantics.
// One codec per source: the parser keeps multi-sentence state (GSV, seatalk splits) per stream.

import type { Parser } from '@signalk/nmea0183-signalk';
import { lazyModule } from '../../lazy-module.js';
import type { Codec } from '../codec.js';
import {
  codecValuesFault,
  sourceRef,
  type Delta,
  type PathValue,
  type Source,
  type Update,
} from '../../../core/delta.js';
import { checkSentence, type SentenceFault } from './sentence.js';
import { Nmea0183DeltaEncoder } from './encode.js';
import { isRecord } from '../../../core/json.js';

/** Why a line produced no delta and counts as an error. */
export type CodecError = SentenceFault | 'unparsed' | 'invalid';
/** Why a valid sentence produced no delta without being an error. */
export type CodecSkip = 'unsupported' | 'empty';

/** The codec's results, with its own reasons (tests and the fuzzer check them). */
export type Nmea0183Result =
  | { kind: 'delta'; delta: Delta }
  | { kind: 'error'; reason: CodecError; detail: string }
  | { kind: 'skip'; reason: CodecSkip; detail: string };

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The key the library files a sentence's parser under (`RMC`, or `PGRME` for proprietary ones). */
function hookKey(header: string): string {
  return header.charAt(1) === 'P' ? header.slice(1) : header.slice(3, 6);
}

const nmea0183 = lazyModule<typeof import('@signalk/nmea0183-signalk')>('@signalk/nmea0183-signalk');

/** What the codec knows of a header: the library's key for it, and the source its updates came from last. */
interface Hook {
  key: string;
  known: boolean;
  /** Nearly always the source of the next update with this header too (a tag block may name another). */
  last?: { source: Source; ref: string };
}

export class Nmea0183Codec implements Codec<string> {
  private readonly parser: Parser = new (nmea0183().Parser)({ validateChecksum: false });
  /** The JSON text of this codec's deltas for the bus (JSON.stringify's, made faster). */
  readonly encoder = new Nmea0183DeltaEncoder();

  /**
   * One source object and `$source` per talker and sentence, shared by all their updates (frozen:
   * every subscriber reads them): no allocation and no string building per sentence.
   */
  private readonly sources = new Map<string, { source: Source; ref: string }>();

  /**
   * Per header (`$GPRMC`, by checkSentence's number for it): the key the library files its parser under, and whether it has one. The
   * library's hook table is a large dictionary-mode object: looking a freshly cut key up in it
   * cost more than all the other checks of a line together (profile).
   */
  private readonly hooks = new Map<number, Hook>();

  /** `label` becomes `source.label` of every delta, so `$source` reads `<label>.<talker>`. */
  constructor(readonly label: string) {}

  private sourceOf(
    hook: Hook,
    talker: string | undefined,
    sentence: string | undefined,
  ): { source: Source; ref: string } {
    const last = hook.last;
    if (last !== undefined && last.source.talker === talker && last.source.sentence === sentence) return last;
    const key = `${talker ?? ''},${sentence ?? ''}`;
    let known = this.sources.get(key);
    if (!known) {
      const source: Source = Object.freeze({ label: this.label, type: 'NMEA0183', talker, sentence });
      known = { source, ref: sourceRef({ source }) };
      // Bounded: talker and sentence ids are two and three to six characters of a checked header.
      if (this.sources.size < 4096) this.sources.set(key, known);
    }
    hook.last = known;
    return known;
  }

  decode(line: string): Nmea0183Result {
    const checked = checkSentence(line);
    if (!checked.ok) return { kind: 'error', reason: checked.reason, detail: checked.detail };
    let hook = this.hooks.get(checked.headerId);
    if (!hook) {
      const key = hookKey(line.slice(checked.headerStart, checked.headerEnd));
      hook = { key, known: typeof this.parser.hooks[key] === 'function' };
      // Bounded: headers are four to nine letters and digits of a checked line.
      if (this.hooks.size < 4096) this.hooks.set(checked.headerId, hook);
    }
    const key = hook.key;
    if (!hook.known) {
      return { kind: 'skip', reason: 'unsupported', detail: `no parser for ${key}` };
    }
    let parsed: unknown;
    try {
      parsed = this.parser.parse(checked.sentence);
    } catch (err) {
      return { kind: 'error', reason: 'unparsed', detail: `${key}: ${(err as Error).message}` };
    }
    if (!isRecord(parsed) || !Array.isArray(parsed.updates)) {
      return { kind: 'skip', reason: 'empty', detail: `${key} carried no data` };
    }
    // Fresh update objects rather than edits of the library's: deleting its `timestamp: undefined`
    // would turn every update into a slow dictionary-mode object for the bus and the model.
    const updates: Update[] = [];
    for (const u of parsed.updates) {
      if (!isRecord(u)) continue;
      const values = u.values;
      // An all-empty VHW comes back as `values: []`: nothing to publish.
      if (Array.isArray(values) && values.length === 0 && u.meta === undefined) continue;
      const s = isRecord(u.source) ? u.source : {};
      const { source, ref } = this.sourceOf(hook, str(s.talker), str(s.sentence));
      const update: Update = { source, $source: ref };
      if (typeof u.timestamp === 'string') update.timestamp = u.timestamp;
      if (values !== undefined) {
        // Fields cut short but checksummed (a talker bug) come out as NaN; the bus would refuse them.
        const fault = Array.isArray(values)
          ? codecValuesFault(values as { path: unknown; value: unknown }[])
          : 'values is not an array';
        if (fault) return { kind: 'error', reason: 'invalid', detail: `${key}: ${fault}` };
        update.values = values as PathValue[];
      }
      if (u.meta !== undefined) {
        const fault = Array.isArray(u.meta)
          ? codecValuesFault(u.meta as { path: unknown; value: unknown }[])
          : 'meta is not an array';
        if (fault) return { kind: 'error', reason: 'invalid', detail: `${key}: meta ${fault}` };
        update.meta = u.meta as Update['meta'];
      }
      updates.push(update);
    }
    if (updates.length === 0) return { kind: 'skip', reason: 'empty', detail: `${key} carried no data` };
    // The library names the vessel a sentence is about: AIS targets (VDM) and own-ship broadcasts
    // (VDO) under `vessels.urn:mrn:imo:mmsi:<mmsi>` (or `atons.`, `sar.`, ...); no context means self.
    const delta: Delta = { updates };
    if (typeof parsed.context === 'string') delta.context = parsed.context;
    return { kind: 'delta', delta };
  }
}
