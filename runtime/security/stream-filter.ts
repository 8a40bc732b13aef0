// Path ACLs on the WebSocket stream, applied around a session rather than inside it: a restricted
// client's session sees bus deltas with only the values it may read, and a model whose current
// values (sent on subscribe and on fixed-period ticks) are filtered the same way.

import { BusDelta } from '../bus/bus.js';
import { filterUpdates } from '../bus/delta.js';
import type { SignalKModel } from '../model/model.js';
import type { CanRead } from './acl.js';

/** The delta with the values and meta `canRead` allows for `context`; undefined when none is left. */
export function readableDelta(msg: BusDelta, context: string, canRead: CanRead): BusDelta | undefined {
  const { updates, whole } = filterUpdates(
    msg.delta.updates,
    (v) => canRead(context, v.path),
    (m) => canRead(context, m.path),
  );
  if (whole) return msg;
  return updates.length === 0 ? undefined : new BusDelta({ ...msg.delta, updates });
}

/** The model as a restricted client sees it: everything as the model has it, but `current()` filtered. */
export function readableModel(model: SignalKModel, canRead: CanRead): SignalKModel {
  const view = Object.create(model) as SignalKModel;
  view.current = function* () {
    for (const v of model.current()) if (canRead(v.context, v.path)) yield v;
  };
  return view;
}
