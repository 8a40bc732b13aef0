// The Signal K WebSocket stream (/signalk/v1/stream): accepts clients, says hello, and fans each bus
// delta out to every session. Sessions are checked with pings so dead peers do not linger.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import type { BusDelta, DeltaBus } from '../bus/bus.js';
import type { SignalKModel } from '../model/model.js';
import { createLogger } from '../../core/log.js';
import { SERVER_ID, SERVER_VERSION } from './discovery.js';
import type { CanRead } from '../security/acl.js';
import { readableDelta, readableModel } from '../security/stream-filter.js';
import { MetaAnnouncer } from './stream-meta.js';
import {
  StreamSession,
  type PutHandler,
  type SessionCounters,
  type SessionDeps,
  type SessionLimits,
  type SharedFilters,
} from './session.js';
import { OutboundBudget } from './client-budget.js';
import { DEFAULT_LIMITS as BOUNDS, type StreamBounds } from '../security/limits.js';
import { requireCjs } from '../../core/require-cjs.js';

const { WebSocketServer } = requireCjs<typeof import('ws')>('ws');

const log = createLogger('stream');

export const STREAM_PATH = '/signalk/v1/stream';

export interface StreamLimits extends SessionLimits {
  /** Ping interval; a client that has not answered the previous ping is cut. */
  heartbeatMs: number;
  /** Clients at a time; more are refused with 503 (limits.stream.maxClients). */
  maxClients: number;
  /** Bytes waiting for all clients together (limits.stream.totalBufferBytes). */
  totalBufferBytes: number;
}

export interface StreamOptions {
  bus: DeltaBus;
  model: SignalKModel;
  limits?: Partial<StreamLimits>;
}

export interface StreamStats extends SessionCounters {
  clients: number;
  /** Connections refused because maxClients were connected. */
  refused: number;
  /** Clients disconnected because all together held more than totalBufferBytes. */
  evicted: number;
  /** Timer firings per second of all clients' subscriptions. */
  timerRate: number;
}

/** The stream's limits from the settings' `limits.stream`. */
export function streamLimits(bounds: StreamBounds): Omit<StreamLimits, 'stuckCloseMs' | 'heartbeatMs'> {
  const { clientBufferBytes, ...rest } = bounds;
  return { ...rest, maxBufferedBytes: clientBufferBytes };
}

export const DEFAULT_LIMITS: StreamLimits = {
  ...streamLimits(BOUNDS.stream),
  stuckCloseMs: 30_000,
  heartbeatMs: 30_000,
};
/** Client messages are subscriptions: small. */
const MAX_MESSAGE_BYTES = 64 * 1024;

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

export class StreamServer {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  private readonly sessions = new Map<WebSocket, StreamSession>();
  private readonly limits: StreamLimits;
  private readonly counters: SessionCounters = { sent: 0, dropped: 0, closedSlow: 0 };
  private readonly deps: SessionDeps;
  private readonly unsubscribeBus: () => void;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly pongs = new WeakSet<WebSocket>();
  /** Sessions of clients restricted by path ACLs, with their read filter. */
  private readonly filters = new Map<StreamSession, CanRead>();
  private nextId = 1;
  private refused = 0;
  private readonly budget: OutboundBudget;

  constructor(private readonly opts: StreamOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.budget = new OutboundBudget(this.limits.totalBufferBytes, () => this.sessions.values(), log);
    this.deps = {
      model: opts.model,
      log,
      limits: this.limits,
      counters: this.counters,
      budget: this.budget,
      load: { timerRate: 0 },
    };
    this.unsubscribeBus = opts.bus.subscribe((msg) => this.fanOut(msg));
    this.heartbeat = setInterval(() => this.ping(), this.limits.heartbeatMs);
    this.heartbeat.unref();
  }

