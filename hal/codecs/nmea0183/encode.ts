// The JSON text of the deltas the NMEA 0183 codec builds, for the bus (what plugins' delta_handler
// and stream clients receive): the same text as JSON.stringify byte for byte, made from the shapes
// the codec itself gives updates, with the text of its frozen source objects and of recurring
// paths made once. Encoding was as costly as parsing the sentence (profile of a plugin taking
// every delta), most of it in these repeated parts.

import type { Delta, DeltaEncoder, PathValue, Source } from '../../../core/delta.js';

/** Bound of each cache: sources are per talker and sentence, paths the library's (checked by the codec). */
const MAX_CACHED = 4096;

/** `{"path":"<path>","value":` per path, shared by all codecs (paths recur across sources). */
const pathHeads = new Map<string, string>();

function pathHead(path: string): string {
  let head = pathHeads.get(path);
  if (head === undefined) {
    head = `{"path":${JSON.stringify(path)},"value":`;
    if (pathHeads.size < MAX_CACHED) pathHeads.set(path, head);
  }
  return head;
}

/**
 * A value list as JSON. Entries are the library's: only a plain `{path, value}` entry (those keys,
 * that order) with a value JSON can express is written here; a list with any other goes to
 * JSON.stringify whole, so the text never differs from it.
 */
function encodeValues(values: PathValue[]): string {
  let text = '[';
  for (let i = 0; i < values.length; i++) {
    const pv = values[i];
    // A plain object: no inherited toJSON that JSON.stringify would call.
    if (Object.getPrototypeOf(pv) !== Object.prototype) return JSON.stringify(values);
    let keys = 0;
    for (const key in pv) {
      if (key !== (keys === 0 ? 'path' : 'value')) return JSON.stringify(values);
      keys++;
    }
    if (keys !== 2 || typeof pv.path !== 'string') return JSON.stringify(values);
    const v: unknown = pv.value;
    let value: string | undefined;
    // JSON writes a number as String(n) does, a non-finite one as null.
    if (typeof v === 'number') value = Number.isFinite(v) ? `${v}` : 'null';
    else value = JSON.stringify(v) as string | undefined;
    // undefined, a function: JSON.stringify leaves the key out, which this writer does not do.
    if (value === undefined) return JSON.stringify(values);
    text += i === 0 ? pathHead(pv.path) : `,${pathHead(pv.path)}`;
    text += `${value}}`;
  }
  return `${text}]`;
}

/**
 * Encodes deltas built by `Nmea0183Codec.decode`: `{updates, context?}`, each update
 * `{source, $source, timestamp?, values?, meta?}` in that order with `source` one of the codec's
 * frozen source objects. Only the codec hands this encoder to the bus, with its own deltas.
 */
export class Nmea0183DeltaEncoder implements DeltaEncoder {
  /** `{"source":{...},"$source":"..."` per frozen source object (its ref is made from it). */
  private readonly heads = new Map<Source, string>();
  /** The last context and its `,"context":"..."}` tail: nearly every delta is the own vessel's. */
  private context: string | undefined;
  private contextTail = ']}';

  private head(source: Source, ref: string): string {
    let head = this.heads.get(source);
    if (head === undefined) {
      head = `{"source":${JSON.stringify(source)},"$source":${JSON.stringify(ref)}`;
      if (Object.isFrozen(source) && this.heads.size < MAX_CACHED) this.heads.set(source, head);
    }
    return head;
  }

  encode(delta: Delta): string {
    let text = '{"updates":[';
    const updates = delta.updates;
    for (let i = 0; i < updates.length; i++) {
      const u = updates[i];
      // Every update of the codec's has both; JSON.stringify would leave a missing one out.
      if (u.source === undefined || u.$source === undefined) return JSON.stringify(delta);
      if (i > 0) text += ',';
      text += this.head(u.source, u.$source);
      if (u.timestamp !== undefined) text += `,"timestamp":${JSON.stringify(u.timestamp)}`;
      if (u.values !== undefined) text += `,"values":${encodeValues(u.values)}`;
      if (u.meta !== undefined) text += `,"meta":${JSON.stringify(u.meta)}`;
      text += '}';
    }
    if (delta.context !== this.context) {
      this.context = delta.context;
      this.contextTail = delta.context === undefined ? ']}' : `],"context":${JSON.stringify(delta.context)}}`;
    }
    return text + this.contextTail;
  }
}
