// The process's one MQTT client connection (mqtt.js 5, MQTT 3.1.1 on the wire), shared by the
// bridge and plugins' `mqtt_*` host functions.
//
// Offline policy: while not connected, QoS 0 messages are dropped at once (the promise rejects
// with MqttUnavailableError, counted in `dropped`): at-most-once data is worth nothing late. QoS 1
// and 2 messages wait in a bounded queue (`maxQueued`, default 1000, shared with messages sent but
// not yet acknowledged) and go out, in order, when the connection is back; when the queue is full
// the oldest waiting message is dropped (its promise rejects), so memory stays bounded and the newest
// data survives. Connected, at most `maxQueued` QoS 0 messages may wait in the socket for a slow
// broker; more are dropped. Subscriptions are reference counted per filter; the broker gets the filters
// brokerFilters() picks (none covered by another, so no duplicate deliveries), made again on every
// (re)connect; incoming messages are routed to local listeners with `topicMatches`.

import type { IClientOptions, MqttClient } from 'mqtt';
import { lazyModule } from '../lazy-module.js';

const mqttjs = lazyModule<typeof import('mqtt')>('mqtt');
import { createLogger } from '../../core/log.js';
import { brokerFilters } from './broker-filters.js';
import { filterError, topicError, topicMatches } from './topic-filter.js';

const log = createLogger('mqtt');

export type MqttQos = 0 | 1 | 2;
export type MqttState = 'connecting' | 'connected' | 'reconnecting' | 'stopped';

export interface MqttConnectionOptions {
  /** `mqtt://host:port`, `mqtts://`, `ws://` or `wss://`. */
  url: string;
  clientId?: string;
  username?: string;
  password?: string;
  /** Delay between reconnect attempts (default 1000 ms). */
  reconnectMs?: number;
  /** QoS 1/2 messages waiting (offline) or unacknowledged, and QoS 0 messages waiting to be written, at most (default 1000 each). */
  maxQueued?: number;
}

export interface PublishOptions {
  qos?: MqttQos;
  retain?: boolean;
}

export type MessageListener = (topic: string, payload: Buffer) => void;

export interface MqttCounters {
  /** Messages the broker took (QoS 0: written to the socket; QoS 1/2: acknowledged). */
  published: number;
  /** Messages received from the broker. */
  received: number;
  /** Messages given to publish() that never reached the broker. */
  dropped: number;
  /** QoS 1/2 messages waiting for the connection now. */
  queued: number;
}

export interface MqttConnectionStatus {
  /** The broker URL without credentials. */
  url: string;
  state: MqttState;
  lastError?: string;
  /** Local subscriptions: distinct filters with at least one listener. */
  filters: number;
  /** Topic filters subscribed on the broker now (acknowledged); covered filters need none. */
  subscriptions: number;
  counters: MqttCounters;
}

/** publish() could not hand the message to the broker: not connected, queue full, or stopped. */
export class MqttUnavailableError extends Error {
  constructor(message: string) {
    // An expected outcome, one per message while the broker is away (thousands a second from the
    // bridge on a busy bus): no stack is captured, it would only say where publish() was called.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(message);
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.name = 'MqttUnavailableError';
  }
}

interface Waiting {
  topic: string;
  payload: string | Buffer;
  qos: 1 | 2;
  retain: boolean;
  settle: (err?: Error) => void;
}

interface Subscription {
  qos: MqttQos;
  listeners: Set<MessageListener>;
}

/** A filter asked of the broker on the current connection. */
interface BrokerFilter {
  qos: number;
  acked: boolean;
}

export const DEFAULT_MAX_QUEUED = 1000;
/** How long publishes gather before they leave in one write, and at most how many. */
const WRITE_WINDOW_MS = 25;
const WRITE_WINDOW_MESSAGES = 256;

/** The URL as shown in status and logs: user and password removed. */
function publicUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url;
  }
}

