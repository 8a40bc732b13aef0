// The serial driver's in-memory twin, behind the seam SerialPorts offers (`makeDriver`): the unit
// tier's stand-in for a device. The test side feeds bytes as the far end would send them, sees what
// was written, and unplugs or plugs the device back in; users see the states a SerialDriver shows.

import { DriverBase, type ByteDriver } from '../../hal/driver.js';
import { SerialPorts } from '../../hal/serial/ports.js';

export class SerialTwin extends DriverBase<Buffer> implements ByteDriver {
  /** Every write that reached the device, in order. */
  readonly written: Buffer[] = [];
  /** Times open() was called: a shared device opens once. */
  opens = 0;

  constructor(
    readonly device: string,
    readonly baudRate: number,
    private plugged = true,
  ) {
    super();
  }

  open(): void {
    if (this._state !== 'stopped') return;
    this.opens++;
    this.setState('connecting');
    // A real device opens asynchronously: users attach their listeners before it is open.
    queueMicrotask(() => this.settle());
  }

  async close(): Promise<void> {
    this.setState('stopped');
  }

  async write(data: string | Uint8Array): Promise<void> {
    if (this._state !== 'open') throw new Error(`${this.device} is not open`);
    this.written.push(Buffer.from(data));
  }

  /** The far end sends bytes; lost while the device is not open, as on a real line. */
  feed(bytes: string | Buffer): void {
    if (this._state !== 'open') return;
    const chunk = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
    this.data.emit(chunk);
  }

  unplug(): void {
    this.plugged = false;
    this.settle();
  }

  plug(): void {
    this.plugged = true;
    this.settle();
  }

  private settle(): void {
    if (this._state === 'stopped') return;
    this._lastError = this.plugged ? undefined : `${this.device}: no such device; retry in 500 ms`;
    this.setState(this.plugged ? 'open' : 'reconnecting');
  }
}

/** SerialPorts whose devices are twins; `twins` holds each one made, by device path. */
export function twinPorts(): { ports: SerialPorts; twins: Map<string, SerialTwin> } {
  const twins = new Map<string, SerialTwin>();
  const ports = new SerialPorts((device, baudRate) => {
    const twin = new SerialTwin(device, baudRate);
    twins.set(device, twin);
    return twin;
  });
  return { ports, twins };
}
