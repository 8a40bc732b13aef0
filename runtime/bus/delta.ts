// Signal K delta types and the validation every delta passes at the bus boundary.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

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

export type ParseResult = { ok: true; delta: Delta } | { ok: false; reason: string };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isJson(v: unknown, depth = 0): v is JsonValue {
  if (depth > 32) return false;
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every((x) => isJson(x, depth + 1));
  if (isRecord(v)) return Object.values(v).every((x) => isJson(x, depth + 1));
  return false;
}

/**
 * The structure of a leaf in the full model (its value, its sources, their times, its metadata).
 * A path through one of them would rewrite another source's leaf under that source's name, so
 * none is a path segment.
 */
const LEAF_KEYS = new Set(['value', 'values', '$source', 'timestamp', 'meta']);

/** Longer than any real context (`vessels.urn:mrn:signalk:uuid:<uuid>` is 65 characters). */
const MAX_CONTEXT = 256;

/** What is wrong with a value's path for the model (too long, a leaf key as a segment), if anything. */
function checkPath(path: string): string | undefined {
  if (path.length > 256) return 'is longer than 256 characters';
  const reserved = path.split('.').find((s) => LEAF_KEYS.has(s));
  return reserved === undefined ? undefined : `${path} uses "${reserved}", a key of the model's leaves, as a segment`;
}

/** Paths codecs produced that passed checkPath (bounded: emptied when full). */
const goodPaths = new Set<string>();

function checkPathList(list: unknown, where: string): string | undefined {
  if (!Array.isArray(list)) return `${where} must be an array`;
  for (let i = 0; i < list.length; i++) {
    const pv: unknown = list[i];
    if (!isRecord(pv)) return `${where}[${i}] must be an object`;
    if (typeof pv.path !== 'string') return `${where}[${i}].path must be a string`;
    const pathFault = checkPath(pv.path);
    if (pathFault) return `${where}[${i}].path ${pathFault}`;
    if (!isJson(pv.value)) return `${where}[${i}].value (${pv.path}) is not JSON data (NaN, Infinity, undefined or too deep)`;
  }
  return undefined;
}

/**
 * The one check a delta our own codecs built still needs: the field libraries hand over NaN for
 * fields cut short (a talker bug) and the model and every JSON encoder would carry it as null.
 * Paths, structure and nesting are the codec's own making; see `DeltaBus.publishTrusted`.
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
    if (typeof v === 'number' ? !Number.isFinite(v) : !isJson(v)) return `values[${i}].value (${pv.path}) is not JSON data (NaN, Infinity or undefined)`;
  }
  return undefined;
}

/**
 * Nesting allowed anywhere in a delta: its own structure and a value's 32 levels fit; members no
 * check reads (unknown keys, source details) still reach every subscriber's JSON encoder, which
 * fails (stack overflow) a few thousand levels down.
 */
const MAX_NESTING = 64;

/** Whether containers nest `limit` levels below `v` (walked no further). */
function nestedDeeper(v: unknown, limit: number): boolean {
  if (typeof v !== 'object' || v === null) return false;
  if (limit === 0) return true;
  for (const x of Array.isArray(v) ? v : Object.values(v)) if (nestedDeeper(x, limit - 1)) return true;
  return false;
}

/**
 * Validates an untrusted delta (from a codec, a plugin or a client). Nothing is copied:
 * a valid input is returned as the typed delta.
 */
export function parseDelta(input: unknown): ParseResult {
  if (!isRecord(input)) return { ok: false, reason: 'delta must be an object' };
  if (input.context !== undefined && typeof input.context !== 'string') {
    return { ok: false, reason: 'context must be a string' };
  }
  // As paths: a megabyte context would make every subscription match against it slow.
  if (input.context !== undefined && input.context.length > MAX_CONTEXT) {
    return { ok: false, reason: `context is longer than ${MAX_CONTEXT} characters` };
  }
  if (!Array.isArray(input.updates)) return { ok: false, reason: 'updates must be an array' };
  for (let u = 0; u < input.updates.length; u++) {
    const up: unknown = input.updates[u];
    const where = `updates[${u}]`;
    if (!isRecord(up)) return { ok: false, reason: `${where} must be an object` };
    if (up.source !== undefined) {
      if (!isRecord(up.source) || typeof up.source.label !== 'string') {
        return { ok: false, reason: `${where}.source must be an object with a string label` };
      }
    }
    if (up.$source !== undefined && typeof up.$source !== 'string') {
      return { ok: false, reason: `${where}.$source must be a string` };
    }
    if (up.timestamp !== undefined && (typeof up.timestamp !== 'string' || Number.isNaN(Date.parse(up.timestamp)))) {
      return { ok: false, reason: `${where}.timestamp must be an ISO 8601 date string` };
    }
    if (up.values === undefined && up.meta === undefined) {
      return { ok: false, reason: `${where} has neither values nor meta` };
    }
    if (up.values !== undefined) {
      const bad = checkPathList(up.values, `${where}.values`);
      if (bad) return { ok: false, reason: bad };
    }
    if (up.meta !== undefined) {
      const bad = checkPathList(up.meta, `${where}.meta`);
      if (bad) return { ok: false, reason: bad };
    }
  }
  if (nestedDeeper(input, MAX_NESTING)) return { ok: false, reason: `delta nests deeper than ${MAX_NESTING} levels` };
  return { ok: true, delta: input as unknown as Delta };
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

/**
 * The updates with only the values and meta entries the predicates keep (an update left with
 * neither is dropped); `whole` when nothing was taken out.
 */
export function filterUpdates(
  updates: Update[],
  keepValue: (pv: PathValue, update: Update) => boolean,
  keepMeta: (m: NonNullable<Update['meta']>[number]) => boolean,
): { updates: Update[]; whole: boolean } {
  let whole = true;
  const kept: Update[] = [];
  for (const u of updates) {
    const values = u.values?.filter((pv) => keepValue(pv, u));
    const meta = u.meta?.filter(keepMeta);
    if (values?.length !== u.values?.length || meta?.length !== u.meta?.length) whole = false;
    if (!values?.length && !meta?.length) continue;
    const out: Update = { ...u };
    if (values?.length) out.values = values;
    else delete out.values;
    if (meta?.length) out.meta = meta;
    else delete out.meta;
    kept.push(out);
  }
  return { updates: kept, whole };
}
