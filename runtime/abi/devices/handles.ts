// What stands behind a plugin's HAL handle: a share of a serial device, a CAN interface or an MQTT
// subscription, and the bounded queue of what arrived for the plugin since it last read. A full
// queue drops its oldest entries and counts them (shown in the plugin's status).

import type { CanFrame } from '../../hal/can/frame.js';
import type { CanLease } from '../../hal/can/interfaces.js';
import { LineFramer } from '../../hal/framing.js';
import type { SerialLease } from '../../hal/serial/ports.js';

const MAX_QUEUED_LINES = 10_000;
const MAX_QUEUED_BYTES = 1024 * 1024;
const MAX_QUEUED_FRAMES = 10_000;
const MAX_QUEUED_MESSAGES = 1_000;

export interface HandleStatus {
  handle: number;
  kind: 'serial' | 'can' | 'mqtt';
  target: string;
  queued: number;
  received: number;
  dropped: number;
}

/** A queue that keeps the newest `limit` items, counting what it had to drop. */
class BoundedQueue<T> {
  private items: T[] = [];
  private head = 0;
  received = 0;
  dropped = 0;

  constructor(private readonly limit: number) {}

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.received++;
    if (this.length >= this.limit) {
      this.head++;
      this.dropped++;
    }
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head++];
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

}

export interface HalHandle {
  readonly kind: HandleStatus['kind'];
  /** What the handle was opened on (device path, interface, topic filter). */
  readonly target: string;
  status(handle: number): HandleStatus;
  close(): Promise<void>;
}

export class SerialHandle implements HalHandle {
  readonly kind = 'serial';
  private readonly lines = new BoundedQueue<Buffer>(MAX_QUEUED_LINES);
  /** Raw mode: received chunks, the first one read up to rawOffset. */
  private readonly raw: Buffer[] = [];
  private rawOffset = 0;
  private queuedBytes = 0;
  private receivedBytes = 0;
  private droppedBytes = 0;
  private readonly unlisten: (() => void)[];

  constructor(
    private readonly lease: SerialLease,
    readonly linesMode: boolean,
    readonly canWrite: boolean,
    onData: () => void,
  ) {
    const driver = lease.driver;
    if (linesMode) {
      const framer = new LineFramer({ line: (text) => this.lines.push(Buffer.from(text, 'latin1')), error: () => {} });
      this.unlisten = [
        driver.onData((chunk) => {
          framer.push(chunk);
          onData();
        }),
        driver.onState((state) => {
          if (state !== 'open') framer.end();
        }),
      ];
    } else {
      this.unlisten = [
        driver.onData((chunk) => {
          this.pushRaw(chunk);
          onData();
        }),
      ];
    }
  }

  get target(): string {
    return this.lease.device;
  }

  get open(): boolean {
    return this.lease.driver.state === 'open';
  }

  get lastError(): string | undefined {
    return this.lease.driver.lastError;
  }

  private pushRaw(chunk: Buffer): void {
    this.raw.push(chunk);
    this.queuedBytes += chunk.length;
    this.receivedBytes += chunk.length;
    if (this.queuedBytes > MAX_QUEUED_BYTES) this.droppedBytes += this.consume(this.queuedBytes - MAX_QUEUED_BYTES).length;
  }

  /** Takes up to max bytes off the front of the raw queue. */
  private consume(max: number): Buffer {
    const parts: Buffer[] = [];
    let n = 0;
    while (n < max && this.raw.length > 0) {
      const first = this.raw[0]!;
      const take = Math.min(first.length - this.rawOffset, max - n);
      parts.push(first.subarray(this.rawOffset, this.rawOffset + take));
      n += take;
      this.rawOffset += take;
      if (this.rawOffset === first.length) {
        this.raw.shift();
        this.rawOffset = 0;
      }
    }
    this.queuedBytes -= n;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }

  /** Next line (without line end), or undefined when none is queued. Peek first to check it fits. */
  peekLine(): Buffer | undefined {
    return this.lines.peek();
  }

  takeLine(): void {
    this.lines.shift();
  }

  /** Up to max queued bytes, oldest first. */
  takeBytes(max: number): Buffer {
    return this.consume(max);
  }

  write(data: Uint8Array): Promise<void> {
    return this.lease.driver.write(data);
  }

  status(handle: number): HandleStatus {
    return this.linesMode
      ? { handle, kind: 'serial', target: this.target, queued: this.lines.length, received: this.lines.received, dropped: this.lines.dropped }
      : { handle, kind: 'serial', target: this.target, queued: this.queuedBytes, received: this.receivedBytes, dropped: this.droppedBytes };
  }

  async close(): Promise<void> {
    for (const off of this.unlisten) off();
    await this.lease.release();
  }
}

export class CanHandle implements HalHandle {
  readonly kind = 'can';
  private readonly frames = new BoundedQueue<CanFrame>(MAX_QUEUED_FRAMES);
  private unlisten: () => void;

  /** `wanted`: the PGNs the plugin asked for (undefined: all it may see); `pgns`: the filter in force. */
  constructor(
    private readonly lease: CanLease,
    readonly wanted: ReadonlySet<number> | undefined,
    pgns: ReadonlySet<number> | undefined,
    private readonly onData: () => void,
  ) {
    this.unlisten = this.listen(pgns);
  }

  private listen(pgns: ReadonlySet<number> | undefined): () => void {
    return this.lease.onFrame((frame) => {
      this.frames.push(frame);
      this.onData();
    }, pgns);
  }

  get target(): string {
    return this.lease.iface;
  }

  get lastError(): string | undefined {
    return this.lease.lastError;
  }

  /** A grant change narrowed or widened the PGNs this handle may see. */
  refilter(pgns: ReadonlySet<number> | undefined): void {
    this.unlisten();
    this.unlisten = this.listen(pgns);
  }

  take(): CanFrame | undefined {
    return this.frames.shift();
  }

  send(frame: CanFrame): Promise<void> {
    return this.lease.send(frame);
  }

  status(handle: number): HandleStatus {
    return { handle, kind: 'can', target: this.target, queued: this.frames.length, received: this.frames.received, dropped: this.frames.dropped };
  }

  async close(): Promise<void> {
    this.unlisten();
    await this.lease.release();
  }
}

export interface MqttMessage {
  topic: string;
  payload: Buffer;
}

export class MqttHandle implements HalHandle {
  readonly kind = 'mqtt';
  private readonly messages = new BoundedQueue<MqttMessage>(MAX_QUEUED_MESSAGES);
  readonly push = (topic: string, payload: Buffer): void => this.messages.push({ topic, payload });

  constructor(readonly target: string) {}

  /** Set once the broker subscription exists. */
  unsubscribe: () => void = () => {};

  peek(): MqttMessage | undefined {
    return this.messages.peek();
  }

  take(): void {
    this.messages.shift();
  }

  status(handle: number): HandleStatus {
    return { handle, kind: 'mqtt', target: this.target, queued: this.messages.length, received: this.messages.received, dropped: this.messages.dropped };
  }

  async close(): Promise<void> {
    this.unsubscribe();
  }
}