  /** `canRead`: the client's path ACL filter (security gate), undefined when it may read everything; `put`: its PUT messages. */
  handleUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    url: URL,
    canRead?: CanRead,
    put?: PutHandler,
  ): void {
    if (this.sessions.size >= this.limits.maxClients) {
      this.refused++;
      log.limited(
        'warn',
        'max-clients',
        `stream client from ${req.socket.remoteAddress ?? '?'} refused: ${this.limits.maxClients} clients connected (limits.stream.maxClients); ${this.refused} refused so far`,
      );
      const body = `too many stream clients (${this.limits.maxClients})`;
      socket.end(
        `HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 10\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, url, req, socket, canRead, put));
  }

  private accept(
    ws: WebSocket,
    url: URL,
    req: IncomingMessage,
    socket: Duplex,
    canRead: CanRead | undefined,
    put: PutHandler | undefined,
  ): void {
    const id = `${this.nextId++}@${req.socket.remoteAddress ?? '?'}`;
    const q = url.searchParams.get('subscribe') ?? 'self';
    const initial = q === 'all' || q === 'none' ? q : 'self';
    const deps = canRead ? { ...this.deps, model: readableModel(this.opts.model, canRead) } : this.deps;
    const session = new StreamSession(ws, socket, deps, id, url.searchParams.get('sendCachedValues') !== 'false', put);
    if (canRead) this.filters.set(session, canRead);
    if (url.searchParams.get('sendMeta') === 'all') session.meta = new MetaAnnouncer(this.opts.model);
    this.sessions.set(ws, session);
    this.pongs.add(ws);
    ws.on('pong', () => this.pongs.add(ws));
    ws.on('message', (data) => {
      try {
        session.receive(rawText(data));
      } catch (err) {
        // A bug here must cost one message, not the process.
        log.error(`stream client ${id}: message handling failed: ${(err as Error).stack ?? String(err)}`);
      }
    });
    ws.on('error', (err) => log.limited('warn', `ws-error:${id}`, `stream client ${id}: ${err.message}`));
    ws.on('close', () => {
      session.close();
      this.sessions.delete(ws);
      this.filters.delete(session);
      log.debug(`stream client ${id} left (${session.dropped} messages dropped)`);
    });
    log.debug(`stream client ${id} connected (subscribe=${initial})`);
    const model = this.opts.model;
    session.start(initial, {
      name: SERVER_ID,
      version: SERVER_VERSION,
      self: model.selfContext,
      roles: ['master', 'main'],
      timestamp: new Date().toISOString(),
    });
    if (q !== initial)
      session.reject(`unknown subscribe=${JSON.stringify(q).slice(0, 40)} (self, all or none): using self`);
  }

  private fanOut(msg: BusDelta): void {
    if (this.sessions.size === 0) return;
    const context = this.opts.model.resolveContext(msg.delta.context);
    const shared: SharedFilters = new Map();
    for (const session of this.sessions.values()) {
      try {
        const canRead = this.filters.get(session);
        if (canRead === undefined) session.onDelta(msg, context, shared);
        else {
          const readable = readableDelta(msg, context, canRead);
          if (readable) session.onDelta(readable, context);
        }
      } catch (err) {
        // A failure in one client's rows costs that client the delta, not every client after it.
        log.limited(
          'error',
          `fanout:${session.id}`,
          `stream client ${session.id}: delivery failed: ${(err as Error).stack ?? String(err)}`,
        );
      }
    }
  }

  private ping(): void {
    for (const [ws, session] of this.sessions) {
      if (!this.pongs.has(ws)) {
        log.info(`stream client ${session.id} did not answer a ping: disconnecting it`);
        session.close();
        ws.terminate();
        continue;
      }
      this.pongs.delete(ws);
      ws.ping();
    }
  }

  stats(): StreamStats {
    return {
      clients: this.sessions.size,
      ...this.counters,
      refused: this.refused,
      evicted: this.budget.evicted,
      timerRate: Math.round(this.deps.load.timerRate),
    };
  }

  close(): void {
    clearInterval(this.heartbeat);
    this.unsubscribeBus();
    for (const [ws, session] of this.sessions) {
      session.close();
      ws.terminate();
    }
    this.sessions.clear();
    this.wss.close();
  }
}
