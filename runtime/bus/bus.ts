// In-process delta bus: validates at the boundary, encodes each delta to JSON at most once
// for all subscribers, and isolates subscribers from each other's failures.

import { createLogger } from '../../core/log.js';
import { parseDelta } from './delta.js';
import type { Delta, DeltaEncoder } from '../../core/delta.js';

const log = createLogger('bus');

/**
 * Signal K data model version of a delta, as upstream's handleMessage takes it: 1 updates the full
 * (v1) model and reaches subscribers; 2 (v2 API data such as course calculations) reaches
 * subscribers only and is not merged into the v1 tree.
 */
export type DeltaVersion = 1 | 2;

/**
 * A delta on the bus. `json` is computed on first use and shared by every subscriber: by the
 * codec's encoder for a codec's delta (the same text, made faster), else by JSON.stringify.
 */
export class BusDelta {
  private encoded: string | undefined;
  constructor(
    readonly delta: Delta,
    readonly version: DeltaVersion = 1,
    private readonly encoder?: DeltaEncoder,
  ) {}
  get json(): string {
    if (this.encoded === undefined) {
      const text = this.encoder ? this.encoder.encode(this.delta) : JSON.stringify(this.delta);
      // An encoder's text is a rope of its pieces (dozens of objects); reading a character makes
      // V8 flatten it into one string now, which every reader needs anyway (a plugin's UTF-16
      // write, a client's send), so a delta queued for a plugin holds one string, not a rope the
      // young-generation collector copies while it waits (measured: ≈ 0.2 µs a delivery less).
      text.charCodeAt(0);
      this.encoded = text;
    }
    return this.encoded;
  }
}

export type BusListener = (msg: BusDelta) => void;

export interface BusStats {
  accepted: number;
  rejected: number;
  lastRejection?: string;
}

export class DeltaBus {
  private listeners: BusListener[] = [];
  readonly stats: BusStats = { accepted: 0, rejected: 0 };

  /** `selfContext` (`vessels.<urn>`) replaces a missing or `vessels.self` context before delivery. */
  constructor(private readonly selfContext: string) {}

  /**
   * Publishes an untrusted delta. Returns the rejection reason, or undefined when accepted.
   * `origin` names the producer in the log line of a rejection.
   */
  publish(input: unknown, origin: string, version: DeltaVersion = 1): string | undefined {
    const parsed = parseDelta(input);
    if (!parsed.ok) {
      this.stats.rejected++;
      this.stats.lastRejection = `${origin}: ${parsed.reason}`;
      log.limited('warn', `reject:${origin}`, `rejected delta from ${origin}: ${parsed.reason}`);
      return parsed.reason;
    }
    this.deliver(parsed.delta, version);
    return undefined;
  }

  /**
   * Publishes a delta one of our own codecs built from a field library's output (trust by origin):
   * its structure is the codec's making and its values were checked there (`codecValuesFault`), so
   * the checks only hostile input needs are skipped. The delta is handed over: its context is
   * resolved in place. Plugin, client and network input goes through `publish`.
   */
  publishTrusted(delta: Delta, encoder?: DeltaEncoder): void {
    if (delta.context === undefined || delta.context === 'vessels.self') delta.context = this.selfContext;
    this.deliver(delta, 1, encoder);
  }

  private deliver(delta: Delta, version: DeltaVersion, encoder?: DeltaEncoder): void {
    this.stats.accepted++;
    // Resolved here, once, so the shared JSON text is right for every subscriber as it is.
    if (delta.context === undefined || delta.context === 'vessels.self')
      delta = { ...delta, context: this.selfContext };
    const msg = new BusDelta(delta, version, encoder);
    // Snapshot: a listener may unsubscribe itself while being called.
    const ls = this.listeners;
    for (let i = 0; i < ls.length; i++) {
      try {
        ls[i](msg);
      } catch (err) {
        log.limited('error', `listener:${i}`, `subscriber failed: ${(err as Error).stack ?? String(err)}`);
      }
    }
  }

  subscribe(listener: BusListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }
}