export class MqttConnection {
  readonly url: string;
  private client: MqttClient | undefined;
  /** The socket publishes gather in (see gather), how many, and the timer that releases them. */
  private corked: MqttClient['stream'] | undefined;
  private gathered = 0;
  private gatherTimer: NodeJS.Timeout | undefined;
  private _state: MqttState = 'stopped';
  private _lastError: string | undefined;
  private readonly counters: MqttCounters = { published: 0, received: 0, dropped: 0, queued: 0 };
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly broker = new Map<string, BrokerFilter>();
  /** Filters the broker refused on this connection (an ACL): they cover nothing, see syncBroker(). */
  private readonly refused = new Set<string>();
  /** QoS 1/2 messages waiting for a connection, oldest first. */
  private waiting: Waiting[] = [];
  /** Settle functions of QoS 1/2 messages handed to the client and not yet acknowledged. */
  private readonly inFlight = new Set<(err?: Error) => void>();
  /** Settle functions of QoS 0 messages handed to the client and not yet written. */
  private readonly unwritten = new Set<(err?: Error) => void>();
  private readonly maxQueued: number;

  constructor(private readonly options: MqttConnectionOptions) {
    this.url = publicUrl(options.url);
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
  }

  get state(): MqttState {
    return this._state;
  }

  get lastError(): string | undefined {
    return this._lastError;
  }

  status(): MqttConnectionStatus {
    const status: MqttConnectionStatus = {
      url: this.url,
      state: this._state,
      filters: this.subscriptions.size,
      subscriptions: [...this.broker.values()].filter((b) => b.acked).length,
      counters: { ...this.counters, queued: this.waiting.length },
    };
    if (this._lastError !== undefined) status.lastError = this._lastError;
    return status;
  }

  /** Starts connecting; keeps reconnecting until close(). Never throws for an unreachable broker. */
  connect(): void {
    if (this.client) return;
    const { url, clientId, username, password } = this.options;
    const opts: IClientOptions = {
      clientId: clientId ?? `signalk-edge-${Math.random().toString(16).slice(2, 10)}`,
      reconnectPeriod: this.options.reconnectMs ?? 1000,
      // Keep retrying after a refused CONNACK too: a broker that is starting says "server unavailable".
      reconnectOnConnackError: true,
      // Subscriptions and offline messages are handled here, see the file comment.
      resubscribe: false,
      queueQoSZero: false,
    };
    if (username !== undefined) opts.username = username;
    if (password !== undefined) opts.password = password;
    this._state = 'connecting';
    let client: MqttClient;
    try {
      client = mqttjs().connect(url, opts);
    } catch (err) {
      // A URL mqtt.js refuses (unknown protocol): settings validation should have caught it.
      this._lastError = `cannot connect to ${this.url}: ${(err as Error).message}`;
      log.error(this._lastError);
      this._state = 'stopped';
      return;
    }
    this.client = client;
    client.on('connect', () => this.onConnect(client));
    client.on('close', () => {
      if (this._state === 'stopped') return;
      if (this._state === 'connected') log.warn(`${this.url}: connection lost; reconnecting`);
      this._state = 'reconnecting';
      this._lastError ??= 'connection closed';
      // Clean session: the next connection starts without subscriptions.
      this.broker.clear();
      // mqtt.js sends unacknowledged QoS 1/2 messages again after reconnecting; QoS 0 ones are gone.
      const lost = new MqttUnavailableError(`connection to ${this.url} lost before a QoS 0 message was written`);
      for (const settle of [...this.unwritten]) settle(lost);
    });
    client.on('error', (err: Error) => {
      this._lastError = err.message;
      log.limited('warn', 'error', `${this.url}: ${err.message}`, 30_000);
    });
    client.on('message', (topic: string, payload: Buffer) => this.route(topic, payload));
  }

  /** Disconnects for good: waiting and unconfirmed messages are rejected and counted as dropped. */
  async close(): Promise<void> {
    this._state = 'stopped';
    this.release();
    const client = this.client;
    this.client = undefined;
    const stopped = new MqttUnavailableError(`MQTT connection to ${this.url} stopped`);
    for (const w of this.waiting.splice(0)) w.settle(stopped);
    for (const settle of [...this.inFlight, ...this.unwritten]) settle(stopped);
    this.subscriptions.clear();
    this.broker.clear();
    if (client) {
      try {
        await client.endAsync(true);
      } catch (err) {
        log.warn(`${this.url}: closing: ${(err as Error).message}`);
      }
    }
  }

