// What a plugin emits during a call into it waits here and is published only after the call has
// returned, so no instance is re-entered; each delta carries the lineage of what it answers.

import type { Delta } from '../../core/delta.js';
import type { DeltaVersion } from '../bus/bus.js';
import { newLineage, type EmittedDelta, type Lineage } from './publisher.js';
import type { DeltaCounts } from './status.js';

export class Outbox {
  /** Lineage given to what the plugin emits during the current call (see publisher.ts). */
  lineage: Lineage = newLineage(1);
  private queued: EmittedDelta[] = [];

  /** `publish` returns how many deltas were cut as feedback; `counts` gets emitted and cut. */
  constructor(
    private readonly publish: (deltas: EmittedDelta[]) => number,
    private readonly counts: DeltaCounts,
  ) {}

  queue(delta: Delta, version: DeltaVersion): void {
    this.queued.push({ delta, lineage: this.lineage, version });
  }

  flush(): void {
    if (this.queued.length === 0) return;
    const batch = this.queued;
    this.queued = [];
    this.counts.emitted += batch.length;
    this.counts.feedbackDropped += this.publish(batch);
  }

  /** Drops what queued unpublished (a module loaded only to read its schema). */
  discard(): void {
    this.queued = [];
  }
}
