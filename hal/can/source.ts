// A CAN data source: its interface (shared through CanInterfaces with plugins granted it) →
// NMEA 2000 codec → bus, with per-source counters for the status API. Frames count as `lines`;
// malformed input counts by reason in `errors`, the driver's drops (bad log lines, 11-bit frames)
// included.

import type { DeltaBus } from '../../runtime/bus/bus.js';
import { createLogger } from '../../core/log.js';
import { N2kCodec } from '../codecs/n2k/codec.js';
import type { DataSource, SourceStatus } from '../source.js';
import type { CanFrame } from './frame.js';
import type { CanInterfaces, CanLease } from './interfaces.js';
import type { CanSourceSettings } from './settings.js';
import { CanReplayDriver } from './replay.js';
import { SocketCanDriver, type SocketCanOptions } from './socketcan.js';

const log = createLogger('source');

export class CanSource implements DataSource {
  readonly id: string;
  private readonly codec: N2kCodec;
  private lease: CanLease | undefined;
  private frames = 0;
  private deltas = 0;
  private readonly errors: Record<string, number> = {};
  private readonly skipped: Record<string, number> = {};
  private lastError: string | undefined;

  /** Defines the interface's driver in `interfaces` now, so plugins granted it share this source's driver. */
  constructor(
    private readonly settings: CanSourceSettings,
    private readonly bus: DeltaBus,
    private readonly interfaces: CanInterfaces,
    /** The SocketCAN driver's seams (sysfs, binding), for the self-test's tests. */
    socketcan: Omit<SocketCanOptions, 'iface'> = {},
  ) {
    this.id = settings.id;
    this.codec = new N2kCodec(settings.id);
    if (settings.driver === 'candump') {
      const { file, rate, loop } = settings;
      interfaces.define(settings.interface, () => new CanReplayDriver({ file, rate, loop }));
    } else {
      interfaces.define(settings.interface, (iface) => new SocketCanDriver({ ...socketcan, iface }));
    }
  }

  start(): void {
    if (this.lease) return;
    this.lease = this.interfaces.acquire(this.settings.interface);
    this.lease.onFrame((frame) => this.frame(frame));
  }

  async stop(): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    await lease?.release();
  }

  status(): SourceStatus {
    const lease = this.lease;
    const errors = { ...this.errors };
    for (const [reason, n] of Object.entries(lease?.dropped ?? {})) errors[reason] = (errors[reason] ?? 0) + n;
    const status: SourceStatus = {
      id: this.id,
      type: this.settings.type,
      state: lease?.state ?? 'stopped',
      lines: this.frames,
      deltas: this.deltas,
      errors,
      skipped: { ...this.skipped },
    };
    // The interface's trouble (absent, down) matters more than the last bad frame.
    const lastError = lease?.lastError ?? this.lastError;
    if (lastError !== undefined) status.lastError = lastError;
    return status;
  }

  private frame(frame: CanFrame): void {
    this.frames++;
    const result = this.codec.decode(frame);
    if (result.kind === 'delta') {
      this.bus.publishTrusted(result.delta);
      this.deltas++;
    } else if (result.kind === 'skip') {
      this.skipped[result.reason] = (this.skipped[result.reason] ?? 0) + 1;
    } else if (result.kind === 'error') {
      this.fail(result.reason, result.detail);
    }
  }

  private fail(reason: string, detail: string): void {
    this.errors[reason] = (this.errors[reason] ?? 0) + 1;
    this.lastError = `${reason}: ${detail}`;
    log.limited('warn', `${this.id}:${reason}`, `${this.id}: ${reason}: ${detail}`);
  }
}
