// Current values (from the model) as deltas: what a client gets on subscription and on every tick
// of a fixed or ideal subscription.

import type { Delta, Update } from '../../core/delta.js';
import type { CurrentValue, SignalKModel } from '../model/model.js';

/** Groups values into one delta per context and one update per ($source, timestamp). */
export function valuesToDeltas(values: Iterable<CurrentValue>): Delta[] {
  const byContext = new Map<string, Map<string, Update>>();
  for (const v of values) {
    let updates = byContext.get(v.context);
    if (!updates) byContext.set(v.context, (updates = new Map()));
    const key = `${v.$source}\u0000${v.timestamp}`;
    let update = updates.get(key);
    if (!update) updates.set(key, (update = { $source: v.$source, timestamp: v.timestamp, values: [] }));
    update.values?.push({ path: v.path, value: v.value });
  }
  return [...byContext].map(([context, updates]) => ({ context, updates: [...updates.values()] }));
}

/** The model's current values that `wanted` accepts. */
export function currentValues(model: SignalKModel, wanted: (v: CurrentValue) => boolean): CurrentValue[] {
  const out: CurrentValue[] = [];
  for (const v of model.current()) if (wanted(v)) out.push(v);
  return out;
}
