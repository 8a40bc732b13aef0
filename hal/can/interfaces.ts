// The owner of every CAN interface in the process. Sources define what drives an interface (a
// candump replay, or SocketCAN); sources and plugins acquire leases on it. The driver is opened on
// the first acquire and closed on the last release: one driver per interface however many users.
// An interface no source defined is driven by SocketCAN.

import { createLogger } from '../../core/log.js';
import type { DriverState } from '../driver.js';
import { SharedDevices, type Held } from '../registry.js';
import type { CanDriver } from './driver.js';
import { pgnOf, type CanFrame } from './frame.js';
import { SocketCanDriver } from './socketcan.js';

const log = createLogger('can');

export type CanDriverFactory = (iface: string) => CanDriver;

export interface CanLease {
  readonly iface: string;
  readonly state: DriverState;
  readonly lastError: string | undefined;
  /** What the driver could not deliver, by reason (shared by every lease on the interface). */
  readonly dropped: Readonly<Record<string, number>>;
  /** Adds a frame listener, only called for frames of `pgns` when given; returns its removal. */
  onFrame(listener: (frame: CanFrame) => void, pgns?: ReadonlySet<number>): () => void;
  onState(listener: (state: DriverState) => void): () => void;
  send(frame: CanFrame): Promise<void>;
  /** Removes this lease's listeners and lets go of the interface; the last release closes it. Idempotent. */
  release(): Promise<void>;
}

interface Listener {
  fn: (frame: CanFrame) => void;
  pgns: ReadonlySet<number> | undefined;
}

/** One open interface: its driver and the listeners of every lease. */
class OpenInterface {
  private listeners: Listener[] = [];

  constructor(
    readonly iface: string,
    readonly driver: CanDriver,
  ) {
    driver.onData((frame) => this.dispatch(frame));
  }

  add(fn: (frame: CanFrame) => void, pgns: ReadonlySet<number> | undefined): () => void {
    const listener: Listener = { fn, pgns: pgns && new Set(pgns) };
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** Each listener is isolated: one that throws neither stops the driver nor the others. */
  private dispatch(frame: CanFrame): void {
    const ls = this.listeners;
    let pgn = -1;
    for (let i = 0; i < ls.length; i++) {
      const { fn, pgns } = ls[i];
      if (pgns) {
        if (pgn < 0) pgn = pgnOf(frame.id);
        if (!pgns.has(pgn)) continue;
      }
      try {
        fn(frame);
      } catch (err) {
        log.limited(
          'error',
          `listener:${this.iface}`,
          `${this.iface}: frame listener failed: ${(err as Error).stack ?? String(err)}`,
        );
      }
    }
  }
}

export class CanInterfaces {
  private readonly factories = new Map<string, CanDriverFactory>();
  private readonly devices = new SharedDevices<OpenInterface>();

  /** `fallback` drives interfaces no source defined; SocketCAN on boards. */
  constructor(private readonly fallback: CanDriverFactory = (iface) => new SocketCanDriver({ iface })) {}

  /** Says what drives `iface` (a source's replay or SocketCAN settings). Only once, and before it is in use. */
  define(iface: string, factory: CanDriverFactory): void {
    if (this.factories.has(iface)) throw new Error(`CAN interface ${iface} is already defined by another source`);
    if (this.devices.get(iface)) throw new Error(`CAN interface ${iface} is already in use`);
    this.factories.set(iface, factory);
  }

  /** Shares the interface, opening its driver on first use. */
  acquire(iface: string): CanLease {
    const held = this.devices.acquire(
      iface,
      () => new OpenInterface(iface, (this.factories.get(iface) ?? this.fallback)(iface)),
    );
    return this.lease(held);
  }

  /** Interfaces open now, with their user counts (status, tests). */
  list(): { iface: string; users: number; state: DriverState; lastError?: string }[] {
    return this.devices.list().map(({ entry, users }) => {
      const lastError = entry.driver.lastError;
      return {
        iface: entry.iface,
        users,
        state: entry.driver.state,
        ...(lastError === undefined ? {} : { lastError }),
      };
    });
  }

  private lease(held: Held<OpenInterface>): CanLease {
    const entry = held.entry;
    const { iface, driver } = entry;
    let removals: (() => void)[] = [];
    let released = false;
    const live = (what: string): void => {
      if (released) throw new Error(`${what} on a released lease of CAN interface ${iface}`);
    };
    return {
      iface,
      get state() {
        return released ? 'stopped' : driver.state;
      },
      get lastError() {
        return driver.lastError;
      },
      get dropped() {
        return driver.dropped;
      },
      onFrame(listener, pgns) {
        live('onFrame');
        const off = entry.add(listener, pgns);
        removals.push(off);
        return off;
      },
      onState(listener) {
        live('onState');
        const off = driver.onState(listener);
        removals.push(off);
        return off;
      },
      send(frame) {
        if (released) return Promise.reject(new Error(`send on a released lease of CAN interface ${iface}`));
        return driver.send(frame);
      },
      release: async () => {
        if (released) return;
        released = true;
        for (const off of removals) off();
        removals = [];
        await held.release();
      },
    };
  }
}
