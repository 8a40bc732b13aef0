// Serial device driver on `serialport`: opens path at a baud rate, and when the device is
// absent at start or goes away (USB unplugged, pty closed) retries with exponential backoff.
//
// `serialport` opens, configures (termios), locks, writes and closes the device; the bytes are read
// through Node's tty stream on a descriptor of their own. serialport reads each chunk with a
// thread-pool read that succeeds, then one that fails with EAGAIN (an exception) and a poll before
// the next; the tty stream reads in the event loop when epoll says there is data. Four ports at
// 38,400 baud: 2.5 → 1.1 % of a core (decision 0107).

import { closeSync, constants, openSync } from 'node:fs';
import { isatty, ReadStream } from 'node:tty';
import type { SerialPort } from 'serialport';
import { isRecord } from '../../core/json.js';
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
  /** What reads the current port (undefined: serialport itself reads it). */
  private reader: ReadStream | undefined;

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
    // Before the port is opened: it locks the device (TIOCEXCL), and a second open then needs root.
    const reader = ttyReader(path);
    // A port that was open reports its loss as 'close' (with a disconnect error) or as 'error'.
    port.on('close', () => this.lost(port, 'device closed'));
    port.on('error', (err: Error) => this.lost(port, err.message));
    port.open((err) => {
      if (this.current !== port || err) {
        destroyReader(reader);
        // close() ran while opening.
        if (this.current !== port) {
          if (!err) void closePort(port);
        } else this.lost(port, err!.message);
        return;
      }
      if (reader) {
        this.reader = reader;
        reader.on('data', (chunk: Buffer) => this.data.emit(chunk));
        // A hang-up (device unplugged, pty closed) ends the read side: EIO, or the end of the stream.
        reader.on('error', (e: Error) => this.lost(port, e.message));
        reader.on('end', () => this.lost(port, 'device closed'));
      } else port.on('data', (chunk: Buffer) => this.data.emit(chunk));
      this.backoff.reset();
      this.opened(`open at ${baudRate} baud`);
    });
  }

  protected async release(): Promise<void> {
    const port = this.current;
    this.current = undefined;
    this.dropReader();
    if (port) await closePort(port);
  }

  private dropReader(): void {
    destroyReader(this.reader);
    this.reader = undefined;
  }

  /** Handles every way a port fails, once per port: drop it and schedule a retry. */
  private lost(port: SerialPort, reason: string): void {
    if (this.current !== port || this.stopped) return;
    this.current = undefined;
    this.dropReader();
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

/** A tty stream reading `path` on a descriptor of its own, or undefined (cannot open, not a tty: serialport reads). */
function ttyReader(path: string): ReadStream | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOCTTY | constants.O_NONBLOCK);
  } catch {
    return undefined; // serialport's open says why
  }
  let reader: ReadStream | undefined;
  try {
    if (isatty(fd)) reader = new ReadStream(fd);
  } catch {
    // not a tty libuv can read: serialport reads it
  }
  // libuv opens a tty it is given once more by its name (a file description of its own, so its
  // non-blocking mode touches no one else), puts that descriptor over ours with dup2, and reads and
  // closes its own: ours would stay open, one descriptor per reconnect. Closed here, unless libuv
  // could not reopen and reads ours (or the handle does not say which it reads).
  const read = reader && streamFd(reader);
  if (reader === undefined || (read !== undefined && read !== fd)) closeSync(fd);
  return reader;
}

/** The descriptor a stream's libuv handle reads (undefined where the handle does not say). */
function streamFd(stream: ReadStream): number | undefined {
  const handle: unknown = (stream as unknown as { _handle?: unknown })._handle;
  const fd = isRecord(handle) ? handle.fd : undefined;
  return typeof fd === 'number' ? fd : undefined;
}

/** Stops reading and closes the reader's descriptor (the stream owns it). */
function destroyReader(reader: ReadStream | undefined): void {
  if (!reader) return;
  reader.removeAllListeners();
  reader.on('error', () => {}); // a late error from the dropped reader must not crash the process
  reader.destroy();
}
