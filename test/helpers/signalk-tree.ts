// The values of a Signal K REST tree (`GET /signalk/v1/api/`) as context → path → value, the same
// way for signalk-server's tree and ours, so recorded reference values compare with a live
// runtime's. Left out: what differs between two servers by design, not by decoding: metadata
// (`meta`), which source wrote a value and when (`$source`, `timestamp`, `pgn`, `sentence`), the
// per-source `values`, and the self vessel's generated identity (`uuid`).

import type { JsonValue } from '../../core/json.js';

export type TreeValues = Record<string, Record<string, JsonValue>>;

const NOT_VALUES = new Set(['meta', '$source', 'timestamp', 'pgn', 'sentence', 'values']);
/** Groups whose members are contexts one level down (`vessels.<urn>`), or two (`shore.basestations.<urn>`). */
const DEPTH: Record<string, number> = { vessels: 1, atons: 1, aircraft: 1, sar: 1, shore: 2 };

function isObject(v: unknown): v is Record<string, JsonValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function leaves(node: JsonValue, path: string, out: Record<string, JsonValue>): void {
  if (!isObject(node)) {
    out[path] = node;
    return;
  }
  if ('value' in node) {
    out[path] = node.value;
    return;
  }
  for (const [k, v] of Object.entries(node)) {
    if (NOT_VALUES.has(k)) continue;
    leaves(v, path === '' ? k : `${path}.${k}`, out);
  }
}

function contexts(node: JsonValue, prefix: string, depth: number, selfContext: string, out: TreeValues): void {
  if (!isObject(node)) return;
  for (const [k, v] of Object.entries(node)) {
    const context = `${prefix}.${k}`;
    if (depth > 1) {
      contexts(v, context, depth - 1, selfContext, out);
      continue;
    }
    const values: Record<string, JsonValue> = {};
    leaves(v, '', values);
    if (context === selfContext) {
      delete values.uuid;
      out.self = values;
    } else {
      out[context] = values;
    }
  }
}

/** `api` is the body of `GET /signalk/v1/api/`; its `self` names the self vessel, filed as `self`. */
export function treeValues(api: unknown): TreeValues {
  if (!isObject(api)) throw new Error('a Signal K tree is a JSON object');
  const selfContext = typeof api.self === 'string' ? api.self : '';
  const out: TreeValues = {};
  for (const [group, depth] of Object.entries(DEPTH)) contexts(api[group] ?? null, group, depth, selfContext, out);
  return out;
}
