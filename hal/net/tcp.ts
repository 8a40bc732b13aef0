// The TCP driver: a client of a data server (an NMEA multiplexer, a chart plotter's data port, a
// gateway), reconnecting with backoff when the server is absent or drops the connection. A line cut
// by the drop is flushed as it is (the codec counts it as truncated), not glued to the next connection's data.

import { connect, type Socket } from 'node:net';
import type { ByteSink } from '../driver.js';
import { createLogger } from '../../core/log.js';
import { ReconnectingDriver, type RetryOptions } from '../reconnecting.js';

const log = createLogger('net');

export interface TcpOptions extends RetryOptions {
  host: string;
  port: number;
  /** Give up an attempt that has not connected after this long (default 10 s). */
  connectTimeoutMs?: number;
}

/** Keepalive probes notice a server that vanished without closing (power cut, Wi-Fi gone). */
const KEEPALIVE_MS = 10_000;

export class TcpDriver extends ReconnectingDriver {
  private socket: Socket | undefined;

  /** `framer` cuts the bytes into what the source's codec reads (lines, gateway frames). */
  constructor(
    private readonly options: TcpOptions,
    private readonly framer: ByteSink,
  ) {
    super(`tcp ${options.host}:${options.port}`, options, log);
  }

  protected attempt(): void {
    const { host, port } = this.options;
    const timeoutMs = this.options.connectTimeoutMs ?? 10_000;
    const socket = connect({ host, port });
    this.socket = socket;
    socket.setTimeout(timeoutMs);
    socket.once('connect', () => {
      socket.setTimeout(0);
      socket.setKeepAlive(true, KEEPALIVE_MS);
      this.opened();
    });
    socket.on('data', (chunk: Buffer) => {
      // Reset on data, not on connect: a server that accepts and hangs up at once keeps backing off.
      this.backoff.reset();
      this.framer.push(chunk);
    });
    socket.on('timeout', () => this.lost(socket, `no connection after ${timeoutMs} ms`));
    // 'error' (refused, reset, unreachable) comes before 'close'; the first one names the reason.
    socket.on('error', (err: Error) => this.lost(socket, err.message));
    socket.on('close', () => this.lost(socket, 'connection closed by the server'));
  }

  /** Writes to the connected server (a gateway taking frames to send); rejects while not connected. */
  write(data: string | Uint8Array): Promise<void> {
    const socket = this.socket;
    if (!socket || this.state !== 'open') return Promise.reject(new Error(`${this.name} is not connected`));
    return new Promise((resolve, reject) => socket.write(data, (err) => (err ? reject(err) : resolve())));
  }

  protected release(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return Promise.resolve();
    this.framer.end();
    socket.removeAllListeners();
    socket.on('error', () => {});
    return new Promise((resolve) => {
      if (socket.destroyed) return resolve();
      socket.once('close', () => resolve());
      socket.destroy();
    });
  }

  private lost(socket: Socket, reason: string): void {
    if (this.socket !== socket || this.stopped) return;
    this.socket = undefined;
    this.framer.end();
    socket.removeAllListeners();
    socket.on('error', () => {});
    socket.destroy();
    this.failed(reason);
  }
}
