// Which bus deltas a plugin receives: as upstream's WasmSubscriptionManager, the whole delta goes
// to the plugin when any of its values matches one of the plugin's subscriptions.

import type { Delta } from '../../core/delta.js';
import { contextMatcher, matchesPattern } from '../bus/subscription.js';
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
  return (delta) => {
    const context = resolveContext(delta.context);
    for (const m of matchers) {
      if (!m.context(context)) continue;
      for (const update of delta.updates) {
        const values = update.values;
        if (!values) continue;
        for (let i = 0; i < values.length; i++) if (matchesPattern(m.path, values[i].path)) return true;
      }
    }
    return false;
  };
}
