// Runs plugins' queued work (delta deliveries, and `hal_data` when a device handle has data) in
// batches under one CallGuard run, so a plugin stuck in a loop is stopped within the bound while
// the bus, the HAL and the API stay on the main thread.
// A guarded run costs a watchdog thread (~50-100 µs), so instead of one per delta there is one per
// batch: all plugins with queued deltas are served in one run, which stops starting new deliveries
// after a time slice (the rest continues next turn, I/O in between). Runs start at most every
// MIN_RUN_INTERVAL_MS, so a trickle of deltas does not pay one guarded run each: 50 ms, as a busy
// boat's deltas come steadily, and every run is a thread started and joined plus a wake-up of
// the process (about 0.3 ms of CPU together on a loaded small machine; at 10 ms that was the
// largest cost of 10 plugins on a full bus). Deltas and device data wait at most that long for their
// plugin. A timeout is charged to the plugin that was running (and names the call it was in); a
// trap to the plugin that trapped; the others go on.

import type { CallGuard } from './call-guard.js';
import type { Lineage } from './publisher.js';

/** At most this much plugin work per guarded run (less with a short bound: a quarter of it). */
const MAX_SLICE_MS = 50;
const MIN_RUN_INTERVAL_MS = 50;
/**
 * A plugin with this many deltas queued is served at the next turn, without waiting for the
 * interval: a fast source (a replay) fills the inbox (10,000) faster than 50 ms allow.
 */
const URGENT_QUEUE = 1000;

/**
 * A delta waiting in a plugin's inbox: the bus's JSON text and the lineage its answers get. A class,
 * not an object literal: V8 tracks each literal's allocation site and, seeing nearly all its objects
 * survive a young-generation collection (a fast source keeps a thousand queued), allocates them in
 * the old generation from then on, and every text they hold was promoted with them (measured in the
 * one-plugin replay: 168 of 171 MB promoted, 28 full collections instead of 11; decision 0106).
 * Objects made by `new` have no allocation site.
 */
export class QueuedDelta {
  constructor(
    readonly json: string,
    readonly lineage: Lineage,
  ) {}
}

/** A plugin with queued deliveries, as the scheduler sees it (implemented by PluginRunner). */
export interface DeliveryTarget {
  /**
   * Runs the queued work inside the guarded run (`hal_data` when wanted, then deltas) until none
   * is left or `deadline` (performance.now() value) has passed; returns true when some is left.
   * Throws on a trap.
   */
  deliverQueued(deadline: number): boolean;
  /** The plugin call running now ('delta_handler', 'hal_data'): names a run past the bound. */
  readonly running: string;
  /** After the guarded run: publishes what the plugin emitted meanwhile. */
  flush(): void;
  /** After the guarded run: the plugin trapped or ran past the bound. */
  fail(err: unknown): void;
}

export class DeliveryScheduler {
  private ready = new Set<DeliveryTarget>();
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private lastRun = -Infinity;
  private readonly sliceMs: number;

  constructor(private readonly guard: CallGuard) {
    this.sliceMs = Math.min(MAX_SLICE_MS, guard.timeoutMs / 4);
  }

  /** `target` has work waiting (`queued` deltas): serve it in the next run. */
  wake(target: DeliveryTarget, queued = 0): void {
    this.ready.add(target);
    this.schedule(queued >= URGENT_QUEUE);
  }

  /** Forget `target` (stopped, crashed): its queue is gone. */
  cancel(target: DeliveryTarget): void {
    this.ready.delete(target);
  }

  private schedule(urgent = false): void {
    if (this.immediate !== undefined || this.ready.size === 0) return;
    // A run is already set for the interval's end: only an urgent wake moves it (every offered delta
    // wakes, so no clock read here).
    if (this.timer !== undefined && !urgent) return;
    const wait = urgent ? 0 : this.lastRun + MIN_RUN_INTERVAL_MS - performance.now();
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const run = () => {
      this.timer = undefined;
      this.immediate = undefined;
      this.run();
    };
    if (wait > 0) this.timer = setTimeout(run, wait);
    else this.immediate = setImmediate(run);
  }

  private run(): void {
    if (this.ready.size === 0) return; // everything cancelled meanwhile
    this.lastRun = performance.now();
    const batch = [...this.ready];
    this.ready.clear();
    const deadline = this.lastRun + this.sliceMs;
    const failed: [DeliveryTarget, unknown][] = [];
    const served: DeliveryTarget[] = [];
    /** Index of the target started last: the one running when the bound is hit. */
    let last = -1;
    try {
      this.guard.run(
        () => {
          while (last + 1 < batch.length && performance.now() < deadline) {
            const target = batch[++last]!;
            try {
              if (target.deliverQueued(deadline)) served.push(target);
            } catch (err) {
              failed.push([target, err]);
            }
          }
        },
        () => batch[Math.max(last, 0)]!.running,
      );
    } catch (err) {
      // Only the bound gets here: charge the plugin that was running.
      const runaway = batch[Math.max(last, 0)]!;
      failed.push([runaway, err]);
      const i = served.indexOf(runaway);
      if (i >= 0) served.splice(i, 1);
    }
    // Those not served this time go first, then those with more left: no plugin starves the others.
    for (const target of batch.slice(last + 1)) this.ready.add(target);
    for (const target of served) this.ready.add(target);
    for (const [target, err] of failed) {
      this.ready.delete(target);
      target.fail(err);
    }
    for (const target of batch.slice(0, last + 1)) target.flush();
    // Work left over (a slice ran out): the next turn, after I/O; otherwise the interval applies.
    this.schedule(served.length > 0 || last + 1 < batch.length);
  }
}
