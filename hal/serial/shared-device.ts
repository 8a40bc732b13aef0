// A serial source's hold on its device, shared through SerialPorts with the plugins granted it:
// taken on start, let go on stop, with the device's outages counted for the status API. Bytes go
// to the source's framer (lines for NMEA 0183, frames for a gateway's binary protocol).

import { createLogger } from '../../core/log.js';
import type { ByteSink, DriverState } from '../driver.js';
import type { SourceDriver } from '../sources/source.js';
import type { SerialLease, SerialPorts } from './ports.js';

const log = createLogger('source');

/** A serial source's hold on its (possibly shared) device, taken on start and let go on stop. */
export class SharedSerialDevice implements SourceDriver {
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
    private readonly framer: ByteSink,
  ) {}

  get state(): DriverState {
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
    const framer = this.framer;
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
  private track(state: DriverState): void {
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