  /**
   * Publishes a message; resolves once the broker has it (see the file comment for what happens
   * offline). Rejects with an Error naming the problem for a bad topic or QoS.
   */
  publish(topic: string, payload: string | Uint8Array, opts: PublishOptions = {}): Promise<void> {
    return new Promise<void>((resolve, reject) =>
      this.post(topic, payload, opts, (err) => (err ? reject(err) : resolve())),
    );
  }

  /**
   * publish() with a callback instead of a promise: `done` is called once, with the reason when
   * the message did not reach the broker. For a busy publisher (the bridge publishes every value
   * of a busy bus), whose callback can be made once and shared.
   */
  post(topic: string, payload: string | Uint8Array, opts: PublishOptions, done: (err?: Error) => void): void {
    const qos = opts.qos ?? 0;
    const retain = opts.retain ?? false;
    const bad =
      topicError(topic) ??
      (qos === 0 || qos === 1 || qos === 2 ? undefined : `QoS must be 0, 1 or 2, got ${String(qos)}`);
    if (bad !== undefined) {
      this.counters.dropped++;
      done(new Error(bad));
      return;
    }
    // A copy of bytes: the caller's (a plugin's memory) may change while the message waits. A string cannot.
    const body = typeof payload === 'string' ? payload : Buffer.from(payload);
    let settled = false;
    const settle = (err?: Error): void => {
      if (settled) return;
      settled = true;
      this.inFlight.delete(settle);
      this.unwritten.delete(settle);
      if (err) this.counters.dropped++;
      else this.counters.published++;
      done(err);
    };
    if (this._state === 'connected' && this.client) {
      if (qos > 0 && this.inFlight.size >= this.maxQueued) {
        settle(
          new MqttUnavailableError(
            `${this.maxQueued} messages to ${this.url} are unacknowledged; message to ${topic} dropped`,
          ),
        );
        return;
      }
      // A broker reading slower than we write (a weak link) must not grow the socket buffer without end.
      if (qos === 0 && this.unwritten.size >= this.maxQueued) {
        settle(
          new MqttUnavailableError(
            `${this.maxQueued} QoS 0 messages to ${this.url} wait to be written; message to ${topic} dropped`,
          ),
        );
        return;
      }
      this.send(this.client, topic, body, qos, retain, settle);
      return;
    }
    if (qos === 0) {
      settle(
        new MqttUnavailableError(`not connected to ${this.url} (${this._state}); QoS 0 message to ${topic} dropped`),
      );
      return;
    }
    if (this._state === 'stopped') {
      settle(new MqttUnavailableError(`MQTT connection to ${this.url} is stopped; message to ${topic} dropped`));
      return;
    }
    if (this.waiting.length + this.inFlight.size >= this.maxQueued) {
      const oldest = this.waiting.shift();
      if (oldest === undefined) {
        settle(
          new MqttUnavailableError(
            `${this.maxQueued} messages to ${this.url} are unacknowledged; message to ${topic} dropped`,
          ),
        );
        return;
      }
      oldest.settle(
        new MqttUnavailableError(
          `offline queue for ${this.url} full (${this.maxQueued}); oldest message, to ${oldest.topic}, dropped`,
        ),
      );
    }
    this.waiting.push({ topic, payload: body, qos, retain, settle });
  }

