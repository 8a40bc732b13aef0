// What grew between two V8 heap snapshots (`.heapsnapshot`, as `--heapsnapshot-signal` writes them):
// self sizes summed by kind (an object's constructor name; strings, code, arrays by type), and the
// kinds that grew most. The soak takes one after warm-up and one at the end, so RSS growth is
// explained from the heap rather than guessed.

import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: unknown[] } };
  nodes: number[];
  strings: string[];
}

/** Bytes by kind: `object:<constructor>` for objects, the node type for the rest. */
export function heapByKind(file: string): Map<string, { bytes: number; count: number }> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0] as string[];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const out = new Map<string, { bytes: number; count: number }>();
  for (let i = 0; i < snap.nodes.length; i += fields.length) {
    const type = types[snap.nodes[i + typeAt]!] ?? 'unknown';
    const kind = type === 'object' || type === 'closure' ? `${type}:${snap.strings[snap.nodes[i + nameAt]!]}` : type;
    const entry = out.get(kind) ?? { bytes: 0, count: 0 };
    entry.bytes += snap.nodes[i + sizeAt]!;
    entry.count++;
    out.set(kind, entry);
  }
  return out;
}

/** Lines naming the heap's total at each snapshot and the `top` kinds that grew most between them. */
export function heapGrowth(before: string, after: string, top = 12): string[] {
  const a = heapByKind(before);
  const b = heapByKind(after);
  const total = (m: Map<string, { bytes: number }>) => [...m.values()].reduce((n, e) => n + e.bytes, 0);
  const mb = (n: number) => `${(n / 1048576).toFixed(2)} MB`;
  const growth = [...b].map(([kind, e]) => ({
    kind,
    bytes: e.bytes - (a.get(kind)?.bytes ?? 0),
    count: e.count - (a.get(kind)?.count ?? 0),
  }));
  growth.sort((x, y) => y.bytes - x.bytes);
  return [
    `heap (live objects in the snapshots): ${mb(total(a))} → ${mb(total(b))}`,
    ...growth
      .slice(0, top)
      .map((g) => `  ${g.bytes >= 0 ? '+' : ''}${mb(g.bytes)} ${g.count >= 0 ? '+' : ''}${g.count} × ${g.kind}`),
  ];
}
