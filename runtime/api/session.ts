// One WebSocket client of /signalk/v1/stream: its subscription rows, the timers of its throttled,
// fixed and ideal rows, and its outgoing queue with a bound.

import type { Duplex } from 'node:stream';
import type WebSocket from 'ws';
import { filterUpdates } from '../bus/delta.js';
import { sourceRef, type Delta, type PathValue, type Update } from '../../core/delta.js';
import type { BusDelta } from '../bus/bus.js';
import { matchesPattern } from '../bus/subscription.js';
import type { CurrentValue, SignalKModel } from '../model/model.js';
import type { Logger } from '../../core/log.js';
import { isRecord } from '../../core/json.js';
import { currentValues, valuesToDeltas } from './snapshot.js';
import type { MetaAnnouncer } from './stream-meta.js';
import {
  MAX_ROWS,
  parseSubscribe,
  parseUnsubscribe,
  rowMatches,
  timerRate,
  type SubscriptionRow,
} from './subscriptions.js';
import { TokenBucket } from '../security/token-bucket.js';
import type { BudgetedClient, OutboundBudget } from './client-budget.js';
import { requireCjs } from '../../core/require-cjs.js';

const { OPEN } = requireCjs<typeof import('ws').WebSocket>('ws');

export interface SessionLimits {
  /** Above this many bytes waiting in the socket, new messages are dropped instead of queued. */
  maxBufferedBytes: number;
  /** A client whose queue stays above the bound this long is disconnected. */
  stuckCloseMs: number;
  /** Timer firings per second of one client's fixed and ideal rows (cost of its subscriptions). */
  maxClientTimerRate: number;
  /** The same over all clients. */
  maxTotalTimerRate: number;
  /** Rows of subscribe/unsubscribe messages one client may send per second. */
  subscribeRowsPerSecond: number;
}

/** Shared with the stream server so the status API can show them. */
export interface SessionCounters {
  /** Messages handed to client sockets (hello included): with `dropped`, what a lossless client must have read. */
  sent: number;
  dropped: number;
  closedSlow: number;
}

export interface SessionDeps {
  model: SignalKModel;
  log: Logger;
  limits: SessionLimits;
  counters: SessionCounters;
  /** The outbound-buffer budget of all clients together. */
  budget: OutboundBudget;
  /** Timer firings per second of all clients' rows together. */
  load: { timerRate: number };
}

export type PutHandler = (msg: Record<string, unknown>, send: (reply: unknown) => void) => void;

/**
 * Messages to a client gather this long before they leave in one write. A full bus makes a
 * hundred or more loop turns a second with something for every client; a write per turn was the
 * largest cost of five clients (writev, ≈ 5 % of a core, decision 0099). Shown values are 25 ms
 * later at most, well under what an instrument display draws.
 */
const WRITE_WINDOW_MS = 25;
/** ...or until this many characters gather. */
const WRITE_WINDOW_BYTES = 64 * 1024;

/** A row plus the state its policy needs. */
interface ActiveRow extends SubscriptionRow {
  /** Last send time per `context\0path`: only for throttled and ideal rows. */
  lastSent: Map<string, number>;
  /** Latest value held back by minPeriod, sent when the period is over. */
  pending: Map<string, CurrentValue>;
  flushTimer?: NodeJS.Timeout;
  ticker?: NodeJS.Timeout;
}

const keyOf = (context: string, path: string): string => `${context}\u0000${path}`;

/** What a delta holds for one set of unthrottled rows: the kept updates and their JSON, or null for nothing. */
export type Filtered = { updates: Update[]; text: string } | null;
/**
 * Filter results of one bus delta, by `StreamSession.filterKey`: sessions whose rows are the same
 * unthrottled patterns get the same values, so the delta is filtered and encoded once for all of them.
 */
export type SharedFilters = Map<string, Filtered>;

export class StreamSession implements BudgetedClient {
  private rows: ActiveRow[] = [];
  /** Timer firings per second of this client's rows. */
  private timerRate = 0;
  private readonly rowBucket: TokenBucket;
  /** Rows that react to bus deltas (instant and ideal); fixed rows only tick. */
  private liveRows: ActiveRow[] = [];
  /** Set when every live row is instant and unthrottled: its patterns, the key of SharedFilters. */
  private filterKey: string | undefined;
  private stuckSince: number | undefined;
  /** Set while messages gather (the socket is corked), see WRITE_WINDOW_MS. */
  private flushTimer: NodeJS.Timeout | undefined;
  private windowBytes = 0;
  dropped = 0;
  alive = true;
  /** Set for `sendMeta=all`: metadata goes out before a path's first value. */
  meta: MetaAnnouncer | undefined;

