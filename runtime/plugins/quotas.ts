// One plugin's share of what the host keeps and spends for it (limits.plugins): bytes published per
// second, the size of one value, the distinct paths and the bytes of latest values the data model
// keeps for it, log lines per second, configuration saves per second, and its time on the main
// thread. A refused delta, line or save is counted per kind and shown in the plugin's status.

import type { Delta } from '../../core/delta.js';
import type { ConfigBounds, PluginQuotas } from '../security/limits.js';
import { TokenBucket } from '../security/token-bucket.js';

/** A plugin not throttled for this long is no longer "held at its share". */
const CPU_BREAK_MS = 2000;
/** Log and config buckets hold this many seconds' worth: short bursts pass. */
const BURST_SECONDS = 5;

export interface QuotaRefusals {
  publishRate: number;
  valueSize: number;
  paths: number;
  storedBytes: number;
  logLines: number;
  configWrites: number;
}

export interface QuotaStatus {
  refused: QuotaRefusals;
  paths: number;
  storedValueBytes: number;
  cpu: { usedMs: number; throttled: number; throttledNow: boolean; share: number };
}

/**
 * Time a plugin spends in calls on the main thread, against its share: a bucket of milliseconds
 * refilled at `share` of real time, holding one second's worth. Work is deferred while the bucket
 * is empty (throttled); a plugin throttled again and again without a break of CPU_BREAK_MS for
 * `overMs` is over its share for good.
 */
export class CpuShare {
  private readonly bucket: TokenBucket;
  private throttledSince: number | undefined;
  private lastThrottle = -Infinity;
  usedMs = 0;
  throttled = 0;

  constructor(
    readonly share: number,
    private readonly overMs: number,
  ) {
    this.bucket = new TokenBucket(share * 1000, share * 1000);
  }

  /** Milliseconds the plugin may run now (0 or less: throttled). */
  available(): number {
    return this.bucket.available();
  }

  charge(ms: number): void {
    this.usedMs += ms;
    this.bucket.charge(ms);
  }

  /** Whether work may run now; when not, the time it waits is counted as throttling. */
  allowed(): boolean {
    if (this.bucket.available() > 0) return true;
    const now = performance.now();
    if (now - this.lastThrottle > CPU_BREAK_MS) this.throttledSince = now;
    this.lastThrottle = now;
    this.throttled++;
    return false;
  }

  /** Milliseconds until the plugin may run again. */
  waitMs(): number {
    return Math.max(1, this.bucket.msUntil(1));
  }

  /** Held at its share without a break for `overMs`. */
  over(): boolean {
    const now = performance.now();
    return (
      this.throttledSince !== undefined &&
      now - this.lastThrottle <= CPU_BREAK_MS &&
      now - this.throttledSince >= this.overMs
    );
  }

  throttledNow(): boolean {
    return performance.now() - this.lastThrottle <= CPU_BREAK_MS;
  }

  /** A fresh start: the history of the previous instance does not count. */
  reset(): void {
    this.throttledSince = undefined;
    this.lastThrottle = -Infinity;
  }
}

export class PluginQuota {
  private readonly publish: TokenBucket;
  private readonly logLines: TokenBucket;
  private readonly configWrites: TokenBucket;
  /** `context\0path` → bytes of the latest value published there. */
  private readonly stored = new Map<string, number>();
  private storedBytes = 0;
  readonly refused: QuotaRefusals = {
    publishRate: 0,
    valueSize: 0,
    paths: 0,
    storedBytes: 0,
    logLines: 0,
    configWrites: 0,
  };
  readonly cpu: CpuShare;

  constructor(
    readonly q: PluginQuotas,
    /** Bounds of a saved configuration. */
    readonly config: ConfigBounds,
  ) {
    this.publish = new TokenBucket(q.publishBytesPerSecond, q.publishBytesPerSecond);
    this.logLines = new TokenBucket(q.logLinesPerSecond, q.logLinesPerSecond * BURST_SECONDS);
    this.configWrites = new TokenBucket(q.configWritesPerSecond, q.configWritesPerSecond * BURST_SECONDS);
    this.cpu = new CpuShare(q.cpuShare, q.cpuOverMs);
  }

  /** Refuses, before it is parsed, a delta text bigger than one second's publishing: it could never pass. */
  admitText(bytes: number): string | undefined {
    if (bytes <= this.q.publishBytesPerSecond) return undefined;
    this.refused.publishRate++;
    return `delta of ${bytes} bytes is larger than limits.plugins.publishBytesPerSecond (${this.q.publishBytesPerSecond})`;
  }

  /**
   * Whether a delta of `bytes` JSON may be published; the reason when not. All or nothing: a
   * refused delta changes no count but its refusal's.
   */
  admitDelta(delta: Delta, bytes: number): string | undefined {
    const q = this.q;
    const context = delta.context ?? 'vessels.self';
    const sizes = new Map<string, number>();
    for (const u of delta.updates) {
      for (const pv of u.values ?? []) {
        // The whole delta's text bounds each value's: only a big delta needs its values measured.
        const size = bytes <= q.maxValueBytes ? bytes : (JSON.stringify(pv.value) ?? '').length;
        if (size > q.maxValueBytes) {
          this.refused.valueSize++;
          return `value at ${pv.path} is ${size} bytes of JSON, more than limits.plugins.maxValueBytes (${q.maxValueBytes})`;
        }
        sizes.set(`${context}\u0000${pv.path}`, size);
      }
    }
    let added = 0;
    let growth = 0;
    for (const [key, size] of sizes) {
      const before = this.stored.get(key);
      if (before === undefined) added++;
      growth += size - (before ?? 0);
    }
    if (this.stored.size + added > q.maxPaths) {
      this.refused.paths++;
      return `publishing under ${added} new path(s) would pass limits.plugins.maxPaths (${q.maxPaths} distinct paths per plugin)`;
    }
    if (this.storedBytes + growth > q.storedValueBytes) {
      this.refused.storedBytes++;
      return `the latest values of this plugin would take more than limits.plugins.storedValueBytes (${q.storedValueBytes} bytes)`;
    }
    if (!this.publish.take(bytes)) {
      this.refused.publishRate++;
      return `publishing more than limits.plugins.publishBytesPerSecond (${q.publishBytesPerSecond} bytes per second)`;
    }
    for (const [key, size] of sizes) this.stored.set(key, size);
    this.storedBytes += growth;
    return undefined;
  }

  /** Whether one more log, status or error line may be written now. */
  admitLogLine(): boolean {
    if (this.logLines.take()) return true;
    this.refused.logLines++;
    return false;
  }

  /** Whether one more configuration save may happen now; the reason when not. */
  admitConfigWrite(): string | undefined {
    if (this.configWrites.take()) return undefined;
    this.refused.configWrites++;
    return `more than limits.plugins.configWritesPerSecond (${this.q.configWritesPerSecond}) configuration saves per second`;
  }

  status(): QuotaStatus {
    const cpu = this.cpu;
    return {
      refused: { ...this.refused },
      paths: this.stored.size,
      storedValueBytes: this.storedBytes,
      cpu: {
        usedMs: Math.round(cpu.usedMs),
        throttled: cpu.throttled,
        throttledNow: cpu.throttledNow(),
        share: cpu.share,
      },
    };
  }
}
