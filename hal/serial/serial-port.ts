// Serial device driver on `serialport`: opens path at a baud rate, and when the device is
// absent at start or goes away (USB unplugged, pty closed) retries with exponential backoff.

import type { SerialPort } from 'serialport';
import { createLogger } from '../../core/log.js';
import type { ByteDriver } from '../driver.js';
import { lazyModule } from '../lazy-module.js';
import { ReconnectingDriver, type RetryOptions } from '../reconnecting.js';

const log = createLogger('serial');
const serialport = lazyModule<typeof import('serialport')>('serialport');

export interface SerialDriverOptions extends RetryOptions {
  path: string;
  baudRate: number;
}

export class SerialDriver extends ReconnectingDriver<Buffer> implements ByteDriver {
  private current: SerialPort | undefined;

  constructor(private readonly options: SerialDriverOptions) {
    super(options.path, options, log);
  }

  write(data: string | Uint8Array): Promise<void> {
    const port = this.current;
    if (!port || this._state !== 'open') return Promise.reject(new Error(`${this.options.path} is not open`));
    return new Promise((resolve, reject) => {
      port.write(data, (err) => {
        if (err) reject(err);
        else port.drain((e) => (e ? reject(e) : resolve()));
      });
    });
  }

  protected attempt(): void {
    const { path, baudRate } = this.options;
    let port: SerialPort;
    try {
      port = new (serialport().SerialPort)({ path, baudRate, autoOpen: false });
    } catch (err) {
      // Options the binding refuses: retrying cannot help, but must not crash the process either.
      this.failed((err as Error).message);
      return;
    }
    this.current = port;
    port.on('data', (chunk: Buffer) => this.data.emit(chunk));
    // A port that was open reports its loss as 'close' (with a disconnect error) or as 'error'.
    port.on('close', () => this.lost(port, 'device closed'));
    port.on('error', (err: Error) => this.lost(port, err.message));
    port.open((err) => {
      if (this.current !== port) {
        // close() ran while opening.
        if (!err) void closePort(port);
        return;
      }
      if (err) {
        this.lost(port, err.message);
        return;
      }
      this.backoff.reset();
      this.opened(`open at ${baudRate} baud`);
    });
  }

  protected async release(): Promise<void> {
    const port = this.current;
    this.current = undefined;
    if (port) await closePort(port);
  }

  /** Handles every way a port fails, once per port: drop it and schedule a retry. */
  private lost(port: SerialPort, reason: string): void {
    if (this.current !== port || this.stopped) return;
    this.current = undefined;
    port.removeAllListeners();
    port.on('error', () => {}); // late errors from the dropped port must not crash the process
    if (port.isOpen) void closePort(port);
    this.failed(reason);
  }
}

function closePort(port: SerialPort): Promise<void> {
  return new Promise((resolve) => {
    if (!port.isOpen) return resolve();
    port.close(() => resolve());
  });
}
