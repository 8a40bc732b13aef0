// The CAN driver for boards: a raw SocketCAN channel on an interface (can0, vecan0, ...), extended
// ids only. When the interface is absent, down, or goes away (USB adapter unplugged, `ip link set
// can0 down`), it retries with exponential backoff and says why in lastError; it never throws.
// The kernel does not always tell a bound socket that its interface went down, so while open the
// interface's operstate in sysfs is checked every LINK_CHECK_MS.

import { readFile } from 'node:fs/promises';
import { createLogger } from '../../core/log.js';
import { ReconnectingDriver, type RetryOptions } from '../reconnecting.js';
import { loadChannelBinding, parseChannelMessage, type ChannelBinding, type RawChannel } from './channel.js';
import type { CanDriver } from './driver.js';
import { isValidFrame, type CanFrame } from './frame.js';

const log = createLogger('socketcan');

const LINK_CHECK_MS = 2_000;

export interface SocketCanOptions extends RetryOptions {
  iface: string;
  /** Where interfaces are listed (a seam for tests); /sys/class/net. */
  sysfs?: string;
  /** The CAN socket binding (a seam for tests); loaded lazily by default. */
  binding?: () => Promise<ChannelBinding>;
}

/** Why the interface cannot be used now, from sysfs; undefined when it exists and is not down. */
async function linkProblem(sysfs: string, iface: string): Promise<string | undefined> {
  let state: string;
  try {
    state = (await readFile(`${sysfs}/${iface}/operstate`, 'utf8')).trim();
  } catch {
    return 'interface absent';
  }
  return state === 'down' ? `interface is down (ip link set ${iface} up type can bitrate 250000)` : undefined;
}

export class SocketCanDriver extends ReconnectingDriver<CanFrame> implements CanDriver {
  private channel: RawChannel | undefined;
  private linkTimer: NodeJS.Timeout | undefined;
  /** Bumped by every attempt and release, so a late async step of an older attempt does nothing. */
  private generation = 0;

  constructor(private readonly options: SocketCanOptions) {
    super(options.iface, options, log);
  }

  protected attempt(): void {
    void this.connect();
  }

  protected async release(): Promise<void> {
    this.generation++;
    clearInterval(this.linkTimer);
    this.linkTimer = undefined;
    this.stopChannel();
  }

  protected override failure(reason: string, delayMs: number): string {
    return `no SocketCAN interface ${this.options.iface}: ${super.failure(reason, delayMs)}`;
  }

  send(frame: CanFrame): Promise<void> {
    const channel = this.channel;
    if (!channel || this._state !== 'open') return Promise.reject(new Error(`${this.options.iface} is not open`));
    if (!isValidFrame(frame))
      return Promise.reject(new Error(`not a valid CAN frame: id ${frame.id}, ${frame.data.length} bytes`));
    try {
      channel.send({ id: frame.id, ext: true, rtr: false, data: Buffer.from(frame.data) });
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(new Error(`${this.options.iface}: send failed: ${(err as Error).message}`));
    }
  }

  private async connect(): Promise<void> {
    const generation = ++this.generation;
    const { iface } = this.options;
    const problem = await linkProblem(this.options.sysfs ?? '/sys/class/net', iface);
    if (generation !== this.generation) return;
    if (problem !== undefined) return this.failed(problem);
    let channel: RawChannel;
    try {
      const binding = await (this.options.binding ?? loadChannelBinding)();
      if (generation !== this.generation) return;
      channel = binding.open(iface);
      channel.addListener('onMessage', (msg) => this.received(msg));
      channel.addListener('onStopped', () => {
        if (this.channel === channel) this.lost('channel stopped (interface down or removed)');
      });
      channel.start();
    } catch (err) {
      if (generation !== this.generation) return;
      return this.failed((err as Error).message);
    }
    this.channel = channel;
    this.backoff.reset();
    this.linkTimer = setInterval(() => void this.checkLink(channel), LINK_CHECK_MS);
    this.linkTimer.unref();
    this.opened();
  }

  private received(msg: unknown): void {
    const m = parseChannelMessage(msg);
    // socketcan flags ext/rtr/err; canboatjs's channel masks the id and flags nothing, so there an
    // id that fits 11 bits is taken for a standard frame (no NMEA 2000 device sends such an id).
    const reason = !m
      ? 'unreadable'
      : m.err
        ? 'error-frame'
        : m.rtr
          ? 'remote'
          : m.data.length > 8
            ? 'oversize'
            : undefined;
    if (m && !reason && (m.ext || m.id > 0x7ff)) {
      this.data.emit({ id: m.id, data: m.data, time: Date.now() });
      return;
    }
    const why = reason ?? 'standard-id';
    this.count(why);
    log.limited(
      'warn',
      `${this.options.iface}:${why}`,
      `${this.options.iface}: dropped a ${why} frame (NMEA 2000 uses 29-bit data frames)`,
    );
  }

  private async checkLink(channel: RawChannel): Promise<void> {
    const problem = await linkProblem(this.options.sysfs ?? '/sys/class/net', this.options.iface);
    if (problem !== undefined && this.channel === channel) this.lost(problem);
  }

  private stopChannel(): void {
    const channel = this.channel;
    this.channel = undefined;
    try {
      channel?.stop();
    } catch {
      // already stopped by the binding (interface gone): nothing left to release
    }
  }

  /** The open channel failed: drop it and reconnect. */
  private lost(reason: string): void {
    if (this.stopped) return;
    clearInterval(this.linkTimer);
    this.linkTimer = undefined;
    this.stopChannel();
    this.failed(reason);
  }
}
