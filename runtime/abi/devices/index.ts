// The `signalk_hal` host functions (wit/signalk.wit, interface hal): serial, CAN and MQTT for one
// plugin, each call checked against the plugin's grants at the moment it is made. Handles belong to
// the instance and are closed with it; a grant revoked while a handle is open closes that handle.
// Reads never block: data arrives into per-handle bounded queues and the plugin takes it.

import { decodeFrame, encodeFrame, FRAME_BYTES, pgnOf } from '../../hal/can/frame.js';
import type { HalDevices } from '../../hal/devices.js';
import { validFilter, validTopic } from '../../hal/net/topic-filter.js';
import type { CapabilityPolicy } from '../capabilities/policy.js';
import { createLogger } from '../log.js';
import { CanHandle, MqttHandle, SerialHandle, type HalHandle, type HandleStatus } from './hal-handles.js';
import { MAX_GUEST_STRING, type GuestMemory } from './memory.js';

const log = createLogger('hal');

export const HAL_MODULE = 'signalk_hal';

export const HalError = {
  invalid: -1,
  denied: -2,
  notFound: -3,
  unavailable: -4,
  tooSmall: -5,
  limit: -6,
  io: -7,
} as const;

export const MAX_HANDLES = 16;
const SERIAL_LINES = 1;
const SERIAL_WRITE = 2;
const VALID_BAUD = new Set([0, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800]);

/** The MQTT connection as the HAL uses it (hal/net/mqtt-connection.ts). */
export interface MqttAccess {
  /** 'connected' when messages go out now; QoS 1/2 messages are queued while reconnecting. */
  readonly state: string;
  publish(topic: string, payload: Buffer, options: { qos: 0 | 1 | 2; retain: boolean }): Promise<void>;
  subscribe(filter: string, qos: 0 | 1 | 2, listener: (topic: string, payload: Buffer) => void): () => void;
}

