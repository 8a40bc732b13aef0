// A CAN data source: its interface (shared through CanInterfaces with plugins granted it) →
// NMEA 2000 codec → bus, with per-source counters for the status API. Frames count as `lines`;
// malformed input counts by reason in `errors`, the driver's drops (bad log lines, 11-bit frames)
// included. The codec (canboatjs + n2k-signalk, ~40 MB of PGN tables and code) is loaded when the
// first CAN source starts, so a boat without NMEA 2000 does not carry it.

import type { DeltaBus } from '../../runtime/bus/bus.js';
import { createLogger } from '../../runtime/log.js';
import type { N2kCodec } from '../codecs/n2k/codec.js';
import type { DataSource, SourceStatus } from '../source.js';
import type { CanFrame } from './frame.js';
import type { CanInterfaces, CanLease } from './interfaces.js';
import type { CanSourceSettings } from './settings.js';
import { CanReplayDriver } from './replay.js';
import { SocketCanDriver } from './socketcan.js';

const log = createLogger('source');

export class CanSource implements DataSource {
  readonly id: string;
  private lease: CanLease | undefined;
  private starting: Promise<void> | undefined;
  private wanted = false;
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
  ) {
    this.id = settings.id;
    if (settings.driver === 'candump') {
      const { file, rate, loop } = settings;
      interfaces.define(settings.interface, () => new CanReplayDriver({ file, rate, loop }));
    } else {
      interfaces.define(settings.interface, (iface) => new SocketCanDriver({ iface }));
    }
  }

  start(): void {
    this.wanted = true;
    if (this.lease || this.starting) return;
    this.starting = import('../codecs/n2k/codec.js').then(
      ({ N2kCodec }) => {
        this.starting = undefined;
        if (!this.wanted || this.lease) return;
        const codec = new N2kCodec(this.settings.id);
        this.lease = this.interfaces.acquire(this.settings.interface);
        this.lease.onFrame((frame) => this.frame(codec, frame));
      },
      (err: unknown) => {
        this.starting = undefined;
        this.lastError = `the NMEA 2000 codec could not be loaded: ${(err as Error).message}`;
        log.error(`${this.id}: ${this.lastError}`);
      },
    );
  }

  async stop(): Promise<void> {
    this.wanted = false;
    await this.starting;
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

  private frame(codec: N2kCodec, frame: CanFrame): void {
    this.frames++;
    const result = codec.decode(frame);
    if (result.kind === 'delta') {
      const refused = this.bus.publish(result.delta, `source ${this.id}`);
      if (refused === undefined) this.deltas++;
      else this.fail('rejected', refused);
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
