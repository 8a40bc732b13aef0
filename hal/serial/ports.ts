// The owner of every serial device in the process: a device used by a data source and granted to
// plugins is opened once and shared (each user adds its own data listener), and closed when the
// last user lets go. A device's rate is the one a data source configured for it (known before any
// plugin starts), else the first user's; asking for a different explicit rate is an error.

import type { ByteDriver } from '../driver.js';
import { SerialDriver } from './serial-port.js';

export const DEFAULT_BAUD_RATE = 4800;

export interface SerialLease {
  readonly device: string;
  readonly baudRate: number;
  readonly driver: ByteDriver;
  /** Lets go of the device; the last release closes it. Idempotent. */
  release(): Promise<void>;
}

export class SerialPortInUseError extends Error {}

interface Entry {
  driver: ByteDriver;
  baudRate: number;
  users: number;
}

export class SerialPorts {
  private readonly open = new Map<string, Entry>();
  private readonly configured = new Map<string, number>();

  /** `makeDriver` is the seam for tests; boards use the serialport driver. */
  constructor(private readonly makeDriver: (device: string, baudRate: number) => ByteDriver = (path, baudRate) => new SerialDriver({ path, baudRate })) {}

  /** The rate a data source set for the device in settings: what users without a rate of their own get. */
  configure(device: string, baudRate: number): void {
    this.configured.set(device, baudRate);
  }

  /** Shares the device, opening it on first use. baudRate undefined = whatever it is open at, or configured, or the default. */
  acquire(device: string, baudRate?: number): SerialLease {
    let entry = this.open.get(device);
    if (entry && baudRate !== undefined && baudRate !== entry.baudRate) {
      throw new SerialPortInUseError(`${device} is already open at ${entry.baudRate} baud; cannot share it at ${baudRate}`);
    }
    if (!entry) {
      const rate = baudRate ?? this.configured.get(device) ?? DEFAULT_BAUD_RATE;
      entry = { driver: this.makeDriver(device, rate), baudRate: rate, users: 0 };
      this.open.set(device, entry);
      entry.driver.open();
    }
    entry.users++;
    const held = entry;
    let released = false;
    return {
      device,
      baudRate: held.baudRate,
      driver: held.driver,
      release: async () => {
        if (released) return;
        released = true;
        held.users--;
        if (held.users > 0) return;
        if (this.open.get(device) === held) this.open.delete(device);
        await held.driver.close();
      },
    };
  }

  /** Devices open now with their user counts (status, tests). */
  list(): { device: string; baudRate: number; users: number; state: ByteDriver['state'] }[] {
    return [...this.open].map(([device, e]) => ({ device, baudRate: e.baudRate, users: e.users, state: e.driver.state }));
  }
}
