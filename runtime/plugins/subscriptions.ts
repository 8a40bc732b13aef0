// Which bus deltas a plugin receives: as upstream's WasmSubscriptionManager, the whole delta goes
// to the plugin when any of its values matches one of the plugin's subscriptions.

import type { Delta } from '../../core/delta.js';
import { contextMatcher, matchesPattern, memoize } from '../bus/subscription.js';
import type { PluginSubscription } from './discovery.js';

export type DeltaFilter = (delta: Delta) => boolean;

/**
 * A filter for the plugin's declared subscriptions; undefined subscriptions mean every delta.
 * `resolveContext` maps an absent context or `vessels.self` to the self vessel's context.
 */
export function subscriptionFilter(
  subs: PluginSubscription[] | undefined,
  selfContext: string,
  resolveContext: (context: string | undefined) => string,
): DeltaFilter {
  if (subs === undefined) return () => true;
  const matchers = subs.map((s) => ({ context: contextMatcher(s.context, selfContext), path: s.path }));
  // Per context, the patterns that apply; per set of patterns, whether a path matches one: each
  // worked out once. Contexts share a set (every AIS target under `*`), so the sets stay few.
  const bySet = new Map<string, (path: string) => boolean>();
  const byContext = memoize((context) => {
    const applying = matchers.filter((m) => m.context(context));
    if (applying.length === 0) return undefined;
    const key = applying.map((m) => matchers.indexOf(m)).join(',');
    let wanted = bySet.get(key);
    if (wanted === undefined) {
      if (bySet.size >= 64) bySet.clear(); // a manifest with many context patterns: still bounded
      const paths = applying.map((m) => m.path);
      wanted = memoize((path) => paths.some((p) => matchesPattern(p, path)));
      bySet.set(key, wanted);
    }
    return wanted;
  });
  return (delta) => {
    const wanted = byContext(resolveContext(delta.context));
    if (wanted === undefined) return false;
    for (const update of delta.updates) {
      const values = update.values;
      if (!values) continue;
      for (let i = 0; i < values.length; i++) if (wanted(values[i].path)) return true;
    }
    return false;
  };
}
