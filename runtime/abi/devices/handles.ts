// What the device functions (`signalk_hal`) of one plugin instance share: the host they serve, the
// table of numbered handles of every device family with its bound, the last error text, and the
// re-check of open handles when grants change. Each handle keeps a bounded queue of what arrived
// for the plugin since it last read; a full queue drops its oldest entries and counts them.

import type { BoundedQueue } from '../../../core/bounded-queue.js';
import type { CapabilityPolicy } from '../../capabilities/policy.js';
import type { HalDevices } from '../../../hal/devices.js';
import { createLogger } from '../../../core/log.js';
import type { GuestMemory } from '../memory.js';
import type { MqttAccess } from './mqtt.js';

const log = createLogger('hal');

/** What the device functions return for a refused call (negative; a non-negative return is a result). */
export const DeviceError = {
  invalid: -1,
  denied: -2,
  notFound: -3,
  unavailable: -4,
  tooSmall: -5,
  limit: -6,
  io: -7,
} as const;

export const MAX_HANDLES = 16;

export type HostFunction = (...args: number[]) => number;

/** What the device functions of one plugin instance need from the runtime. */
export interface DeviceHost {
  readonly pluginId: string;
  readonly devices: HalDevices;
  /** The plugin's capabilities now (grants can change while it runs). */
  policy(): CapabilityPolicy;
  /** Records a refusal (logged once per capability, shown in status); returns the text for the plugin. */
  deny(capability: string, call: string): string;
  /** The MQTT connection, when the runtime has one. */
  mqtt(): MqttAccess | undefined;
  /** One of the plugin's handles has new data. */
  dataReady(): void;
}

/** What a device family's functions are built from, for one plugin instance. */
export interface FamilyContext {
  host: DeviceHost;
  memory: GuestMemory;
  table: HandleTable;
}

/** A device family: its host functions (name → function) for one plugin instance. */
export type DeviceFamily = (ctx: FamilyContext) => Record<string, HostFunction>;

export interface DeviceSession {
  /** Re-checks open handles against the current policy: closes what is no longer granted. */
  regrant(): void;
  handles(): HandleStatus[];
}

export interface HandleStatus {
  handle: number;
  kind: 'serial' | 'can' | 'mqtt';
  target: string;
  queued: number;
  received: number;
  dropped: number;
}

export interface DeviceHandle {
  readonly kind: HandleStatus['kind'];
  /** What the handle was opened on (device path, interface, topic filter). */
  readonly target: string;
  /** Whether the plugin may keep the handle under `policy` (a handle may narrow what it receives); false closes it. */
  stillGranted(policy: CapabilityPolicy): boolean;
  status(handle: number): HandleStatus;
  close(): Promise<void>;
}

/** The status of handle `handle`, whose arrivals wait in `queue`. */
export function queueStatus(
  queue: BoundedQueue<unknown>,
  handle: number,
  kind: HandleStatus['kind'],
  target: string,
): HandleStatus {
  return { handle, kind, target, queued: queue.length, received: queue.received, dropped: queue.dropped };
}

/** One plugin instance's open handles, with the error answers every device function gives. */
export class HandleTable {
  private readonly open = new Map<number, DeviceHandle>();
  /** Handles closed because a grant was revoked: their calls answer `denied`, not `not-found`. */
  private readonly revoked = new Map<number, string>();
  private nextHandle = 1;
  /** What hal_last_error tells the plugin. */
  lastError = '';

  constructor(private readonly host: DeviceHost) {}

  /** Records why a call failed and returns its code. */
  error(code: number, message: string): number {
    this.lastError = message;
    log.limited('debug', `${this.host.pluginId}:${code}`, `plugin ${this.host.pluginId}: ${message}`);
    return code;
  }

  denied(capability: string, call: string): number {
    return this.error(DeviceError.denied, this.host.deny(capability, call));
  }

  /** The `limit` error when MAX_HANDLES are open, else undefined. */
  room(call: string): number | undefined {
    return this.open.size >= MAX_HANDLES
      ? this.error(DeviceError.limit, `${call}: ${MAX_HANDLES} handles open already; close one first`)
      : undefined;
  }

  add(h: DeviceHandle): number {
    const n = this.nextHandle++;
    this.open.set(n, h);
    return n;
  }

  /** Adds the handle `make` opens on `what` when there is room; a device that cannot be opened answers `unavailable`. */
  openWith(call: string, what: string, make: () => DeviceHandle): number {
    const full = this.room(call);
    if (full !== undefined) return full;
    try {
      return this.add(make());
    } catch (err) {
      return this.error(DeviceError.unavailable, `${call} ${what}: ${(err as Error).message}`);
    }
  }

  /** The handle of the expected kind, or the error code to return. */
  lookup<T extends DeviceHandle>(n: number, kind: T['kind'], call: string): T | number {
    const h = this.open.get(n);
    if (h && h.kind === kind) return h as T;
    const why = this.revoked.get(n);
    if (why !== undefined) return this.error(DeviceError.denied, `${call}: handle ${n} was closed: ${why}`);
    return this.error(DeviceError.notFound, `${call}: no open ${kind} handle ${n}`);
  }

  /** The host function that closes a handle of `kind`. */
  closer(kind: DeviceHandle['kind'], call: string): HostFunction {
    return (n) => {
      const h = this.lookup<DeviceHandle>(n, kind, call);
      if (typeof h === 'number') return h;
      this.open.delete(n);
      this.closeQuietly(h);
      return 0;
    };
  }

  /** A write that completes later: its failure becomes the last error (and is logged, rate-limited). */
  writeAsync(what: string, p: Promise<void>): void {
    p.catch((err: unknown) => {
      this.lastError = `${what} failed: ${(err as Error).message}`;
      log.limited('warn', `${this.host.pluginId}:${what}`, `plugin ${this.host.pluginId}: ${this.lastError}`);
    });
  }

  /** Closes the handles the current policy no longer grants; their calls answer `denied` from then on. */
  regrant(): void {
    const policy = this.host.policy();
    for (const [n, h] of this.open) {
      if (h.stillGranted(policy)) continue;
      const why = `grant for ${h.kind} ${h.target} revoked`;
      this.open.delete(n);
      this.revoked.set(n, why);
      this.closeQuietly(h);
      log.info(`plugin ${this.host.pluginId}: handle ${n} closed: ${why}`);
    }
  }

  status(): HandleStatus[] {
    return [...this.open].map(([n, h]) => h.status(n));
  }

  async closeAll(): Promise<void> {
    const open = [...this.open.values()];
    this.open.clear();
    await Promise.all(open.map((h) => h.close().catch(() => undefined)));
  }

  private closeQuietly(h: DeviceHandle): void {
    h.close().catch((err: unknown) =>
      log.warn(`plugin ${this.host.pluginId}: closing ${h.kind} ${h.target} failed: ${(err as Error).message}`),
    );
  }
}