/** What the HAL functions of one plugin instance need from the runtime. */
export interface HalHost {
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

export interface HalSession {
  /** Re-checks open handles against the current policy: closes what is no longer granted. */
  regrant(): void;
  handles(): HandleStatus[];
}

export interface HalImports extends HalSession {
  readonly functions: Record<string, (...args: number[]) => number>;
  close(): Promise<void>;
}

type Qos = 0 | 1 | 2;

export function createHalImports(host: HalHost, memory: GuestMemory): HalImports {
  const id = host.pluginId;
  const handles = new Map<number, HalHandle>();
  /** Handles closed because a grant was revoked: their calls answer `denied`, not `not-found`. */
  const revoked = new Map<number, string>();
  let nextHandle = 1;
  let lastError = '';

  const error = (code: number, message: string): number => {
    lastError = message;
    log.limited('debug', `${id}:${code}`, `plugin ${id}: ${message}`);
    return code;
  };
  const denied = (capability: string, call: string): number => error(HalError.denied, host.deny(capability, call));
  const str = (ptr: number, len: number): string | undefined => memory.readString(ptr, len);
  const closeQuietly = (h: HalHandle): void => {
    h.close().catch((err: unknown) => log.warn(`plugin ${id}: closing ${h.kind} ${h.target} failed: ${(err as Error).message}`));
  };

  const add = (h: HalHandle): number => {
    const n = nextHandle++;
    handles.set(n, h);
    return n;
  };
  const room = (call: string): number | undefined =>
    handles.size >= MAX_HANDLES ? error(HalError.limit, `${call}: ${MAX_HANDLES} handles open already; close one first`) : undefined;

  /** The handle of the expected kind, or the error code to return. */
  function lookup<T extends HalHandle>(n: number, kind: T['kind'], call: string): T | number {
    const h = handles.get(n);
    if (h && h.kind === kind) return h as T;
    const why = revoked.get(n);
    if (why !== undefined) return error(HalError.denied, `${call}: handle ${n} was closed: ${why}`);
    return error(HalError.notFound, `${call}: no open ${kind} handle ${n}`);
  }

  const writeAsync = (what: string, p: Promise<void>): void => {
    p.catch((err: unknown) => {
      lastError = `${what} failed: ${(err as Error).message}`;
      log.limited('warn', `${id}:${what}`, `plugin ${id}: ${lastError}`);
    });
  };

  const functions: Record<string, (...args: number[]) => number> = {
    hal_last_error(buf, max) {
      const n = memory.writeTruncated(buf, max, Buffer.from(lastError, 'utf8'));
      return n < 0 ? HalError.invalid : n;
    },

    serial_open(dPtr, dLen, mode, baud) {
      const name = str(dPtr, dLen);
      if (name === undefined || name === '') return error(HalError.invalid, 'serial_open: device name out of bounds or empty');
      if ((mode & ~(SERIAL_LINES | SERIAL_WRITE)) !== 0) return error(HalError.invalid, `serial_open: unknown mode bits ${mode}`);
      if (!VALID_BAUD.has(baud)) return error(HalError.invalid, `serial_open: unsupported baud rate ${baud}`);
      const write = (mode & SERIAL_WRITE) !== 0;
      const policy = host.policy();
      if (!policy.serial(name, write)) return denied(`serial:${name}${write ? ':write' : ''}`, 'serial_open');
      const full = room('serial_open');
      if (full !== undefined) return full;
      const device = policy.resolve(name);
      try {
        const lease = host.devices.serial.acquire(device, baud === 0 ? undefined : baud);
        return add(new SerialHandle(lease, (mode & SERIAL_LINES) !== 0, write, host.dataReady));
      } catch (err) {
        return error(HalError.unavailable, `serial_open ${device}: ${(err as Error).message}`);
      }
    },

    serial_read(n, buf, max) {
      const h = lookup<SerialHandle>(n, 'serial', 'serial_read');
      if (typeof h === 'number') return h;
      if (!memory.view(buf, max)) return error(HalError.invalid, 'serial_read: buffer out of bounds');
      if (!h.linesMode) return memory.write(buf, max, h.takeBytes(max));
      const line = h.peekLine();
      if (line === undefined) return 0;
      if (line.length > max) return error(HalError.tooSmall, `serial_read: next line is ${line.length} bytes, buffer holds ${max}`);
      h.takeLine();
      return memory.write(buf, max, line);
    },

    serial_write(n, ptr, len) {
      const h = lookup<SerialHandle>(n, 'serial', 'serial_write');
      if (typeof h === 'number') return h;
      if (!h.canWrite) return error(HalError.invalid, `serial_write: handle ${n} was opened without the write mode bit`);
      if (!host.policy().serial(h.target, true)) return denied(`serial:${h.target}:write`, 'serial_write');
      const data = memory.readBytes(ptr, len, MAX_GUEST_STRING);
      if (data === undefined) return error(HalError.invalid, 'serial_write: data out of bounds');
      if (!h.open) return error(HalError.unavailable, `serial_write: ${h.target} is not open (${h.lastError ?? 'connecting'})`);
      writeAsync(`serial_write ${h.target}`, h.write(data));
      return data.length;
    },

    can_open(iPtr, iLen, pPtr, pLen) {
      const name = str(iPtr, iLen);
      if (name === undefined || name === '') return error(HalError.invalid, 'can_open: interface name out of bounds or empty');
      let wanted: number[] | undefined;
      if (pLen !== 0) {
        const text = str(pPtr, pLen);
        const parsed = text === undefined ? undefined : parsePgnList(text);
        if (parsed === undefined) return error(HalError.invalid, 'can_open: PGN filter must be a JSON array of PGN numbers');
        wanted = parsed;
      }
      const policy = host.policy();
      const allowed = policy.canPgns(name);
      if (allowed === undefined) return denied(`can:${name}${wanted ? `:${wanted.join(',')}` : ''}`, 'can_open');
      const outside = wanted && allowed !== 'all' ? wanted.filter((p) => !allowed.has(p)) : [];
      if (outside.length > 0) return denied(`can:${name}:${outside.join(',')}`, 'can_open');
      const full = room('can_open');
      if (full !== undefined) return full;
      const asked = wanted ? new Set(wanted) : undefined;
      try {
        return add(new CanHandle(host.devices.can.acquire(policy.resolve(name)), asked, canFilter(asked, allowed), host.dataReady));
      } catch (err) {
        return error(HalError.unavailable, `can_open ${name}: ${(err as Error).message}`);
      }
    },

    can_read(n, buf, max) {
      const h = lookup<CanHandle>(n, 'can', 'can_read');
      if (typeof h === 'number') return h;
      const out = memory.view(buf, max);
      if (!out) return error(HalError.invalid, 'can_read: buffer out of bounds');
      if (max < FRAME_BYTES) return error(HalError.tooSmall, `can_read: a frame takes ${FRAME_BYTES} bytes, buffer holds ${max}`);
      let frames = 0;
      for (let off = 0; off + FRAME_BYTES <= max; off += FRAME_BYTES) {
        const frame = h.take();
        if (!frame) break;
        encodeFrame(frame, out, off);
        frames++;
      }
      return frames;
    },

    can_send(n, ptr, len) {
      const h = lookup<CanHandle>(n, 'can', 'can_send');
      if (typeof h === 'number') return h;
      if (!host.policy().canWrite(h.target)) return denied(`can:${h.target}:write`, 'can_send');
      const bytes = len === FRAME_BYTES ? memory.view(ptr, len) : undefined;
      const frame = bytes === undefined ? undefined : decodeFrame(bytes, 0);
      if (!frame) return error(HalError.invalid, `can_send: needs one ${FRAME_BYTES}-byte frame (id, length ≤ 8, data)`);
      writeAsync(`can_send ${h.target} PGN ${pgnOf(frame.id)}`, h.send(frame));
      return 0;
    },

    mqtt_publish(tPtr, tLen, pPtr, pLen, flags) {
      const topic = str(tPtr, tLen);
      const payload = memory.readBytes(pPtr, pLen, MAX_GUEST_STRING);
      if (topic === undefined || payload === undefined || !validTopic(topic)) return error(HalError.invalid, 'mqtt_publish: topic or payload out of bounds, or not a valid topic');
      const qos = flags & 3;
      if (qos === 3 || (flags & ~7) !== 0) return error(HalError.invalid, `mqtt_publish: bad flags ${flags}`);
      if (!host.policy().mqttPublish(topic)) return denied(`mqtt:publish:${topic}`, 'mqtt_publish');
      const mqtt = host.mqtt();
      if (!mqtt) return error(HalError.unavailable, 'mqtt_publish: no MQTT broker is configured (settings "mqtt")');
      // QoS 0 is not queued while offline: say so now rather than drop it later.
      if (qos === 0 && mqtt.state !== 'connected') return error(HalError.unavailable, `mqtt_publish: the broker is ${mqtt.state}; QoS 0 messages are not queued`);
      writeAsync(`mqtt_publish ${topic}`, mqtt.publish(topic, Buffer.from(payload), { qos: qos as Qos, retain: (flags & 4) !== 0 }));
      return 0;
    },

    mqtt_subscribe(fPtr, fLen, qos) {
      const filter = str(fPtr, fLen);
      if (filter === undefined || !validFilter(filter)) return error(HalError.invalid, 'mqtt_subscribe: not a valid topic filter');
      if (qos < 0 || qos > 2) return error(HalError.invalid, `mqtt_subscribe: bad QoS ${qos}`);
      if (!host.policy().mqttSubscribe(filter)) return denied(`mqtt:subscribe:${filter}`, 'mqtt_subscribe');
      const mqtt = host.mqtt();
      if (!mqtt) return error(HalError.unavailable, 'mqtt_subscribe: no MQTT broker is configured (settings "mqtt")');
      const full = room('mqtt_subscribe');
      if (full !== undefined) return full;
      const h = new MqttHandle(filter);
      h.unsubscribe = mqtt.subscribe(filter, qos as Qos, (topic, payload) => {
        h.push(topic, payload);
        host.dataReady();
      });
      return add(h);
    },

    mqtt_poll(n, buf, max) {
      const h = lookup<MqttHandle>(n, 'mqtt', 'mqtt_poll');
      if (typeof h === 'number') return h;
      if (!memory.view(buf, max)) return error(HalError.invalid, 'mqtt_poll: buffer out of bounds');
      const m = h.peek();
      if (!m) return 0;
      const bytes = Buffer.concat([Buffer.from(m.topic, 'utf8'), Buffer.of(0), m.payload]);
      if (bytes.length > max) return error(HalError.tooSmall, `mqtt_poll: next message is ${bytes.length} bytes, buffer holds ${max}`);
      h.take();
      return memory.write(buf, max, bytes);
    },
  };

  const closer = (kind: HalHandle['kind'], call: string) => (n: number): number => {
    const h = lookup<HalHandle>(n, kind, call);
    if (typeof h === 'number') return h;
    handles.delete(n);
    closeQuietly(h);
    return 0;
  };
  functions.serial_close = closer('serial', 'serial_close');
  functions.can_close = closer('can', 'can_close');
  functions.mqtt_unsubscribe = closer('mqtt', 'mqtt_unsubscribe');

  return {
    functions,
    regrant() {
      const policy = host.policy();
      for (const [n, h] of handles) {
        let still = true;
        if (h instanceof SerialHandle) still = policy.serial(h.target, h.canWrite);
        else if (h instanceof MqttHandle) still = policy.mqttSubscribe(h.target);
        else if (h instanceof CanHandle) {
          const allowed = policy.canPgns(h.target);
          const filter = allowed === undefined ? undefined : canFilter(h.wanted, allowed);
          still = allowed !== undefined && (filter === undefined || filter.size > 0);
          if (still) h.refilter(filter);
        }
        if (still) continue;
        const why = `grant for ${h.kind} ${h.target} revoked`;
        handles.delete(n);
        revoked.set(n, why);
        closeQuietly(h);
        log.info(`plugin ${id}: handle ${n} closed: ${why}`);
      }
    },
    handles: () => [...handles].map(([n, h]) => h.status(n)),
    async close() {
      const open = [...handles.values()];
      handles.clear();
      await Promise.all(open.map((h) => h.close().catch(() => undefined)));
    },
  };
}

/** The PGNs a handle receives: what it asked for within what is allowed (undefined = every PGN). */
function canFilter(wanted: ReadonlySet<number> | undefined, allowed: ReadonlySet<number> | 'all'): ReadonlySet<number> | undefined {
  if (allowed === 'all') return wanted;
  return wanted ? new Set([...wanted].filter((p) => allowed.has(p))) : allowed;
}

function parsePgnList(text: string): number[] | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v) || v.length === 0 || v.some((p) => !Number.isInteger(p) || (p as number) < 0 || (p as number) > 0x3ffff)) return undefined;
  return v as number[];
}
