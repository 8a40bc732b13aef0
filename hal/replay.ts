// The one replay base: a driver's twin that plays a log file, for demos, tests and benchmarks. The
// file is streamed in chunks and cut into lines, so a long log costs no more memory than a short
// one; a subclass reads each line as an item (an NMEA sentence, a CAN frame) and delivers it.
//
// `realtime` waits between items what the subclass says (their stamps' difference, clamped so
// stamps going backwards or a long pause neither burst nor stall the replay). Waits follow a
// running schedule, not the previous delivery, so timer latency does not accumulate as drift;
// items due within `batchMs` of each other are delivered together, one timer per batch. `fast`
// plays without waiting, yielding to the event loop every YIELD_EVERY items so the API and other
// sources stay responsive. With `loop` the log plays again from the start at its end.

import { open, type FileHandle } from 'node:fs/promises';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../core/log.js';
import { DriverBase } from './driver.js';
import { LineFramer, type FramingError } from './framing.js';

const log = createLogger('replay');

export interface ReplayPacing {
  file: string;
  /** `realtime` paces items by the log's stamps, `fast` plays as fast as possible. */
  rate: 'realtime' | 'fast';
  loop: boolean;
}

/** Stamps further apart than this are played this far apart. */
const MAX_GAP_MS = 10_000;
/** About 3 ms of a line's work between yields: each costs a promise, a timer and an abort listener. */
const YIELD_EVERY = 1024;
/** Further behind schedule than this (a blocked event loop), the schedule restarts from now. */
const MAX_LAG_MS = 1_000;
/**
 * Bytes read at a time. A chunk's framed lines stay referenced until its last line is played; at
 * 64 kB (2,500 short lines, several event-loop turns with a plugin attached) they often outlived two
 * young-generation collections and were promoted: the one-plugin replay promoted 40.7 MB and ran 7
 * full collections, 9.5 MB and 3 at 16 kB (decision 0106).
 */
const CHUNK = 16 * 1024;

/** The wait between two stamped items: their difference, clamped to 0..MAX_GAP_MS. */
export function stampGap(stamp: number, previous: number): number {
  return Math.min(Math.max(stamp - previous, 0), MAX_GAP_MS);
}

/** A framed line as it is (no wrapper object per line), or what the framer refused. */
type Framed = string | { error: FramingError; detail: string };

export abstract class FileReplay<T, D = never> extends DriverBase<D> {
  private abort: AbortController | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly pacing: ReplayPacing,
    /** Items due within this many ms of the last wait are delivered without a wait of their own. */
    private readonly batchMs = 0,
  ) {
    super();
  }

  /** A new pass through the log begins: no previous stamp. */
  protected abstract rewind(): void;
  /** A line of the log as an item to play; undefined for a line that carries none (counted by the subclass). */
  protected abstract read(line: string): T | undefined;
  /** In realtime, the wait before `item` (just read) since the item before it. */
  protected abstract gapMs(item: T): number;
  protected abstract deliver(item: T): void;
  /** A line the framer refused (overlong, binary garbage). */
  protected abstract framingError(reason: FramingError, detail: string): void;

  open(): void {
    if (this.running) return;
    const abort = new AbortController();
    this.abort = abort;
    this.setState('connecting');
    this.running = this.play(abort.signal).then(
      () => this.setState('ended'),
      (err: unknown) => {
        if (abort.signal.aborted) return;
        this._lastError = `${this.pacing.file}: ${(err as Error).message}`;
        log.warn(this._lastError);
        this.setState('ended');
      },
    );
  }

  async close(): Promise<void> {
    this.abort?.abort();
    await this.running;
    this.running = undefined;
    this.setState('stopped');
  }

  private async play(signal: AbortSignal): Promise<void> {
    const { rate, loop } = this.pacing;
    let due = performance.now();
    for (;;) {
      let played = 0;
      let sinceYield = 0;
      this.rewind();
      for await (const chunk of this.lines(signal)) {
        if (this._state === 'connecting') this.setState('open');
        for (const framed of chunk) {
          signal.throwIfAborted();
          if (typeof framed !== 'string') {
            this.framingError(framed.error, framed.detail);
            continue;
          }
          const item = this.read(framed);
          if (item === undefined) continue;
          played++;
          if (rate === 'fast') {
            if (++sinceYield >= YIELD_EVERY) {
              sinceYield = 0;
              await yieldToLoop(undefined, { signal });
            }
          } else {
            const now = performance.now();
            due = Math.max(due + this.gapMs(item), now - MAX_LAG_MS);
            if (due > now + this.batchMs) await sleep(Math.ceil(due - now), undefined, { signal });
          }
          this.deliver(item);
        }
      }
      // A log without a single item would make `loop` spin.
      if (!loop || played === 0) return;
    }
  }

  /** The file's framed lines, one read chunk at a time. */
  private async *lines(signal: AbortSignal): AsyncGenerator<Framed[]> {
    let framed: Framed[] = [];
    const framer = new LineFramer({
      line: (line) => framed.push(line),
      error: (error, detail) => framed.push({ error, detail }),
    });
    let handle: FileHandle | undefined;
    try {
      handle = await open(this.pacing.file, 'r');
      const buf = Buffer.allocUnsafe(CHUNK);
      for (;;) {
        signal.throwIfAborted();
        const { bytesRead } = await handle.read(buf, 0, CHUNK, null);
        if (bytesRead === 0) break;
        framer.push(buf.subarray(0, bytesRead));
        const ready = framed;
        framed = [];
        yield ready;
      }
      framer.end();
      if (framed.length > 0) yield framed;
    } finally {
      await handle?.close();
    }
  }
}
