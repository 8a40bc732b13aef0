// Raw UDP/TCP sockets for plugins granted `rawSockets` (radar, NMEA over IP), non-blocking as
// upstream: the plugin creates a socket, the host buffers what arrives, the plugin polls with
// `*_pending` / `*_recv*`. Sockets belong to one plugin instance and close with it.

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { Socket as TcpSocket } from 'node:net';

/** Per-plugin limits: a plugin cannot exhaust file descriptors or memory with queued data. */
const MAX_SOCKETS = 32;
const MAX_QUEUED = 1000;

export interface Datagram {
  data: Buffer;
  address: string;
  port: number;
}

type UdpOption = (s: UdpSocket) => void;

interface UdpEntry {
  kind: 'udp';
  socket: UdpSocket;
  bound: boolean;
  /** Options set before bind completes (Node refuses them on an unbound socket); applied on bind. */
  deferred: UdpOption[];
  queue: Datagram[];
}

interface TcpEntry {
  kind: 'tcp';
  socket: TcpSocket;
  connected: boolean;
  connecting: boolean;
  lineMode: boolean;
  partial: string;
  lines: string[];
  chunks: Buffer[];
}

function pushBounded<T>(queue: T[], item: T): void {
  if (queue.length >= MAX_QUEUED) queue.shift();
  queue.push(item);
}

export class SocketTable {
  private readonly entries = new Map<number, UdpEntry | TcpEntry>();
  private nextId = 1;

  constructor(private readonly onError: (message: string) => void) {}

  private add(entry: UdpEntry | TcpEntry): number {
    const id = this.nextId++;
    this.entries.set(id, entry);
    return id;
  }

  private udp(id: number): UdpEntry | undefined {
    const e = this.entries.get(id);
    return e?.kind === 'udp' ? e : undefined;
  }

  private tcp(id: number): TcpEntry | undefined {
    const e = this.entries.get(id);
    return e?.kind === 'tcp' ? e : undefined;
  }

  udpCreate(ipv6: boolean): number {
    if (this.entries.size >= MAX_SOCKETS) return -1;
    const socket = createSocket({ type: ipv6 ? 'udp6' : 'udp4', reuseAddr: true });
    const entry: UdpEntry = { kind: 'udp', socket, bound: false, deferred: [], queue: [] };
    socket.on('message', (data, rinfo) => pushBounded(entry.queue, { data, address: rinfo.address, port: rinfo.port }));
    socket.on('error', (err) => this.onError(`udp socket: ${err.message}`));
    return this.add(entry);
  }

  udpBind(id: number, port: number): number {
    const e = this.udp(id);
    if (!e || e.bound || port < 0 || port > 65535) return -1;
    try {
      e.socket.bind(port, () => {
        e.bound = true;
        for (const apply of e.deferred.splice(0)) {
          try {
            apply(e.socket);
          } catch (err) {
            this.onError(`udp option after bind: ${(err as Error).message}`);
          }
        }
      });
      return 0;
    } catch {
      return -1;
    }
  }

  /** Runs a socket option now when bound, or after bind completes (as upstream). */
  udpOption(id: number, apply: UdpOption): number {
    const e = this.udp(id);
    if (!e) return -1;
    if (!e.bound) {
      e.deferred.push(apply);
      return 0;
    }
    try {
      apply(e.socket);
      return 0;
    } catch {
      return -1;
    }
  }

  udpSend(id: number, address: string, port: number, data: Uint8Array): number {
    const e = this.udp(id);
    if (!e || port < 1 || port > 65535) return -1;
    e.socket.send(data, port, address, (err) => {
      if (err) this.onError(`udp send to ${address}:${port}: ${err.message}`);
    });
    return data.length;
  }

  udpReceive(id: number): Datagram | undefined | null {
    const e = this.udp(id);
    if (!e) return null;
    return e.queue.shift();
  }

  udpPending(id: number): number {
    const e = this.udp(id);
    return e ? e.queue.length : -1;
  }

  tcpCreate(): number {
    if (this.entries.size >= MAX_SOCKETS) return -1;
    const socket = new TcpSocket();
    const entry: TcpEntry = {
      kind: 'tcp',
      socket,
      connected: false,
      connecting: false,
      lineMode: true,
      partial: '',
      lines: [],
      chunks: [],
    };
    socket.on('data', (data: Buffer) => {
      if (!entry.lineMode) return pushBounded(entry.chunks, data);
      const parts = (entry.partial + data.toString('utf8')).split(/\r?\n/);
      entry.partial = parts.pop() ?? '';
      for (const line of parts) if (line.length > 0) pushBounded(entry.lines, line);
    });
    socket.on('connect', () => {
      entry.connected = true;
      entry.connecting = false;
    });
    socket.on('error', (err) => this.onError(`tcp socket: ${err.message}`));
    socket.on('close', () => {
      entry.connected = false;
      entry.connecting = false;
    });
    return this.add(entry);
  }

  tcpConnect(id: number, host: string, port: number): number {
    const e = this.tcp(id);
    if (!e || e.connected || e.connecting || port < 1 || port > 65535) return -1;
    e.connecting = true;
    e.socket.connect(port, host);
    return 0;
  }

  tcpConnected(id: number): number {
    const e = this.tcp(id);
    return e ? (e.connected ? 1 : 0) : -1;
  }

  tcpSetLineBuffering(id: number, on: boolean): number {
    const e = this.tcp(id);
    if (!e) return -1;
    e.lineMode = on;
    return 0;
  }

  tcpSend(id: number, data: Uint8Array): number {
    const e = this.tcp(id);
    if (!e || !e.connected) return -1;
    e.socket.write(data);
    return data.length;
  }

  tcpReceiveLine(id: number): string | undefined | null {
    const e = this.tcp(id);
    return e ? e.lines.shift() : null;
  }

  tcpReceiveRaw(id: number): Buffer | undefined | null {
    const e = this.tcp(id);
    return e ? e.chunks.shift() : null;
  }

  tcpPending(id: number): number {
    const e = this.tcp(id);
    if (!e) return -1;
    return e.lineMode ? e.lines.length : e.chunks.length;
  }

  /** Closes a socket of the given kind (sk_udp_close cannot close a TCP socket and vice versa). */
  close(id: number, kind: 'udp' | 'tcp'): void {
    const e = this.entries.get(id);
    if (!e || e.kind !== kind) return;
    this.entries.delete(id);
    if (e.kind === 'udp') {
      try {
        e.socket.close();
      } catch {
        // already closed
      }
    } else {
      e.socket.destroy();
    }
  }

  closeAll(): void {
    for (const [id, e] of [...this.entries]) this.close(id, e.kind);
  }
}
