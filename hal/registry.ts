// The one registry of shared devices: a device used by a data source and by the plugins granted it
// is opened once (on the first acquire) and closed when the last user lets go. SerialPorts and
// CanInterfaces keep their devices here and add what their leases offer on top.

import type { Driver } from './driver.js';

export interface Held<E> {
  readonly entry: E;
  /** Lets go of the device; the last release closes it. Idempotent. */
  release(): Promise<void>;
}

export class SharedDevices<E extends { readonly driver: Driver<unknown> }> {
  private readonly open = new Map<string, { entry: E; users: number }>();

  /** The open device `name`, if any user holds it. */
  get(name: string): E | undefined {
    return this.open.get(name)?.entry;
  }

  /** Holds device `name`, opening the driver of a new entry from `make` when no one holds it yet. */
  acquire(name: string, make: () => E): Held<E> {
    let slot = this.open.get(name);
    if (!slot) {
      slot = { entry: make(), users: 0 };
      this.open.set(name, slot);
      slot.entry.driver.open();
    }
    slot.users++;
    const held = slot;
    let released = false;
    return {
      entry: held.entry,
      release: async () => {
        if (released) return;
        released = true;
        held.users--;
        if (held.users > 0) return;
        if (this.open.get(name) === held) this.open.delete(name);
        await held.entry.driver.close();
      },
    };
  }

  /** Devices open now with their user counts (status, tests). */
  list(): { name: string; entry: E; users: number }[] {
    return [...this.open].map(([name, { entry, users }]) => ({ name, entry, users }));
  }
}