  /**
   * Calls `listener` for every message whose topic `filter` matches. All listeners of a filter
   * share one subscription, at the highest QoS any of them asked for. Returns the removal; the
   * subscription goes with the filter's last listener.
   * Throws for an invalid filter or QoS.
   */
  subscribe(filter: string, qos: MqttQos, listener: MessageListener): () => void {
    const bad = filterError(filter);
    if (bad !== undefined) throw new Error(bad);
    if (qos !== 0 && qos !== 1 && qos !== 2) throw new Error(`QoS must be 0, 1 or 2, got ${String(qos)}`);
    let sub = this.subscriptions.get(filter);
    if (sub === undefined) {
      sub = { qos, listeners: new Set() };
      this.subscriptions.set(filter, sub);
      this.syncBroker();
    } else if (qos > sub.qos) {
      sub.qos = qos;
      this.syncBroker();
    }
    // Each call gets its own entry, so one function subscribed twice is removed once per removal.
    const entry: MessageListener = (topic, payload) => listener(topic, payload);
    sub.listeners.add(entry);
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      const current = this.subscriptions.get(filter);
      if (current === undefined) return;
      current.listeners.delete(entry);
      if (current.listeners.size > 0) return;
      this.subscriptions.delete(filter);
      this.refused.delete(filter);
      this.syncBroker();
    };
  }

  private onConnect(client: MqttClient): void {
    if (this.client !== client || this._state === 'stopped') return;
    this._state = 'connected';
    this._lastError = undefined;
    log.info(`connected to ${this.url}`);
    this.broker.clear();
    this.refused.clear();
    this.syncBroker();
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) this.send(client, w.topic, w.payload, w.qos, w.retain, w.settle);
  }

  private send(
    client: MqttClient,
    topic: string,
    payload: string | Buffer,
    qos: MqttQos,
    retain: boolean,
    settle: (err?: Error) => void,
  ): void {
    (qos === 0 ? this.unwritten : this.inFlight).add(settle);
    this.gather(client);
    client.publish(topic, payload, { qos, retain }, (err?: Error) => settle(err));
  }

  /**
   * Publishes gather for WRITE_WINDOW_MS (or WRITE_WINDOW_MESSAGES) in the corked socket and leave
   * in one write: a bridge on a busy bus publishes in most turns of the loop, and a write per turn
   * (to a broker on the same machine, the kernel delivers it inside the write) was ≈ 6 % of a core
   * under the soak's load (decision 0099).
   */
  private gather(client: MqttClient): void {
    if (this.corked === undefined) {
      this.corked = client.stream;
      this.corked.cork();
      this.gatherTimer = setTimeout(() => this.release(), WRITE_WINDOW_MS);
    }
    if (++this.gathered >= WRITE_WINDOW_MESSAGES) this.release();
  }

  private release(): void {
    clearTimeout(this.gatherTimer);
    const stream = this.corked;
    this.corked = undefined;
    this.gathered = 0;
    stream?.uncork();
  }

  /**
   * Brings the broker's subscriptions in line with brokerFilters() of the local ones: new filters
   * first, then removals, so a message matching both an old and a new filter is never missed.
   */
  private syncBroker(): void {
    const client = this.client;
    if (this._state !== 'connected' || !client) return; // done on the next connect
    const local = new Map<string, number>();
    // A refused filter must not stand in for the narrower ones it covers: those are asked for instead.
    for (const [filter, sub] of this.subscriptions) if (!this.refused.has(filter)) local.set(filter, sub.qos);
    const wanted = brokerFilters(local);
    for (const [filter, qos] of wanted) {
      if (this.broker.get(filter)?.qos === qos) continue;
      const entry: BrokerFilter = { qos, acked: false };
      this.broker.set(filter, entry);
      client.subscribe(filter, { qos: qos as MqttQos }, (err, granted) => {
        if (this.broker.get(filter) !== entry) return; // replaced or removed meanwhile
        if (err || granted?.some((g) => g.qos === 128)) {
          // A SUBACK with code 128 (an ACL) comes as an ErrorWithSubackPacket; others are transport errors.
          const refused = !err || err instanceof mqttjs().ErrorWithSubackPacket;
          this._lastError = `subscribe ${filter}: ${refused ? 'refused by the broker' : err.message}`;
          log.limited('warn', `subscribe:${filter}`, `${this.url}: ${this._lastError}`);
          this.broker.delete(filter);
          if (refused && this.subscriptions.has(filter)) {
            this.refused.add(filter);
            this.syncBroker();
          }
          return;
        }
        entry.acked = true;
      });
    }
    for (const filter of [...this.broker.keys()]) {
      if (wanted.has(filter)) continue;
      this.broker.delete(filter);
      client.unsubscribe(filter, (err?: Error) => {
        // Failing because the connection went away is no news: the next connection starts clean.
        if (err && this._state === 'connected')
          log.limited('warn', `unsubscribe:${filter}`, `${this.url}: unsubscribe ${filter}: ${err.message}`);
      });
    }
  }

  private route(topic: string, payload: Buffer): void {
    this.counters.received++;
    for (const [filter, sub] of this.subscriptions) {
      if (!topicMatches(filter, topic)) continue;
      for (const listener of sub.listeners) {
        try {
          listener(topic, payload);
        } catch (err) {
          log.limited(
            'error',
            `listener:${filter}`,
            `listener for ${filter} failed on ${topic}: ${(err as Error).stack ?? String(err)}`,
          );
        }
      }
    }
  }
}
