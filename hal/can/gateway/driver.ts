// An NMEA 2000 gateway as a CAN driver: a transport of the HAL (a shared serial device, UDP, TCP
// or a replayed file) → the gateway's framing (Actisense binary, or one of the text formats) → CAN
// frames, delivered through CanInterfaces like SocketCAN's, so the N2K codec and plugins with a
// `can:` grant read a gateway the same way. What the framing refuses is counted by reason in
// `dropped` (the source's errors). Frames a plugin sends go out in the gateway's own format, where
// the gateway can transmit (NGT-1, Yacht Devices RAW over serial or TCP, iKonvert).

import { createLogger } from '../../../core/log.js';
import { DriverBase, type ByteSink, type DriverState } from '../../driver.js';
import { LineFramer, type LineSink } from '../../framing.js';
import { TcpDriver } from '../../net/tcp.js';
import { UdpDriver } from '../../net/udp.js';
import { ReplayDriver, type ReplayOptions } from '../../serial/replay.js';
import type { SerialLease, SerialPorts } from '../../serial/ports.js';
import type { CanDriver } from '../driver.js';
import type { CanFrame } from '../frame.js';
import { ActisenseFramer, encodeActisense } from './actisense-binary.js';
import { decodeLine, encodeIkonvert, encodeYdwgRaw, type LineFormat } from './line-formats.js';
import { FastPacketJoiner, toFrames } from './message.js';

const log = createLogger('gateway');

export type GatewayFormat = 'actisense' | LineFormat;

export type GatewayTransport =
  | { kind: 'serial'; device: string; baudRate: number }
  | { kind: 'udp'; port: number; address?: string }
  | { kind: 'tcp'; host: string; port: number }
  | ({ kind: 'file' } & ReplayOptions);

/** Puts the iKonvert on the bus and makes it hand over every PGN (its default is silence). */
const IKONVERT_INIT = '$PDGY,N2NET_INIT,ALL\r\n';

/** How received bytes (serial, UDP, TCP) or lines (a replayed file) become frames. */
interface Decoder extends ByteSink {
  readonly lines: LineSink;
}

/** What the driver holds open: the transport's state, and a way to write where it has one. */
interface Held {
  readonly state: DriverState;
  readonly lastError: string | undefined;
  write?(data: string | Uint8Array): Promise<void>;
  close(): Promise<void>;
}

export class GatewayDriver extends DriverBase<CanFrame> implements CanDriver {
  private held: Held | undefined;
  private refused: string | undefined;
  private readonly joiner = new FastPacketJoiner();
  private readonly decoder: Decoder;
  private readonly name: string;

  constructor(
    private readonly format: GatewayFormat,
    private readonly transport: GatewayTransport,
    private readonly serialPorts: SerialPorts,
  ) {
    super();
    const t = transport;
    this.name = `${format} on ${t.kind === 'serial' ? t.device : t.kind === 'file' ? t.file : t.kind === 'udp' ? `udp :${t.port}` : `tcp ${t.host}:${t.port}`}`;
    this.decoder = this.makeDecoder();
  }

  override get state(): DriverState {
    if (this.refused !== undefined) return 'stopped';
    return this.held?.state ?? 'stopped';
  }

  override get lastError(): string | undefined {
    return this.refused ?? this.held?.lastError;
  }

  open(): void {
    if (this.held) return;
    this.refused = undefined;
    const t = this.transport;
    if (t.kind === 'serial') {
      try {
        this.held = this.serial(this.serialPorts.acquire(t.device, t.baudRate));
      } catch (err) {
        this.refused = `${this.name}: ${(err as Error).message}`;
        log.error(this.refused);
      }
      return;
    }
    const d = this.decoder;
    const driver = t.kind === 'udp' ? new UdpDriver({ port: t.port, address: t.address }, d) : t.kind === 'tcp' ? new TcpDriver({ host: t.host, port: t.port }, d) : new ReplayDriver(t, d.lines);
    if (driver instanceof ReplayDriver) driver.onState((s) => this.setState(s));
    const tcp = driver instanceof TcpDriver ? driver : undefined;
    this.held = {
      get state() {
        return driver.state;
      },
      get lastError() {
        return driver.lastError;
      },
      ...(tcp ? { write: (data: string | Uint8Array) => tcp.write(data) } : {}),
      close: () => driver.close(),
    };
    driver.open();
  }

  async close(): Promise<void> {
    const held = this.held;
    this.held = undefined;
    await held?.close();
    this.decoder.end();
    this.setState('stopped');
  }

  async send(frame: CanFrame): Promise<void> {
    const write = this.held?.write;
    if (!write) throw new Error(`${this.name} cannot send frames (${this.held ? 'receive-only transport' : 'not open'})`);
    if (this.format === 'ydwg-raw') return write(encodeYdwgRaw(frame));
    if (this.format !== 'actisense' && this.format !== 'ikonvert') throw new Error(`${this.name}: this gateway format is receive-only`);
    // These gateways transmit whole messages and do the fast-packet framing on the bus themselves.
    const m = this.joiner.add(frame);
    if (!m) return;
    return write(this.format === 'actisense' ? encodeActisense(m) : encodeIkonvert(m));
  }

  private serial(lease: SerialLease): Held {
    const driver = lease.driver;
    const offs = [
      driver.onData((chunk) => this.decoder.push(chunk)),
      driver.onState((state) => {
        // A frame or line cut by a disconnect is counted as it is, not glued to new data.
        if (state !== 'open') this.decoder.end();
        else if (this.format === 'ikonvert') driver.write(IKONVERT_INIT).catch((err: unknown) => this.drop('send', (err as Error).message));
        this.setState(state);
      }),
    ];
    if (driver.state === 'open' && this.format === 'ikonvert') driver.write(IKONVERT_INIT).catch((err: unknown) => this.drop('send', (err as Error).message));
    return {
      get state() {
        return driver.state;
      },
      get lastError() {
        return driver.lastError;
      },
      write: (data) => driver.write(data),
      close: async () => {
        for (const off of offs) off();
        await lease.release();
      },
    };
  }

  private makeDecoder(): Decoder {
    const emit = (frames: CanFrame[]): void => {
      for (const f of frames) this.data.emit(f);
    };
    const drop = (reason: string, detail: string): void => this.drop(reason, detail);
    if (this.format === 'actisense') {
      const framer = new ActisenseFramer({ message: (m) => emit(toFrames(m, Date.now())), error: drop });
      return { push: (chunk) => framer.push(chunk), end: () => framer.end(), lines: { line: () => drop('garbage', 'NGT-1 binary is not read from text lines'), error: drop } };
    }
    const format = this.format;
    const lines: LineSink = {
      line: (text) => {
        const r = decodeLine(format, text, Date.now());
        if (r.kind === 'frames') emit(r.frames);
        else if (r.kind === 'error') drop(r.reason, r.detail);
      },
      error: drop,
    };
    const framer = new LineFramer(lines);
    return { push: (chunk) => framer.push(chunk), end: () => framer.end(), lines };
  }

  private drop(reason: string, detail: string): void {
    this.count(reason);
    log.limited('warn', `${this.name}:${reason}`, `${this.name}: ${reason}: ${detail}`);
  }
}
