// Serial device driver on `serialport`: opens path at a baud rate, and when the device is
// absent at start or goes away (USB unplugged, pty closed) retries with exponential backoff.

import type { SerialPort } from 'serialport';
import { lazyModule } from '../lazy-module.js';
import { createLogger } from '../../core/log.js';
import { Backoff } from '../../core/backoff.js';
import type { ByteDriver, DriverState } from '../driver.js';

const log = createLogger('serial');
const serialport = lazyModule<typeof import('serialport')>('serialport');

export interface SerialDriverOptions {
  path: string;
  baudRate: number;
  /** First retry delay, doubling up to maxRetryMs. */
  retryMs?: number;
  maxRetryMs?: number;
}

export class SerialDriver implements ByteDriver {
  private current: SerialPort | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private dataListeners: ((chunk: Buffer) => void)[] = [];
  private stateListeners: ((state: DriverState) => void)[] = [];
  private _state: DriverState = 'stopped';
  private _lastError: string | undefined;

  constructor(private readonly options: SerialDriverOptions) {
    this.backoff = new Backoff(options.retryMs ?? 500, options.maxRetryMs ?? 30_000);
  }

  get state(): DriverState {
    return this._state;
  }

  get lastError(): string | undefined {
    return this._lastError;
  }

  open(): void {
    if (this._state !== 'stopped') return;
    this.setState('connecting');
    this.connect();
  }

  async close(): Promise<void> {
    this.setState('stopped');
    clearTimeout(this.timer);
    this.timer = undefined;
    const port = this.current;
    this.current = undefined;
    if (port) await closePort(port);
  }

  onData(listener: (chunk: Buffer) => void): () => void {
    this.dataListeners = [...this.dataListeners, listener];
    return () => {
      this.dataListeners = this.dataListeners.filter((l) => l !== listener);
    };
  }

  onState(listener: (state: DriverState) => void): () => void {
    this.stateListeners = [...this.stateListeners, listener];
    return () => {
      this.stateListeners = this.stateListeners.filter((l) => l !== listener);
    };
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

  private setState(state: DriverState): void {
    if (state === this._state) return;
    this._state = state;
    for (const l of this.stateListeners) l(state);
  }

  private connect(): void {
    this.timer = undefined;
    const { path, baudRate } = this.options;
    let port: SerialPort;
    try {
      port = new (serialport().SerialPort)({ path, baudRate, autoOpen: false });
    } catch (err) {
      // Options the binding refuses: retrying cannot help, but must not crash the process either.
      this.retry((err as Error).message);
      return;
    }
    this.current = port;
    port.on('data', (chunk: Buffer) => {
      for (const l of this.dataListeners) l(chunk);
    });
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
      this._lastError = undefined;
      log.info(`${path} open at ${baudRate} baud`);
      this.setState('open');
    });
  }

  /** Handles every way a port fails, once per port: drop it and schedule a retry. */
  private lost(port: SerialPort, reason: string): void {
    if (this.current !== port || this._state === 'stopped') return;
    this.current = undefined;
    port.removeAllListeners();
    port.on('error', () => {}); // late errors from the dropped port must not crash the process
    if (port.isOpen) void closePort(port);
    this.retry(reason);
  }

  private retry(reason: string): void {
    if (this._state === 'stopped') return;
    const delay = this.backoff.next();
    this._lastError = `${reason}; retry in ${delay} ms`;
    log.limited('warn', `lost:${this.options.path}`, `${this.options.path}: ${this._lastError}`, 30_000);
    this.setState('reconnecting');
    this.timer = setTimeout(() => this.connect(), delay);
  }
}

function closePort(port: SerialPort): Promise<void> {
  return new Promise((resolve) => {
    if (!port.isOpen) return resolve();
    port.close(() => resolve());
  });
}
