// Raw UDP/TCP sockets for plugins (radar, NMEA over IP): upstream's `sk_udp_*` / `sk_tcp_*`
// functions of the `env` module, non-blocking as upstream: the plugin creates a socket, the host
// buffers what arrives, the plugin polls with `*_pending` / `*_recv*`. Sockets belong to one
// plugin instance and close with it. Grant rules: every call needs `rawSockets`; sending a
// datagram and connecting also need the destination granted (`net:<host>:<port>`, or rawSockets
// alone as upstream), checked at each send and connect.

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { Socket as TcpSocket } from 'node:net';
import { BoundedQueue } from '../../../core/bounded-queue.js';
import { MAX_GUEST_STRING, type GuestMemory } from '../memory.js';

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
  queue: BoundedQueue<Datagram>;
}

interface TcpEntry {
  kind: 'tcp';
  socket: TcpSocket;
  connected: boolean;
  connecting: boolean;
  lineMode: boolean;
  partial: string;
  lines: BoundedQueue<string>;
  chunks: BoundedQueue<Buffer>;
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
    const entry: UdpEntry = { kind: 'udp', socket, bound: false, deferred: [], queue: new BoundedQueue(MAX_QUEUED) };
    socket.on('message', (data, rinfo) => entry.queue.push({ data, address: rinfo.address, port: rinfo.port }));
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
      lines: new BoundedQueue(MAX_QUEUED),
      chunks: new BoundedQueue(MAX_QUEUED),
    };
    socket.on('data', (data: Buffer) => {
      if (!entry.lineMode) {
        entry.chunks.push(data);
        return;
      }
      const parts = (entry.partial + data.toString('utf8')).split(/\r?\n/);
      entry.partial = parts.pop() ?? '';
      for (const line of parts) if (line.length > 0) entry.lines.push(line);
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

/** Room for an IPv6 address and its NUL in sk_udp_recv's address buffer (upstream's contract). */
const ADDRESS_OUT_MAX = 46;

/** What the socket functions need from the `env` module they belong to. */
export interface SocketHost {
  memory: GuestMemory;
  /** The plugin holds `rawSockets` now. */
  rawSockets(): boolean;
  /** The destination is granted (a refusal is recorded by the host). */
  allowsNet(host: string, port: number): boolean;
  /** A refused call, logged (rate-limited). */
  refused(fn: string, why: string): void;
  /** Reads a string argument; undefined (logged) for a bad pointer. */
  str(fn: string, ptr: number, len: number): string | undefined;
  /** Runs a call; a host-side throw becomes `onError`. */
  guard<T>(fn: string, onError: T, body: () => T): T;
}

export interface SocketFunctions {
  readonly functions: Record<string, (...args: number[]) => number | void>;
  /** Closes every socket of the instance. */
  close(): void;
}

export function socketFunctions(host: SocketHost, onError: (message: string) => void): SocketFunctions {
  const { memory, str } = host;
  const sockets = new SocketTable(onError);
  const withSockets = (fn: string, body: () => number): number => {
    if (!host.rawSockets()) {
      host.refused(fn, 'rawSockets capability not granted');
      return -1;
    }
    return host.guard(fn, -1, body);
  };
  const optStr = (fn: string, ptr: number, len: number): string | undefined | null =>
    len === 0 ? undefined : (str(fn, ptr, len) ?? null);
  const multicast =
    (fn: string, join: boolean) => (sid: number, aPtr: number, aLen: number, iPtr: number, iLen: number) =>
      withSockets(fn, () => {
        const group = str(fn, aPtr, aLen);
        const iface = optStr(fn, iPtr, iLen);
        if (group === undefined || iface === null) return -1;
        return sockets.udpOption(sid, (s) => (join ? s.addMembership(group, iface) : s.dropMembership(group, iface)));
      });

  const functions: Record<string, (...args: number[]) => number | void> = {
    sk_udp_create: (type) => withSockets('sk_udp_create', () => sockets.udpCreate(type === 1)),
    sk_udp_bind: (sid, port) => withSockets('sk_udp_bind', () => sockets.udpBind(sid, port)),
    sk_udp_join_multicast: multicast('sk_udp_join_multicast', true),
    sk_udp_leave_multicast: multicast('sk_udp_leave_multicast', false),
    sk_udp_set_multicast_ttl: (sid, ttl) =>
      withSockets('sk_udp_set_multicast_ttl', () => sockets.udpOption(sid, (s) => s.setMulticastTTL(ttl))),
    sk_udp_set_multicast_loopback: (sid, on) =>
      withSockets('sk_udp_set_multicast_loopback', () =>
        sockets.udpOption(sid, (s) => s.setMulticastLoopback(on !== 0)),
      ),
    sk_udp_set_broadcast: (sid, on) =>
      withSockets('sk_udp_set_broadcast', () => sockets.udpOption(sid, (s) => s.setBroadcast(on !== 0))),
    sk_udp_send: (sid, aPtr, aLen, port, dPtr, dLen) =>
      withSockets('sk_udp_send', () => {
        const address = str('sk_udp_send', aPtr, aLen);
        const data = memory.readBytes(dPtr, dLen, MAX_GUEST_STRING);
        if (address === undefined || data === undefined || !host.allowsNet(address, port)) return -1;
        return sockets.udpSend(sid, address, port, data);
      }),
    sk_udp_recv: (sid, bufPtr, bufMax, addrPtr, portPtr) =>
      withSockets('sk_udp_recv', () => {
        // Check every output location before taking the datagram off the queue.
        if (!memory.view(bufPtr, bufMax) || !memory.view(addrPtr, ADDRESS_OUT_MAX) || !memory.view(portPtr, 2))
          return -1;
        const d = sockets.udpReceive(sid);
        if (d === null) return -1;
        if (d === undefined) return 0;
        memory.writeTruncated(addrPtr, ADDRESS_OUT_MAX, Buffer.from(`${d.address}\0`, 'utf8'));
        memory.writeU16(portPtr, d.port);
        return memory.writeTruncated(bufPtr, bufMax, d.data);
      }),
    sk_udp_pending: (sid) => withSockets('sk_udp_pending', () => sockets.udpPending(sid)),
    sk_udp_close(sid) {
      if (host.rawSockets()) sockets.close(sid, 'udp');
    },

    sk_tcp_create: () => withSockets('sk_tcp_create', () => sockets.tcpCreate()),
    sk_tcp_connect: (sid, aPtr, aLen, port) =>
      withSockets('sk_tcp_connect', () => {
        const target = str('sk_tcp_connect', aPtr, aLen);
        return target === undefined || !host.allowsNet(target, port) ? -1 : sockets.tcpConnect(sid, target, port);
      }),
    sk_tcp_connected: (sid) => withSockets('sk_tcp_connected', () => sockets.tcpConnected(sid)),
    sk_tcp_set_line_buffering: (sid, on) =>
      withSockets('sk_tcp_set_line_buffering', () => sockets.tcpSetLineBuffering(sid, on !== 0)),
    sk_tcp_send: (sid, dPtr, dLen) =>
      withSockets('sk_tcp_send', () => {
        const data = memory.readBytes(dPtr, dLen, MAX_GUEST_STRING);
        return data === undefined ? -1 : sockets.tcpSend(sid, data);
      }),
    sk_tcp_recv_line: (sid, bufPtr, bufMax) =>
      withSockets('sk_tcp_recv_line', () => {
        if (!memory.view(bufPtr, bufMax)) return -1;
        const line = sockets.tcpReceiveLine(sid);
        if (line === null) return -1;
        return line === undefined ? 0 : memory.writeTruncated(bufPtr, bufMax, Buffer.from(line, 'utf8'));
      }),
    sk_tcp_recv_raw: (sid, bufPtr, bufMax) =>
      withSockets('sk_tcp_recv_raw', () => {
        if (!memory.view(bufPtr, bufMax)) return -1;
        const chunk = sockets.tcpReceiveRaw(sid);
        if (chunk === null) return -1;
        return chunk === undefined ? 0 : memory.writeTruncated(bufPtr, bufMax, chunk);
      }),
    sk_tcp_pending: (sid) => withSockets('sk_tcp_pending', () => sockets.tcpPending(sid)),
    sk_tcp_close(sid) {
      if (host.rawSockets()) sockets.close(sid, 'tcp');
    },
  };
  return { functions, close: () => sockets.closeAll() };
}
