// The self-test's stand-in for a granted plugin: the real `signalk_hal` host functions
// (runtime/abi/devices/) over the real capability policy, called the way a WASM plugin calls them,
// with a plain WebAssembly memory as the plugin's. What a plugin would read, this reads.

import { FRAME_BYTES, decodeFrame, type CanFrame } from '../../hal/can/frame.js';
import type { HalDevices } from '../../hal/devices.js';
import { createDeviceImports, DeviceError, type DeviceImports } from '../abi/devices/index.js';
import { GuestMemory } from '../abi/memory.js';
import { FLAG_NAMES, parseGrant, type Grant } from '../capabilities/grant.js';
import { CapabilityPolicy, type Flags } from '../capabilities/policy.js';

export const PLUGIN_ID = 'signalk-edge-selftest';
const SERIAL_LINES = 1;
/** Layout of the stand-in's memory: names at 0, read buffer after. */
const NAME_AT = 0;
const BUF_AT = 4096;
const BUF_LEN = 16 * FRAME_BYTES * 16;

function grants(list: readonly string[]): Grant[] {
  return list.map((text) => {
    const parsed = parseGrant(text);
    if (!parsed.ok) throw new Error(`self-test grant ${text}: ${parsed.reason}`);
    return parsed.grant;
  });
}

export class PluginDevices {
  private readonly hal: DeviceImports;
  private readonly memory = new GuestMemory();
  private readonly raw = new WebAssembly.Memory({ initial: 1 });
  readonly denials: string[] = [];

  /** `requested` plays the manifest's requests, `granted` the operator's grants. */
  constructor(devices: HalDevices, requested: readonly string[], granted: readonly string[]) {
    this.memory.attach(this.raw);
    const flags = Object.fromEntries(FLAG_NAMES.map((n) => [n, false])) as Flags;
    const policy = new CapabilityPolicy({
      requestedFlags: flags,
      requests: grants(requested),
      granted: grants(granted),
      aliases: {},
    });
    this.hal = createDeviceImports(
      {
        pluginId: PLUGIN_ID,
        devices,
        policy: () => policy,
        deny: (capability, call) => {
          const text = `${call}: ${capability} is not granted`;
          this.denials.push(text);
          return text;
        },
        mqtt: () => undefined,
        dataReady: () => {},
      },
      this.memory,
    );
  }

  private bytes(): Uint8Array {
    return new Uint8Array(this.raw.buffer);
  }

  private put(text: string, at: number): number {
    const b = Buffer.from(text, 'utf8');
    this.bytes().set(b, at);
    return b.length;
  }

  private lastError(): string {
    const n = this.hal.functions.hal_last_error!(BUF_AT, BUF_LEN);
    return n > 0 ? Buffer.from(this.bytes().subarray(BUF_AT, BUF_AT + n)).toString('utf8') : '';
  }

  /** `serial_open` in lines mode: the handle, or the error code with the host's message. */
  openSerialLines(device: string, baudRate: number): number | { code: number; message: string } {
    const len = this.put(device, NAME_AT);
    const h = this.hal.functions.serial_open!(NAME_AT, len, SERIAL_LINES, baudRate);
    return h > 0 ? h : { code: h, message: this.lastError() };
  }

  /** Every line queued on the handle now (without line ends). */
  readLines(handle: number): string[] {
    const out: string[] = [];
    for (;;) {
      const n = this.hal.functions.serial_read!(handle, BUF_AT, BUF_LEN);
      if (n < 0) throw new Error(`serial_read: ${this.lastError()}`);
      if (n === 0) return out;
      out.push(Buffer.from(this.bytes().subarray(BUF_AT, BUF_AT + n)).toString('latin1'));
    }
  }

  /** `can_open` with an optional PGN list, as a plugin asks. */
  openCan(iface: string, pgns?: readonly number[]): number | { code: number; message: string } {
    const len = this.put(iface, NAME_AT);
    const filter = pgns ? JSON.stringify(pgns) : '';
    const flen = filter ? this.put(filter, NAME_AT + 64) : 0;
    const h = this.hal.functions.can_open!(NAME_AT, len, NAME_AT + 64, flen);
    return h > 0 ? h : { code: h, message: this.lastError() };
  }

  /** Every frame queued on the handle now. */
  readFrames(handle: number): CanFrame[] {
    const out: CanFrame[] = [];
    for (;;) {
      const n = this.hal.functions.can_read!(handle, BUF_AT, BUF_LEN);
      if (n < 0) throw new Error(`can_read: ${this.lastError()}`);
      if (n === 0) return out;
      for (let i = 0; i < n; i++) out.push(decodeFrame(this.bytes(), BUF_AT + i * FRAME_BYTES)!);
    }
  }

  close(): Promise<void> {
    return this.hal.close();
  }
}

export const DENIED = DeviceError.denied;
