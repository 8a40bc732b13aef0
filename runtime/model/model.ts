// The full Signal K data model: vessels.<urn>.<path> leaves with value, timestamp and $source,
// plus `values` keyed by source once a second source feeds the same path (as signalk-server).

import { sourceRef, type Delta, type Update } from '../../core/delta.js';
import type { JsonValue } from '../../core/json.js';
import { createLogger } from '../../core/log.js';
import { mergedMeta, schemaMeta, type Meta } from './meta.js';

const log = createLogger('model');

export interface LeafSource {
  value: JsonValue;
  timestamp: string;
  sentence?: string;
  pgn?: number;
}

export interface Leaf {
  value: JsonValue;
  timestamp: string;
  $source: string;
  sentence?: string;
  pgn?: number;
  meta?: Meta;
  values?: Record<string, LeafSource>;
}

/** One current value, as handed to subscribers that want the cached state. */
export interface CurrentValue {
  context: string;
  path: string;
  value: JsonValue;
  timestamp: string;
  $source: string;
}

type Node = { [key: string]: unknown };

const VERSION = '1.7.0';

function isNode(v: unknown): v is Node {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isLeaf(v: unknown): v is Leaf {
  return isNode(v) && 'value' in v && typeof v.$source === 'string' && typeof v.timestamp === 'string';
}

let lastMs = -1;
let lastIso = '';

/** The current time as ISO 8601 text, made once per millisecond: a fast source sends many updates per millisecond. */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

// Path segments that would reach into Object.prototype are refused.
const FORBIDDEN = new Set(['__proto__', 'prototype', 'constructor']);

export class SignalKModel {
  readonly selfContext: string;
  private readonly root: Node;
  /** context → path → leaf: flat index for subscriptions and snapshots. */
  private readonly index = new Map<string, Map<string, Leaf>>();
  /** context → its node in the tree: resolved once, not per delta. */
  private readonly contextNodes = new Map<string, Node>();

  constructor(readonly selfUrn: string) {
    this.selfContext = `vessels.${selfUrn}`;
    this.root = { version: VERSION, self: this.selfContext, vessels: { [selfUrn]: { uuid: selfUrn } }, sources: {} };
  }

  /** Resolves `vessels.self` and an absent context to the self vessel's context. */
  resolveContext(context: string | undefined): string {
    if (!context || context === 'vessels.self') return this.selfContext;
    return context;
  }

  apply(delta: Delta): void {
    const context = this.resolveContext(delta.context);
    const contextNode = this.contextNode(context);
    if (!contextNode) return;
    let paths = this.index.get(context);
    if (!paths) this.index.set(context, (paths = new Map()));
    // Updates without a timestamp (most NMEA 0183 sentences carry no time) are stamped "now", made lazily.
    let now: string | undefined;
    for (const update of delta.updates) {
      const ref = sourceRef(update);
      const timestamp = update.timestamp ?? (now ??= isoNow());
      this.noteSource(update, ref, timestamp);
      const values = update.values;
      if (values) {
        for (let i = 0; i < values.length; i++) {
          const pv = values[i];
          // A path seen before: its leaf, straight from the index (a leaf is changed in place, never replaced).
          const leaf = paths.get(pv.path);
          if (leaf) this.updateLeaf(leaf, pv.value, ref, timestamp, update);
          else this.setValue(context, contextNode, paths, pv.path, pv.value, ref, timestamp, update);
        }
      }
      if (update.meta) {
        for (const m of update.meta) {
          const parts = m.path.split('.');
          if (parts.some((p) => FORBIDDEN.has(p) || p === '') || !isNode(m.value)) continue;
          const node = this.nodeAt(contextNode, parts);
          if (node) node.meta = { ...(isNode(node.meta) ? node.meta : {}), ...m.value };
        }
      }
    }
  }

  /** The node of a context, made where missing; undefined for a malformed context. Cached per context. */
  private contextNode(context: string): Node | undefined {
    const cached = this.contextNodes.get(context);
    if (cached) return cached;
    const parts = context.split('.');
    if (parts.length < 2 || parts.some((p) => FORBIDDEN.has(p) || p === '')) return undefined;
    const node = this.nodeAt(this.root, parts);
    if (node) this.contextNodes.set(context, node);
    return node;
  }

  private updateLeaf(leaf: Leaf, value: JsonValue, ref: string, timestamp: string, update: Update): void {
    if (leaf.$source !== ref && !leaf.values) {
      leaf.values = { [leaf.$source]: { value: leaf.value, timestamp: leaf.timestamp } };
    }
    leaf.value = value;
    leaf.timestamp = timestamp;
    leaf.$source = ref;
    const sentence = update.source?.sentence;
    const pgn = update.source?.pgn;
    if (typeof sentence === 'string' && sentence !== '') leaf.sentence = sentence;
    if (typeof pgn === 'number') leaf.pgn = pgn;
    if (leaf.values) {
      const entry: LeafSource = { value, timestamp };
      if (typeof sentence === 'string' && sentence !== '') entry.sentence = sentence;
      if (typeof pgn === 'number') entry.pgn = pgn;
      leaf.values[ref] = entry;
    }
  }

  private setValue(
    context: string,
    contextNode: Node,
    paths: Map<string, Leaf>,
    path: string,
    value: JsonValue,
    ref: string,
    timestamp: string,
    update: Update,
  ): void {
    if (path === '') {
      // Empty path: the value's keys are properties of the context itself (name, mmsi, ...), never
      // a branch other sources' values live under (`{"navigation": 0}` would wipe them all).
      if (isNode(value)) {
        for (const [k, v] of Object.entries(value)) {
          if (FORBIDDEN.has(k)) continue;
          if (this.isBranch(context, k))
            log.limited(
              'warn',
              `branch:${ref}`,
              `${ref}: empty-path value for ${context} tried to replace the branch ${k}; ignored`,
            );
          else {
            // The key may have held the node of a deeper context (`vessels.x.k`).
            if (isNode(contextNode[k])) this.contextNodes.clear();
            contextNode[k] = v;
          }
        }
      }
      return;
    }
    const parts = path.split('.');
    if (parts.some((p) => FORBIDDEN.has(p) || p === '')) return;
    const parent = this.nodeAt(contextNode, parts.slice(0, -1), false);
    if (!parent) {
      log.limited('warn', `under:${ref}`, `${ref}: ${path} lies inside another value or a leaf; ignored`);
      return;
    }
    const key = parts[parts.length - 1];
    const existing = parent[key];
    if (isLeaf(existing)) {
      this.updateLeaf(existing, value, ref, timestamp, update);
      paths.set(path, existing);
      return;
    }
    // A node turned into a leaf is a new object: a deeper context cached at it would be stale.
    if (isNode(existing)) this.contextNodes.clear();
    const leaf: Leaf = { ...(isNode(existing) ? existing : {}), value, timestamp, $source: ref };
    const sentence = update.source?.sentence;
    const pgn = update.source?.pgn;
    if (typeof sentence === 'string' && sentence !== '') leaf.sentence = sentence;
    if (typeof pgn === 'number') leaf.pgn = pgn;
    // A new leaf carries its schema metadata (shared, frozen) under any a delta sent before it.
    const meta = mergedMeta(schemaMeta(context, path), leaf.meta);
    if (meta) leaf.meta = meta;
    parent[key] = leaf;
    paths.set(path, leaf);
  }

  /** Whether values are stored under `key` of the context (an index path equals it or starts with it). */
  private isBranch(context: string, key: string): boolean {
    for (const path of this.index.get(context)?.keys() ?? [])
      if (path === key || path.startsWith(`${key}.`)) return true;
    return false;
  }

  private noteSource(update: Update, ref: string, timestamp: string): void {
    const s = update.source;
    if (!s || FORBIDDEN.has(s.label)) return;
    const sources = this.root.sources as Node;
    const bucket = (isNode(sources[s.label]) ? sources[s.label] : (sources[s.label] = {})) as Node;
    if (s.type === 'NMEA0183' && s.talker && !FORBIDDEN.has(s.talker)) {
      const talker = (
        isNode(bucket[s.talker]) ? bucket[s.talker] : (bucket[s.talker] = { talker: s.talker, sentences: {} })
      ) as Node;
      if (s.sentence) (talker.sentences as Node)[s.sentence] = timestamp;
    } else if (s.type === 'NMEA2000' && s.src !== undefined && !FORBIDDEN.has(String(s.src))) {
      const dev = (isNode(bucket[s.src]) ? bucket[s.src] : (bucket[s.src] = { n2k: { src: s.src, pgns: {} } })) as Node;
      if (s.pgn !== undefined) ((dev.n2k as Node).pgns as Node)[String(s.pgn)] = timestamp;
    } else {
      bucket.type = s.type ?? 'unknown';
      bucket.label = s.label;
      bucket.lastUpdate = timestamp;
      bucket.ref = ref;
    }
  }

  /** The node at `parts`, made where missing. `intoLeaves` false: undefined rather than a node inside a leaf (a value's own fields). */
  private nodeAt(start: Node, parts: string[], intoLeaves = true): Node | undefined {
    let node = start;
    for (const part of parts) {
      let next = node[part];
      if (next === undefined) node[part] = next = {};
      if (!isNode(next) || (!intoLeaves && isLeaf(next))) return undefined;
      node = next;
    }
    return node;
  }

  /** The subtree at a REST path (`vessels/self/navigation`), or undefined. `self` resolves to the urn. */
  get(parts: string[]): unknown {
    let node: unknown = this.root;
    for (let i = 0; i < parts.length; i++) {
      const part = i === 1 && parts[0] === 'vessels' && parts[1] === 'self' ? this.selfUrn : parts[i];
      if (!isNode(node) || FORBIDDEN.has(part) || !Object.prototype.hasOwnProperty.call(node, part)) return undefined;
      node = node[part];
    }
    return node;
  }

  /** The whole tree (shared, not copied: callers serialise it, never mutate it). */
  full(): unknown {
    return this.root;
  }

  /** Current values, for subscribers that want the cached state first. */
  *current(): Generator<CurrentValue> {
    for (const [context, paths] of this.index) {
      for (const [path, leaf] of paths) {
        yield { context, path, value: leaf.value, timestamp: leaf.timestamp, $source: leaf.$source };
      }
    }
  }

  /** Metadata of a dotted path in a context: the schema's, overlaid by what deltas carried; undefined when none is known. */
  metaAt(context: string, path: string): Meta | undefined {
    const resolved = this.resolveContext(context);
    const parts = path.split('.');
    if (parts.some((p) => FORBIDDEN.has(p) || p === '')) return undefined;
    const node = this.get([...resolved.split('.'), ...parts]);
    return mergedMeta(schemaMeta(resolved, path), isNode(node) ? node.meta : undefined);
  }

  /** Value at a dotted path in a context (`navigation.position`), or undefined. */
  valueAt(context: string, path: string): Leaf | undefined {
    return this.index.get(this.resolveContext(context))?.get(path);
  }
}
