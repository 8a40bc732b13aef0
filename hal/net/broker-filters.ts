// Which topic filters to subscribe on the broker for a set of local ones. A filter covered by
// another (`boat/+/temp` under `#`) is left out: the broker would otherwise be allowed to send a
// message matching both twice (MQTT 3.1.1 §3.3.5; mosquitto does), and every local listener would
// see it twice. The covering filter takes the highest QoS of those it stands for.

import { filterCovers } from './topic-filter.js';

export function brokerFilters(local: ReadonlyMap<string, number>): Map<string, number> {
  const filters = [...local.keys()];
  // Of two filters covering each other (`#` and `+/#`) the first in code-unit order stays.
  const absorbs = (g: string, f: string): boolean => g !== f && filterCovers(g, f) && !(filterCovers(f, g) && f < g);
  const kept = filters.filter((f) => !filters.some((g) => absorbs(g, f)));
  const out = new Map<string, number>();
  for (const g of kept) {
    let qos = local.get(g) ?? 0;
    for (const f of filters) if (absorbs(g, f)) qos = Math.max(qos, local.get(f) ?? 0);
    out.set(g, qos);
  }
  return out;
}
