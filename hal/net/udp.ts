// The UDP driver: listens on a port (optionally one local address) and hands every datagram to the
// source's framer (NMEA 0183 lines, gateway frames). A datagram carries whole sentences, so a last
// line without CR/LF ends with its datagram; senders never interleave within a line.

import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { ByteSink } from '../driver.js';
import { createLogger } from '../../core/log.js';
import { ReconnectingDriver, type RetryOptions } from '../reconnecting.js';

const log = createLogger('net');

export interface UdpOptions extends RetryOptions {
  port: number;
  /** Local address to bind; default every IPv4 address. */
  address?: string;
}

export class UdpDriver extends ReconnectingDriver {
  private socket: Socket | undefined;

  /** `framer` cuts the bytes into what the source's codec reads (lines, gateway frames). */
  constructor(
    private readonly options: UdpOptions,
    private readonly framer: ByteSink,
  ) {
    super(`udp ${options.address ?? '0.0.0.0'}:${options.port}`, options, log);
  }

  protected attempt(): void {
    const { port, address } = this.options;
    const socket = createSocket({ type: address !== undefined && isIPv6(address) ? 'udp6' : 'udp4' });
    this.socket = socket;
    socket.on('message', (datagram: Buffer) => {
      this.framer.push(datagram);
      this.framer.end();
    });
    // Binding fails with EADDRINUSE or EADDRNOTAVAIL (address not up yet): retried with backoff.
    socket.on('error', (err: Error) => this.lost(socket, err.message));
    socket.on('listening', () => {
      this.backoff.reset();
      this.opened();
    });
    socket.bind({ port, address });
  }

  protected release(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return Promise.resolve();
    socket.removeAllListeners('message');
    return new Promise((resolve) => {
      try {
        socket.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    });
  }

  private lost(socket: Socket, reason: string): void {
    if (this.socket !== socket || this.stopped) return;
    this.socket = undefined;
    socket.removeAllListeners();
    socket.on('error', () => {}); // late errors from the dropped socket must not crash the process
    try {
      socket.close();
    } catch {
      // never bound: nothing to close
    }
    this.failed(reason);
  }
}
