// Data sources from settings: driver (serial device, replayed log, UDP, TCP) → line framing → NMEA 0183
// codec → bus, with per-source counters for the status API.

import type { DeltaBus } from '../runtime/bus/bus.js';
import type { SourceSettings } from '../runtime/config/settings.js';
import { createLogger } from '../core/log.js';
import { Nmea0183Codec } from './codecs/nmea0183/codec.js';
import { LineFramer, type LineSink } from './framing.js';
import type { DataSource, SourceState, SourceStatus } from './source.js';
import { ReplayDriver } from './serial/replay.js';
import { TcpDriver } from './net/tcp-source.js';
import { UdpDriver } from './net/udp-source.js';
import type { HalDevices } from './devices.js';
import { CanSource } from './can/source.js';
import type { SerialLease, SerialPorts } from './serial/ports.js';

const log = createLogger('source');

/** What a source needs from its driver: start, stop, and where it stands. */
interface Driver {
  readonly state: SourceState;
  readonly lastError: string | undefined;
  /** What was missed while the device was away, for drivers of devices that come and go. */
  outages?(): { count: number; downMs: number };
  open(): void;
  close(): Promise<void>;
}

/** Counts and publishes what the codec makes of each line; never throws. */
class NmeaPipeline implements LineSink {
  readonly codec: Nmea0183Codec;
  lines = 0;
  deltas = 0;
  readonly errors: Record<string, number> = {};
  readonly skipped: Record<string, number> = {};
  lastError: string | undefined;

  constructor(
    readonly id: string,
    private readonly bus: DeltaBus,
  ) {
    this.codec = new Nmea0183Codec(id);
  }

  line(text: string): void {
    this.lines++;
    const result = this.codec.decode(text);
    if (result.kind === 'delta') {
      this.bus.publishTrusted(result.delta);
      this.deltas++;
    } else if (result.kind === 'skip') {
      this.skipped[result.reason] = (this.skipped[result.reason] ?? 0) + 1;
    } else {
      this.fail(result.reason, result.detail, text);
    }
  }

  error(reason: string, detail: string): void {
    this.fail(reason, detail);
  }

  private fail(reason: string, detail: string, text?: string): void {
    this.errors[reason] = (this.errors[reason] ?? 0) + 1;
    this.lastError = `${reason}: ${detail}`;
    const sample = text === undefined ? '' : ` in ${JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}...` : text)}`;
    log.limited('warn', `${this.id}:${reason}`, `${this.id}: ${reason}: ${detail}${sample}`);
  }
}

class NmeaSource implements DataSource {
  constructor(
    readonly id: string,
    private readonly type: SourceSettings['type'],
    private readonly pipeline: NmeaPipeline,
    private readonly driver: Driver,
  ) {}

  start(): void {
    this.driver.open();
  }

  stop(): Promise<void> {
    return this.driver.close();
  }

  status(): SourceStatus {
    const p = this.pipeline;
    const status: SourceStatus = {
      id: this.id,
      type: this.type,
      state: this.driver.state,
      lines: p.lines,
      deltas: p.deltas,
      errors: { ...p.errors },
      skipped: { ...p.skipped },
    };
    // The driver's trouble (device absent) matters more than the last bad line.
    const lastError = this.driver.lastError ?? p.lastError;
    if (lastError !== undefined) status.lastError = lastError;
    const outages = this.driver.outages?.();
    if (outages) status.outages = outages;
    return status;
  }
}

export function createSource(settings: SourceSettings, bus: DeltaBus, devices: HalDevices): DataSource {
  if (settings.type === 'can') return new CanSource(settings, bus, devices.can);
  const pipeline = new NmeaPipeline(settings.id, bus);
  if (settings.type === 'replay') {
    const { file, rate, linesPerSecond, loop } = settings;
    return new NmeaSource(settings.id, settings.type, pipeline, new ReplayDriver({ file, rate, linesPerSecond, loop }, pipeline));
  }
  if (settings.type === 'udp') {
    return new NmeaSource(settings.id, settings.type, pipeline, new UdpDriver({ port: settings.port, address: settings.address }, pipeline));
  }
  if (settings.type === 'tcp') {
    return new NmeaSource(settings.id, settings.type, pipeline, new TcpDriver({ host: settings.host, port: settings.port }, pipeline));
  }
  devices.serial.configure(settings.device, settings.baudRate);
  return new NmeaSource(settings.id, settings.type, pipeline, new SharedSerialDevice(devices.serial, settings.device, settings.baudRate, pipeline));
}

/** A serial source's hold on its (possibly shared) device, taken on start and let go on stop. */
class SharedSerialDevice implements Driver {
  private lease: SerialLease | undefined;
  private unlisten: (() => void)[] = [];
  private refused: string | undefined;
  private lost = 0;
  private downMs = 0;
  private downSince: number | undefined;
  private wasOpen = false;

  constructor(
    private readonly ports: SerialPorts,
    private readonly device: string,
    private readonly baudRate: number,
    private readonly sink: LineSink,
  ) {}

  get state(): SourceState {
    if (this.refused !== undefined) return 'stopped';
    return this.lease?.driver.state ?? 'stopped';
  }

  get lastError(): string | undefined {
    return this.refused ?? this.lease?.driver.lastError;
  }

  open(): void {
    if (this.lease) return;
    try {
      this.lease = this.ports.acquire(this.device, this.baudRate);
    } catch (err) {
      this.refused = (err as Error).message;
      log.error(this.refused);
      return;
    }
    const driver = this.lease.driver;
    const framer = new LineFramer(this.sink);
    // A line cut by a disconnect is flushed as it is (and counted as truncated), not glued to new data.
    this.unlisten = [
      driver.onData((chunk) => framer.push(chunk)),
      driver.onState((state) => {
        if (state !== 'open') framer.end();
        this.track(state);
      }),
    ];
  }

  /** Counts losses of an open device and the time until it is open again. */
  private track(state: SourceState): void {
    const now = Date.now();
    if (state === 'open') {
      this.wasOpen = true;
      if (this.downSince !== undefined) this.downMs += now - this.downSince;
      this.downSince = undefined;
    } else if (state === 'reconnecting' && this.wasOpen && this.downSince === undefined) {
      this.lost++;
      this.downSince = now;
    }
  }

  outages(): { count: number; downMs: number } {
    const ongoing = this.downSince === undefined ? 0 : Date.now() - this.downSince;
    return { count: this.lost, downMs: this.downMs + ongoing };
  }

  async close(): Promise<void> {
    for (const off of this.unlisten) off();
    this.unlisten = [];
    const lease = this.lease;
    this.lease = undefined;
    await lease?.release();
  }
}
