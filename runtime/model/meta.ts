// Signal K metadata (units, description, enum, properties) for a path: what @signalk/signalk-schema
// knows of it, overlaid by what deltas carried (`updates[].meta`, kept in the model's nodes).
// The schema's table is read on first use only, so a runtime with no data never pays for it.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isRecord, type JsonValue } from '../../core/json.js';

export type Meta = { readonly [key: string]: JsonValue };

/** One level of the schema's key tree; `*` and `RegExp` segments (ids, instance names) match any one segment. */
interface MetaNode {
  children: Map<string, MetaNode>;
  any?: MetaNode;
  meta?: Meta;
}

const newNode = (): MetaNode => ({ children: new Map() });

let tree: MetaNode | undefined;

/** Schema metadata is shared by every leaf that carries it: frozen, so no holder can change it for the others. */
function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

function loadTree(): MetaNode {
  // The package's index also loads its JSON-schema validator and lodash: only the table is needed.
  const file = createRequire(import.meta.url).resolve('@signalk/signalk-schema/dist/keyswithmetadata.json');
  const table: unknown = JSON.parse(readFileSync(file, 'utf8'));
  const root = newNode();
  if (!isRecord(table)) return root;
  for (const [key, meta] of Object.entries(table)) {
    if (!isRecord(meta) || Object.keys(meta).length === 0) continue;
    let node = root;
    for (const segment of key.split('/').slice(1)) {
      if (segment === '*' || segment === 'RegExp') node = node.any ??= newNode();
      else {
        let next = node.children.get(segment);
        if (!next) node.children.set(segment, (next = newNode()));
        node = next;
      }
    }
    node.meta = deepFreeze(meta as Meta);
  }
  return root;
}

function find(node: MetaNode, parts: string[], i: number): Meta | undefined {
  if (i === parts.length) return node.meta;
  const exact = node.children.get(parts[i]);
  const found = exact && find(exact, parts, i + 1);
  return found ?? (node.any && find(node.any, parts, i + 1));
}

/** The schema names the aids-to-navigation group `aton`; contexts (and signalk-server) say `atons`. */
const SCHEMA_ROOT: Record<string, string> = { atons: 'aton' };

/** The schema's metadata of `path` in `context` (`vessels.<urn>`, `atons.<urn>`, ...), or undefined. */
export function schemaMeta(context: string, path: string): Meta | undefined {
  const dot = context.indexOf('.');
  if (dot < 0 || path === '') return undefined;
  const root = context.slice(0, dot);
  tree ??= loadTree();
  // The id may hold dots (`urn:mrn:...` does not, but a client's context might): it is one segment here.
  return find(tree, [SCHEMA_ROOT[root] ?? root, '*', ...path.split('.')], 0);
}

/** Schema metadata with delta-carried metadata over it; undefined when neither has any. */
export function mergedMeta(schema: Meta | undefined, carried: unknown): Meta | undefined {
  if (!isRecord(carried)) return schema;
  return { ...schema, ...(carried as Meta) };
}

/** What the REST answer needs of the model. */
interface MetaSource {
  resolveContext(context: string | undefined): string;
  metaAt(context: string, path: string): Meta | undefined;
}

/**
 * A REST path ending in `meta` (`vessels/self/navigation/speedThroughWater/meta`) or naming one of
 * its keys (`.../meta/units`): the metadata, also for known paths that have no value yet (as
 * signalk-server answers). undefined for any other path, or when nothing is known.
 */
export function metaAtApiPath(model: MetaSource, segments: string[]): JsonValue | undefined {
  const at = segments.lastIndexOf('meta');
  // A context type, an id and at least one path segment before `meta`; at most one key after it.
  if (at < 3 || at < segments.length - 2) return undefined;
  const meta = model.metaAt(model.resolveContext(`${segments[0]}.${segments[1]}`), segments.slice(2, at).join('.'));
  if (meta === undefined || at === segments.length - 1) return meta;
  const key = segments[at + 1];
  return Object.prototype.hasOwnProperty.call(meta, key) ? meta[key] : undefined;
}
