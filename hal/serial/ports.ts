// The owner of every serial device in the process: a device used by a data source and granted to
// plugins is opened once and shared (each user adds its own data listener), and closed when the
// last user lets go. A device's rate is the one a data source configured for it (known before any
// plugin starts), else the first user's; asking for a different explicit rate is an error.

import type { ByteDriver } from '../driver.js';
import { SharedDevices } from '../registry.js';
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
  readonly driver: ByteDriver;
  readonly baudRate: number;
}

export class SerialPorts {
  private readonly devices = new SharedDevices<Entry>();
  private readonly configured = new Map<string, number>();

  /** `makeDriver` is the seam for tests; boards use the serialport driver. */
  constructor(
    private readonly makeDriver: (device: string, baudRate: number) => ByteDriver = (path, baudRate) =>
      new SerialDriver({ path, baudRate }),
  ) {}

  /** The rate a data source set for the device in settings: what users without a rate of their own get. */
  configure(device: string, baudRate: number): void {
    this.configured.set(device, baudRate);
  }

  /** Shares the device, opening it on first use. baudRate undefined = whatever it is open at, or configured, or the default. */
  acquire(device: string, baudRate?: number): SerialLease {
    const open = this.devices.get(device);
    if (open && baudRate !== undefined && baudRate !== open.baudRate) {
      throw new SerialPortInUseError(
        `${device} is already open at ${open.baudRate} baud; cannot share it at ${baudRate}`,
      );
    }
    const held = this.devices.acquire(device, () => {
      const rate = baudRate ?? this.configured.get(device) ?? DEFAULT_BAUD_RATE;
      return { driver: this.makeDriver(device, rate), baudRate: rate };
    });
    return { device, baudRate: held.entry.baudRate, driver: held.entry.driver, release: held.release };
  }

  /** Devices open now with their user counts (status, tests). */
  list(): { device: string; baudRate: number; users: number; state: ByteDriver['state'] }[] {
    return this.devices
      .list()
      .map(({ name, entry, users }) => ({ device: name, baudRate: entry.baudRate, users, state: entry.driver.state }));
  }
}
