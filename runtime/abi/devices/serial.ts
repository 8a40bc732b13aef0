// Serial devices for plugins (`serial_*` in signalk_hal): a share of a board device, read as NMEA
// lines or raw bytes. Grant rules: `serial:<device>` to open and read, `serial:<device>:write` to
// open with the write bit and to write (checked again at every write); the device must be one the
// plugin was granted, by name or board alias, and a revoked grant closes the handle.

import type { CapabilityPolicy } from '../../capabilities/policy.js';
import { LineFramer } from '../../../hal/framing.js';
import type { SerialLease } from '../../../hal/serial/ports.js';
import { MAX_GUEST_STRING } from '../memory.js';
import { BoundedQueue } from '../../../core/bounded-queue.js';
import { DeviceError, queueStatus, type DeviceFamily, type DeviceHandle, type HandleStatus } from './handles.js';

const MAX_QUEUED_LINES = 10_000;
const MAX_QUEUED_BYTES = 1024 * 1024;
const SERIAL_LINES = 1;
const SERIAL_WRITE = 2;
const VALID_BAUD = new Set([0, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800]);

export class SerialHandle implements DeviceHandle {
  readonly kind = 'serial';
  private readonly lines = new BoundedQueue<Buffer>(MAX_QUEUED_LINES);
  /** Raw mode: received chunks, the first one read up to rawOffset. */
  private readonly raw: Buffer[] = [];
  private rawOffset = 0;
  private queuedBytes = 0;
  private receivedBytes = 0;
  private droppedBytes = 0;
  private readonly unlisten: (() => void)[];

  constructor(
    private readonly lease: SerialLease,
    readonly linesMode: boolean,
    readonly canWrite: boolean,
    onData: () => void,
  ) {
    const driver = lease.driver;
    if (linesMode) {
      const framer = new LineFramer({ line: (text) => this.lines.push(Buffer.from(text, 'latin1')), error: () => {} });
      this.unlisten = [
        driver.onData((chunk) => {
          framer.push(chunk);
          onData();
        }),
        driver.onState((state) => {
          if (state !== 'open') framer.end();
        }),
      ];
    } else {
      this.unlisten = [
        driver.onData((chunk) => {
          this.pushRaw(chunk);
          onData();
        }),
      ];
    }
  }

  get target(): string {
    return this.lease.device;
  }

  get open(): boolean {
    return this.lease.driver.state === 'open';
  }

  get lastError(): string | undefined {
    return this.lease.driver.lastError;
  }

  stillGranted(policy: CapabilityPolicy): boolean {
    return policy.serial(this.target, this.canWrite);
  }

  private pushRaw(chunk: Buffer): void {
    this.raw.push(chunk);
    this.queuedBytes += chunk.length;
    this.receivedBytes += chunk.length;
    if (this.queuedBytes > MAX_QUEUED_BYTES)
      this.droppedBytes += this.consume(this.queuedBytes - MAX_QUEUED_BYTES).length;
  }

  /** Takes up to max bytes off the front of the raw queue. */
  private consume(max: number): Buffer {
    const parts: Buffer[] = [];
    let n = 0;
    while (n < max && this.raw.length > 0) {
      const first = this.raw[0]!;
      const take = Math.min(first.length - this.rawOffset, max - n);
      parts.push(first.subarray(this.rawOffset, this.rawOffset + take));
      n += take;
      this.rawOffset += take;
      if (this.rawOffset === first.length) {
        this.raw.shift();
        this.rawOffset = 0;
      }
    }
    this.queuedBytes -= n;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }

  /** Next line (without line end), or undefined when none is queued. Peek first to check it fits. */
  peekLine(): Buffer | undefined {
    return this.lines.peek();
  }

  takeLine(): void {
    this.lines.shift();
  }

  /** Up to max queued bytes, oldest first. */
  takeBytes(max: number): Buffer {
    return this.consume(max);
  }

  write(data: Uint8Array): Promise<void> {
    return this.lease.driver.write(data);
  }

  status(handle: number): HandleStatus {
    return this.linesMode
      ? queueStatus(this.lines, handle, 'serial', this.target)
      : {
          handle,
          kind: 'serial',
          target: this.target,
          queued: this.queuedBytes,
          received: this.receivedBytes,
          dropped: this.droppedBytes,
        };
  }

  async close(): Promise<void> {
    for (const off of this.unlisten) off();
    await this.lease.release();
  }
}

export const serialFunctions: DeviceFamily = ({ host, memory, table }) => ({
  serial_open(dPtr, dLen, mode, baud) {
    const name = memory.readString(dPtr, dLen);
    if (name === undefined || name === '')
      return table.error(DeviceError.invalid, 'serial_open: device name out of bounds or empty');
    if ((mode & ~(SERIAL_LINES | SERIAL_WRITE)) !== 0)
      return table.error(DeviceError.invalid, `serial_open: unknown mode bits ${mode}`);
    if (!VALID_BAUD.has(baud)) return table.error(DeviceError.invalid, `serial_open: unsupported baud rate ${baud}`);
    const write = (mode & SERIAL_WRITE) !== 0;
    const policy = host.policy();
    if (!policy.serial(name, write)) return table.denied(`serial:${name}${write ? ':write' : ''}`, 'serial_open');
    const device = policy.resolve(name);
    return table.openWith(
      'serial_open',
      device,
      () =>
        new SerialHandle(
          host.devices.serial.acquire(device, baud === 0 ? undefined : baud),
          (mode & SERIAL_LINES) !== 0,
          write,
          host.dataReady,
        ),
    );
  },

  serial_read(n, buf, max) {
    const h = table.lookup<SerialHandle>(n, 'serial', 'serial_read');
    if (typeof h === 'number') return h;
    if (!memory.view(buf, max)) return table.error(DeviceError.invalid, 'serial_read: buffer out of bounds');
    if (!h.linesMode) return memory.write(buf, max, h.takeBytes(max));
    const line = h.peekLine();
    if (line === undefined) return 0;
    if (line.length > max)
      return table.error(DeviceError.tooSmall, `serial_read: next line is ${line.length} bytes, buffer holds ${max}`);
    h.takeLine();
    return memory.write(buf, max, line);
  },

  serial_write(n, ptr, len) {
    const h = table.lookup<SerialHandle>(n, 'serial', 'serial_write');
    if (typeof h === 'number') return h;
    if (!h.canWrite)
      return table.error(DeviceError.invalid, `serial_write: handle ${n} was opened without the write mode bit`);
    if (!host.policy().serial(h.target, true)) return table.denied(`serial:${h.target}:write`, 'serial_write');
    const data = memory.readBytes(ptr, len, MAX_GUEST_STRING);
    if (data === undefined) return table.error(DeviceError.invalid, 'serial_write: data out of bounds');
    if (!h.open)
      return table.error(
        DeviceError.unavailable,
        `serial_write: ${h.target} is not open (${h.lastError ?? 'connecting'})`,
      );
    table.writeAsync(`serial_write ${h.target}`, h.write(data));
    return data.length;
  },

  serial_close: table.closer('serial', 'serial_close'),
});
