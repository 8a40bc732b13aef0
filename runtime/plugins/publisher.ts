// Publishes deltas that plugins emitted. Plugins get deltas asynchronously (runtime/plugins/
// delivery.ts), so each queued delta carries its lineage: the generation (a delta from outside is
// 0, a plugin's answer to it 1...) and the root, the external delta it derives from. Two guards
// keep plugins that answer each other's outputs from flooding the runtime:
// - depth: a chain is cut after MAX_GENERATIONS (two plugins echoing each other forever);
// - breadth: at most MAX_DERIVED deltas derive from one external delta (N plugins that all
//   re-emit on every delta would otherwise multiply as (N-1)^generation).
// What is cut is logged (rate limited) and returned to the plugin's runner, which counts it.

import type { DeltaBus, DeltaVersion } from '../bus/bus.js';
import type { Delta } from '../../core/delta.js';
import { createLogger } from '../../core/log.js';

const log = createLogger('plugins');
export const MAX_GENERATIONS = 16;
export const MAX_DERIVED = 256;

/** Where a delta stands in a chain of plugin outputs; `root` is shared by everything derived from one external delta. */
export interface Lineage {
  generation: number;
  root: { derived: number };
}

/** A new chain: an external delta, or what a plugin emits outside a delta delivery (start, poll, PUT). */
export function newLineage(generation: number): Lineage {
  return { generation, root: { derived: 0 } };
}

/** The lineage of a plugin's answer to a delta of lineage `input`. */
export function answerTo(input: Lineage): Lineage {
  return { generation: input.generation + 1, root: input.root };
}

export interface EmittedDelta {
  delta: Delta;
  lineage: Lineage;
  /** sk_handle_message's version argument (default 1). */
  version?: DeltaVersion;
}

export class EmittedDeltaPublisher {
  private current: Lineage | undefined;

  constructor(private readonly bus: DeltaBus) {}

  /** Lineage of the bus delta being delivered right now: a plugin output's, else a new root (external). */
  lineage(): Lineage {
    return this.current ?? newLineage(0);
  }

  /** Publishes `deltas` emitted by `origin`; returns how many were cut as a feedback chain or fan-out. */
  publish(deltas: EmittedDelta[], origin: string): number {
    let cut = 0;
    const outer = this.current;
    try {
      for (const { delta, lineage, version } of deltas) {
        if (lineage.generation > MAX_GENERATIONS) {
          cut++;
          log.limited(
            'warn',
            `loop:${origin}`,
            `${origin}: delta dropped, it continues a chain of ${MAX_GENERATIONS} plugin outputs answering each other (feedback loop)`,
          );
          continue;
        }
        if (lineage.root.derived >= MAX_DERIVED) {
          cut++;
          log.limited(
            'warn',
            `fanout:${origin}`,
            `${origin}: delta dropped, plugins already emitted ${MAX_DERIVED} deltas derived from one incoming delta (plugins re-emitting each other's outputs)`,
          );
          continue;
        }
        lineage.root.derived++;
        this.current = lineage;
        this.bus.publish(delta, origin, version);
      }
    } finally {
      this.current = outer;
    }
    return cut;
  }
}