  constructor(
    private readonly ws: WebSocket,
    /** The connection under `ws`: corked from the first message for WRITE_WINDOW_MS (or _BYTES),
     * so what a busy bus sends meanwhile leaves in one write instead of one per turn of the loop. */
    private readonly socket: Duplex,
    private readonly deps: SessionDeps,
    readonly id: string,
    private readonly sendCachedValues: boolean,
    /** Performs a `put` message as this client (its permission) and sends the answer. */
    private readonly putHandler?: PutHandler,
  ) {
    const rate = deps.limits.subscribeRowsPerSecond;
    this.rowBucket = new TokenBucket(rate, rate);
  }

  /** The `?subscribe=` behaviour: `self` and `all` are a subscription to every path of those contexts. */
  start(initial: 'self' | 'all' | 'none', hello: unknown): void {
    this.sendJson(hello);
    if (initial !== 'none') {
      this.subscribe({ context: initial === 'all' ? '*' : 'vessels.self', subscribe: [{ path: '*' }] });
    }
  }

  /** A message from the client: JSON with `subscribe` and/or `unsubscribe`. */
  receive(text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch (err) {
      this.reject(`message is not valid JSON: ${(err as Error).message}`);
      return;
    }
    if (!isRecord(msg)) {
      this.reject('message must be a JSON object');
      return;
    }
    // `{}` is @signalk/client's keepalive.
    if (Object.keys(msg).length === 0) return;
    // Parsing and matching cost grows with the rows: a client sending big messages fast is refused.
    const rows =
      (Array.isArray(msg.subscribe) ? msg.subscribe.length : 0) +
      (Array.isArray(msg.unsubscribe) ? msg.unsubscribe.length : 0);
    if (!this.rowBucket.take(Math.max(1, rows))) {
      this.reject(
        `too many subscription rows per second (limits.stream.subscribeRowsPerSecond ${this.deps.limits.subscribeRowsPerSecond}): message ignored`,
      );
      return;
    }
    // A PUT request (requests.ts) is answered by its own message with the request id.
    if (msg.put !== undefined) {
      if (this.putHandler) this.putHandler(msg, (reply) => this.sendJson(reply));
      else this.reject('PUT is not available on this stream');
      return;
    }
    // Unsubscribe first, so one message can replace a subscription.
    if (msg.unsubscribe !== undefined) this.unsubscribe(msg);
    if (msg.subscribe !== undefined) this.subscribe(msg);
    if (msg.subscribe === undefined && msg.unsubscribe === undefined) {
      const keys = Object.keys(msg).slice(0, 5).join(', ');
      this.reject(`unsupported message (keys: ${keys}); this server accepts subscribe, unsubscribe and put messages`);
    }
  }

  private subscribe(msg: Record<string, unknown>): void {
    const parsed = parseSubscribe(msg, this.deps.model.selfContext);
    if ('error' in parsed) {
      this.reject(parsed.error);
      return;
    }
    for (const w of parsed.warnings) this.reject(w);
    if (this.rows.length + parsed.rows.length > MAX_ROWS) {
      this.reject(`a client may hold at most ${MAX_ROWS} subscription rows`);
      return;
    }
    const rate = parsed.rows.reduce((sum, r) => sum + timerRate(r), 0);
    const { maxClientTimerRate, maxTotalTimerRate } = this.deps.limits;
    if (this.timerRate + rate > maxClientTimerRate || this.deps.load.timerRate + rate > maxTotalTimerRate) {
      this.reject(
        `subscription refused: its periods cost ${Math.round(rate)} timer firings per second; this client may use ${Math.max(0, Math.floor(maxClientTimerRate - this.timerRate))} more ` +
          `(limits.stream.maxClientTimerRate ${maxClientTimerRate}), all clients ${Math.max(0, Math.floor(maxTotalTimerRate - this.deps.load.timerRate))} more (limits.stream.maxTotalTimerRate ${maxTotalTimerRate}); use longer periods or fewer rows`,
      );
      return;
    }
    this.timerRate += rate;
    this.deps.load.timerRate += rate;
    const added = parsed.rows.map((r) => this.activate(r));
    this.rows = [...this.rows, ...added];
    this.setLiveRows();
    if (this.sendCachedValues) {
      const now = Date.now();
      const values = currentValues(this.deps.model, (v) => added.some((r) => rowMatches(r, v.context, v.path)));
      const timed = added.filter((r) => r.policy === 'ideal' || r.minPeriod > 0);
      for (const v of values)
        for (const r of timed) if (rowMatches(r, v.context, v.path)) r.lastSent.set(keyOf(v.context, v.path), now);
      this.sendDeltas(valuesToDeltas(values));
    }
  }

