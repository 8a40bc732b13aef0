// An NMEA 2000 gateway as a CAN driver: a transport of the HAL (a shared serial device, UDP or
// TCP) → the gateway's framing (Actisense binary, or one of the text formats) → CAN frames,
// delivered through CanInterfaces like SocketCAN's, so the N2K codec and plugins with a `can:`
// grant read a gateway the same way. What the framing refuses is counted by reason in `dropped`
// (the source's errors). Frames a plugin sends go out in the gateway's own format, where the
// gateway can transmit (NGT-1, iKonvert, W2K-1 over TCP, Yacht Devices RAW over serial or TCP).

import { createLogger } from '../../../core/log.js';
import { DriverBase, type ByteSink, type Driver, type DriverState } from '../../driver.js';
import { LineFramer } from '../../framing.js';
import { TcpDriver } from '../../net/tcp.js';
import { UdpDriver } from '../../net/udp.js';
import type { SerialPorts } from '../../serial/ports.js';
import type { CanDriver } from '../driver.js';
import type { CanFrame } from '../frame.js';
import { ActisenseFramer, encodeActisense } from './actisense-binary.js';
import { decodeLine, encodeActisenseAscii, encodeIkonvert, encodeYdwgRaw, type LineFormat } from './line-formats.js';
import { FastPacketJoiner, toFrames } from './message.js';

const log = createLogger('gateway');

export type GatewayFormat = 'actisense' | Exclude<LineFormat, 'n2k-log'>;

export type GatewayTransport =
  | { kind: 'serial'; device: string; baudRate: number }
  | { kind: 'udp'; port: number; address?: string }
  | { kind: 'tcp'; host: string; port: number };

/** Puts the iKonvert on the bus and makes it hand over every PGN (its default is silence). */
const IKONVERT_INIT = '$PDGY,N2NET_INIT,ALL\r\n';

/** What the gateway driver holds open: its transport, a way to write where it has one, and how to let go. */
interface Held {
  driver: Driver<unknown>;
  write?(data: string | Uint8Array): Promise<void>;
  release(): Promise<void>;
}

export class GatewayDriver extends DriverBase<CanFrame> implements CanDriver {
  private held: Held | undefined;
  private readonly joiner = new FastPacketJoiner();
  private readonly framer: ByteSink;
  private readonly name: string;

  constructor(
    private readonly format: GatewayFormat,
    private readonly transport: GatewayTransport,
    private readonly serialPorts: SerialPorts,
  ) {
    super();
    const t = transport;
    this.name = `${format} on ${t.kind === 'serial' ? t.device : t.kind === 'udp' ? `udp :${t.port}` : `tcp ${t.host}:${t.port}`}`;
    this.framer = this.makeFramer();
  }

  override get lastError(): string | undefined {
    return this._lastError ?? this.held?.driver.lastError;
  }

  open(): void {
    if (this.held) return;
    this._lastError = undefined;
    try {
      this.held = this.hold();
    } catch (err) {
      // A serial device shared at another rate: refused for good, not retried.
      this._lastError = `${this.name}: ${(err as Error).message}`;
      log.error(this._lastError);
      return;
    }
    const held = this.held;
    const off = held.driver.onState((state) => this.transportState(state));
    const release = (): Promise<void> => {
      off();
      return held.release();
    };
    this.held = { ...held, release };
    this.transportState(held.driver.state);
  }

  async close(): Promise<void> {
    const held = this.held;
    this.held = undefined;
    await held?.release();
    this.framer.end();
    this.setState('stopped');
  }

  async send(frame: CanFrame): Promise<void> {
    const write = this.held?.write;
    if (!write)
      throw new Error(`${this.name} cannot send frames (${this.held ? 'receive-only transport' : 'not open'})`);
    if (this.format === 'ydwg-raw') return write(encodeYdwgRaw(frame));
    // The others transmit whole messages and do the fast-packet framing on the bus themselves.
    const m = this.joiner.add(frame);
    if (!m) return;
    return write(
      this.format === 'actisense'
        ? encodeActisense(m)
        : this.format === 'ikonvert'
          ? encodeIkonvert(m)
          : encodeActisenseAscii(m),
    );
  }

  /** Opens the transport, its bytes going to the gateway's framer. */
  private hold(): Held {
    const t = this.transport;
    if (t.kind === 'serial') {
      const lease = this.serialPorts.acquire(t.device, t.baudRate);
      const off = lease.driver.onData((chunk) => this.framer.push(chunk));
      const release = (): Promise<void> => {
        off();
        return lease.release();
      };
      return { driver: lease.driver, write: (data) => lease.driver.write(data), release };
    }
    if (t.kind === 'udp') {
      const udp = new UdpDriver({ port: t.port, address: t.address }, this.framer);
      udp.open();
      return { driver: udp, release: () => udp.close() };
    }
    const tcp = new TcpDriver({ host: t.host, port: t.port }, this.framer);
    tcp.open();
    return { driver: tcp, write: (data) => tcp.write(data), release: () => tcp.close() };
  }

  private transportState(state: DriverState): void {
    // A frame or line cut by a disconnect is counted as it is, not glued to new data.
    if (state !== 'open') this.framer.end();
    else if (this.format === 'ikonvert')
      this.held?.write?.(IKONVERT_INIT).catch((err: unknown) => this.drop('send', (err as Error).message));
    this.setState(state);
  }

  private makeFramer(): ByteSink {
    const emit = (frames: CanFrame[]): void => {
      for (const f of frames) this.data.emit(f);
    };
    const drop = (reason: string, detail: string): void => this.drop(reason, detail);
    if (this.format === 'actisense')
      return new ActisenseFramer({ message: (m) => emit(toFrames(m, Date.now())), error: drop });
    const format = this.format;
    return new LineFramer({
      line: (text) => {
        const r = decodeLine(format, text, Date.now());
        if (r.kind === 'frames') emit(r.frames);
        else if (r.kind === 'error') drop(r.reason, r.detail);
      },
      error: drop,
    });
  }

  private drop(reason: string, detail: string): void {
    this.count(reason);
    log.limited('warn', `${this.name}:${reason}`, `${this.name}: ${reason}: ${detail}`);
  }
}
