// The validation every untrusted delta passes at the bus boundary, and filtering a delta's updates.

import { checkPath, type Delta, type PathValue, type Update } from '../../core/delta.js';
import { isJson, isRecord } from '../../core/json.js';

export type ParseResult = { ok: true; delta: Delta } | { ok: false; reason: string };

/** Longer than any real context (`vessels.urn:mrn:signalk:uuid:<uuid>` is 65 characters). */
const MAX_CONTEXT = 256;

function checkPathList(list: unknown, where: string): string | undefined {
  if (!Array.isArray(list)) return `${where} must be an array`;
  for (let i = 0; i < list.length; i++) {
    const pv: unknown = list[i];
    if (!isRecord(pv)) return `${where}[${i}] must be an object`;
    if (typeof pv.path !== 'string') return `${where}[${i}].path must be a string`;
    const pathFault = checkPath(pv.path);
    if (pathFault) return `${where}[${i}].path ${pathFault}`;
    if (!isJson(pv.value))
      return `${where}[${i}].value (${pv.path}) is not JSON data (NaN, Infinity, undefined or too deep)`;
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