  private activate(row: SubscriptionRow): ActiveRow {
    const r: ActiveRow = { ...row, lastSent: new Map(), pending: new Map() };
    if (r.policy === 'fixed') {
      r.ticker = setInterval(
        () => this.sendDeltas(valuesToDeltas(currentValues(this.deps.model, (v) => rowMatches(r, v.context, v.path)))),
        r.period,
      );
    } else if (r.policy === 'ideal') {
      // Ticking at half the period bounds a silent path's gap by one period.
      r.ticker = setInterval(() => this.refreshIdeal(r), Math.max(r.period / 2, 5));
    }
    return r;
  }

  private refreshIdeal(r: ActiveRow): void {
    const now = Date.now();
    const stale = currentValues(this.deps.model, (v) => {
      if (!rowMatches(r, v.context, v.path)) return false;
      const last = r.lastSent.get(keyOf(v.context, v.path));
      return last === undefined || now - last >= r.period;
    });
    for (const v of stale) {
      const key = keyOf(v.context, v.path);
      r.lastSent.set(key, now);
      r.pending.delete(key);
    }
    this.sendDeltas(valuesToDeltas(stale));
  }

  private unsubscribe(msg: Record<string, unknown>): void {
    const parsed = parseUnsubscribe(msg);
    if ('error' in parsed) {
      this.reject(parsed.error);
      return;
    }
    const { keep, drop } = this.rows.reduce(
      (acc, r) => {
        const gone = parsed.all || (r.context === parsed.context && parsed.paths.includes(r.path));
        (gone ? acc.drop : acc.keep).push(r);
        return acc;
      },
      { keep: [] as ActiveRow[], drop: [] as ActiveRow[] },
    );
    if (drop.length === 0 && !parsed.all) {
      this.reject(
        `unsubscribe: no subscription with context ${JSON.stringify(parsed.context)} and paths ${JSON.stringify(parsed.paths)}`,
      );
    }
    for (const r of drop) this.deactivate(r);
    this.rows = keep;
    this.setLiveRows();
  }

  private setLiveRows(): void {
    this.liveRows = this.rows.filter((r) => r.policy !== 'fixed');
    const stateless = this.liveRows.every((r) => r.policy === 'instant' && r.minPeriod === 0);
    this.filterKey = stateless
      ? [...new Set(this.liveRows.map((r) => keyOf(r.context, r.path)))].sort().join('\n')
      : undefined;
  }

  private deactivate(r: ActiveRow): void {
    const rate = timerRate(r);
    this.timerRate -= rate;
    this.deps.load.timerRate -= rate;
    clearInterval(r.ticker);
    clearTimeout(r.flushTimer);
    r.pending.clear();
  }

  /**
   * A delta from the bus: the values this client's rows want, as they arrive or throttled.
   * `shared` holds this delta's results for sessions with the same unthrottled rows (fanOut's).
   */
  onDelta(msg: BusDelta, context: string, shared?: SharedFilters): void {
    const live = this.liveRows;
    if (live.length === 0) return;
    let rows: ActiveRow[] | undefined;
    for (const r of live) if (r.matchContext(context)) (rows ??= []).push(r);
    if (!rows) return;
    // Fast path (the default `subscribe=self|all`): an unthrottled `*` row takes the delta whole.
    if (rows.every((r) => r.policy === 'instant' && r.minPeriod === 0) && rows.some((r) => r.path === '*')) {
      this.announce(context, msg.delta.updates);
      this.send(msg.json);
      return;
    }
    const key = this.filterKey;
    let out = key === undefined ? undefined : shared?.get(key);
    if (out === undefined) {
      out = this.filter(msg, context, rows);
      if (key !== undefined) shared?.set(key, out);
    }
    if (out === null) return;
    this.announce(context, out.updates);
    this.send(out.text);
  }

  private filter(msg: BusDelta, context: string, rows: ActiveRow[]): Filtered {
    const now = Date.now();
    const { updates, whole } = filterUpdates(
      msg.delta.updates,
      (pv, u) => this.admit(rows, context, pv, u, now),
      (m) => rows.some((r) => matchesPattern(r.path, m.path)),
    );
    if (updates.length === 0) return null;
    // The bus resolved the context, so its JSON text, encoded once, serves every client as it is.
    return { updates, text: whole ? msg.json : JSON.stringify({ context, updates }) };
  }

