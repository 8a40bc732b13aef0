// `sendMeta=all` on the stream: before the first value of a path goes to a client, a meta delta
// tells it the path's units and description (and those of its parent branches), as signalk-server
// does. Metadata that deltas carry later reaches the client as the deltas themselves.

import type { Delta, Update } from '../../core/delta.js';
import type { Meta } from '../model/meta.js';

export interface MetaLookup {
  metaAt(context: string, path: string): Meta | undefined;
}

export class MetaAnnouncer {
  /** `context\0path` of every path (and parent branch) whose metadata this client has been sent or was found to have none. */
  private readonly announced = new Set<string>();

  constructor(private readonly model: MetaLookup) {}

  /** The meta delta to send before `updates` go out in `context`, or undefined when every path is known to the client. */
  before(context: string, updates: readonly Update[]): Delta | undefined {
    let meta: { path: string; value: Meta }[] | undefined;
    let timestamp: string | undefined;
    for (const u of updates) {
      const values = u.values;
      if (!values) continue;
      for (let i = 0; i < values.length; i++) {
        const path = values[i].path;
        if (path === '' || this.announced.has(`${context}\u0000${path}`)) continue;
        // The path, then its parents down to two segments (`propulsion.port`), until one was announced.
        const parts = path.split('.');
        for (let n = parts.length; n > 1; n--) {
          const prefix = n === parts.length ? path : parts.slice(0, n).join('.');
          const key = `${context}\u0000${prefix}`;
          if (this.announced.has(key)) break;
          this.announced.add(key);
          const value = this.model.metaAt(context, prefix);
          if (value === undefined) continue;
          (meta ??= []).push({ path: prefix, value });
          timestamp ??= u.timestamp;
        }
      }
    }
    if (!meta) return undefined;
    return { context, updates: [{ timestamp: timestamp ?? new Date().toISOString(), meta }] };
  }
}
