// Feeds the systemd watchdog only while the event loop is healthy. A short timer measures its own
// lateness: a blocked loop fires no timer at all (so no ping), and a loop that keeps stalling
// fires every tick late, which withholds the ping too — systemd then restarts the service.

import { createLogger } from '../../core/log.js';

const log = createLogger('watchdog');

export interface LoopWatchdogOptions {
  /** systemd's WatchdogSec, in ms (from WATCHDOG_USEC). */
  watchdogMs: number;
  /** Sends one WATCHDOG=1; returns false when it could not be sent now (a ping still in flight). */
  ping: () => boolean;
}

export interface WatchdogTiming {
  /** Ping at half the watchdog period, as sd_watchdog_enabled(3) advises. */
  pingEveryMs: number;
  /** How often the loop's health is sampled. */
  tickMs: number;
  /** A tick later than this means the loop was stalled: no ping for that tick. */
  maxLagMs: number;
}

export function watchdogTiming(watchdogMs: number): WatchdogTiming {
  return {
    pingEveryMs: watchdogMs / 2,
    tickMs: Math.min(1000, Math.max(20, watchdogMs / 8)),
    maxLagMs: watchdogMs / 4,
  };
}

export class LoopWatchdog {
  private timer: NodeJS.Timeout | undefined;
  private lastPing = Number.NEGATIVE_INFINITY;
  private expected = 0;
  readonly timing: WatchdogTiming;

  constructor(private readonly opts: LoopWatchdogOptions) {
    this.timing = watchdogTiming(opts.watchdogMs);
  }

  start(): void {
    if (this.timer) return;
    this.schedule();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    this.expected = performance.now() + this.timing.tickMs;
    this.timer = setTimeout(() => this.tick(), this.timing.tickMs);
    // The watchdog must never be what keeps the process alive.
    this.timer.unref();
  }

  private tick(): void {
    const now = performance.now();
    const lag = now - this.expected;
    if (lag > this.timing.maxLagMs) {
      log.limited(
        'warn',
        'loop-lag',
        `event loop stalled ${Math.round(lag)} ms (limit ${Math.round(this.timing.maxLagMs)} ms): watchdog ping withheld`,
      );
    } else if (now - this.lastPing >= this.timing.pingEveryMs && this.opts.ping()) {
      this.lastPing = now;
    }
    this.schedule();
  }
}