  /** Whether a value goes out now; a value only throttled rows want is held back for later. */
  private admit(rows: ActiveRow[], context: string, pv: PathValue, update: Update, now: number): boolean {
    let matched: ActiveRow[] | undefined;
    let sendNow = false;
    let key: string | undefined;
    for (const r of rows) {
      if (!matchesPattern(r.path, pv.path)) continue;
      (matched ??= []).push(r);
      if (r.minPeriod === 0) sendNow = true;
      else {
        key ??= keyOf(context, pv.path);
        const last = r.lastSent.get(key);
        if (last === undefined || now - last >= r.minPeriod) sendNow = true;
      }
    }
    if (!matched) return false;
    for (const r of matched) {
      if (r.policy !== 'ideal' && r.minPeriod === 0) continue;
      key ??= keyOf(context, pv.path);
      if (sendNow) {
        r.lastSent.set(key, now);
        r.pending.delete(key);
      } else {
        const timestamp = update.timestamp ?? new Date(now).toISOString();
        r.pending.set(key, { context, path: pv.path, value: pv.value, timestamp, $source: sourceRef(update) });
        this.scheduleFlush(r, now);
      }
    }
    return sendNow;
  }

  private scheduleFlush(r: ActiveRow, now: number): void {
    if (r.flushTimer || r.pending.size === 0) return;
    let due = Infinity;
    for (const key of r.pending.keys()) due = Math.min(due, (r.lastSent.get(key) ?? now) + r.minPeriod);
    r.flushTimer = setTimeout(
      () => {
        r.flushTimer = undefined;
        const at = Date.now();
        const ready: CurrentValue[] = [];
        for (const [key, v] of r.pending) {
          if (at - (r.lastSent.get(key) ?? 0) < r.minPeriod) continue;
          ready.push(v);
          r.pending.delete(key);
          r.lastSent.set(key, at);
        }
        this.sendDeltas(valuesToDeltas(ready));
        this.scheduleFlush(r, at);
      },
      Math.max(0, due - now),
    );
  }

  private sendDeltas(deltas: Delta[]): void {
    for (const d of deltas) {
      if (d.context !== undefined) this.announce(d.context, d.updates);
      this.send(JSON.stringify(d));
    }
  }

  private announce(context: string, updates: readonly Update[]): void {
    const meta = this.meta?.before(context, updates);
    if (meta) this.send(JSON.stringify(meta));
  }

  /** An error about the client's own message: answered, logged at a limited rate, never fatal. */
  reject(reason: string): void {
    this.deps.log.limited('warn', `client:${this.id}`, `stream client ${this.id}: ${reason}`);
    this.sendJson({ errorMessage: reason });
  }

  private sendJson(msg: unknown): void {
    this.send(JSON.stringify(msg));
  }

  /**
   * Backpressure: a client that reads slower than we produce (a tablet on weak Wi-Fi) must not make
   * the process buffer without limit. Above `maxBufferedBytes` waiting in the socket, messages to
   * that client are dropped (counted per client and in the server's stats, logged at a limited
   * rate); its later messages carry the then-current values again. A client that stays stuck above
   * the bound for `stuckCloseMs` is disconnected.
   */
  private send(text: string): void {
    if (!this.alive || this.ws.readyState !== OPEN) return;
    if (this.ws.bufferedAmount > this.deps.limits.maxBufferedBytes) {
      const now = Date.now();
      this.stuckSince ??= now;
      this.dropped++;
      this.deps.counters.dropped++;
      this.deps.log.limited(
        'warn',
        `slow:${this.id}`,
        `stream client ${this.id} is not keeping up: ${this.dropped} messages dropped so far`,
      );
      if (now - this.stuckSince >= this.deps.limits.stuckCloseMs) {
        this.deps.counters.closedSlow++;
        this.deps.log.warn(`stream client ${this.id} stayed stuck for ${now - this.stuckSince} ms: disconnecting it`);
        this.close(1013, 'client too slow: send queue stayed full');
      }
      return;
    }
    this.stuckSince = undefined;
    if (this.flushTimer === undefined) {
      this.socket.cork();
      this.flushTimer = setTimeout(() => this.flush(), WRITE_WINDOW_MS);
    }
    this.deps.counters.sent++;
    this.ws.send(text);
    // Held messages count as waiting (bufferedAmount): past a few of them they leave at once, so
    // a client that reads is never mistaken for one that does not.
    this.windowBytes += text.length;
    if (this.windowBytes >= WRITE_WINDOW_BYTES) this.flush();
    this.deps.budget.charge(text.length);
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.windowBytes = 0;
    this.socket.uncork();
  }

  buffered(): number {
    return this.ws.bufferedAmount;
  }

  evict(reason: string): void {
    this.close(1013, reason);
    this.ws.terminate();
  }

  /** Stops every timer; `code` closes the socket too (a stuck client may never read the close frame, so it is cut after a grace time). */
  close(code?: number, reason?: string): void {
    if (!this.alive) return;
    this.alive = false;
    for (const r of this.rows) this.deactivate(r);
    this.rows = [];
    this.setLiveRows();
    if (this.flushTimer !== undefined) this.flush();
    if (code !== undefined) {
      this.ws.close(code, reason);
      setTimeout(() => this.ws.terminate(), 2000).unref();
    }
  }
}
