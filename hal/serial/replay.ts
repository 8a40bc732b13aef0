// The serial driver's replay twin: plays an NMEA log file as framed lines, for demos, tests and
// benchmarks. The file is streamed in chunks, so a long log costs no more memory than a short one.
//
// Pacing (`realtime`): a line may carry a leading receive time in epoch milliseconds,
// `1700000000000;$GPRMC,...` (the prefix is removed before the line is delivered). Between two
// stamped lines the replay waits the difference of their stamps, clamped to 0..MAX_GAP_MS so
// stamps going backwards or a long pause in the log neither burst nor stall the replay. Every other
// line (no stamp, or the first stamped line) waits 1/linesPerSecond. Waits are measured against a
// running schedule, not from the previous emit, so timer latency does not accumulate as drift.
// `fast` plays without waiting, yielding to the event loop every YIELD_EVERY lines so the API
// and other sources stay responsive.

import { open, type FileHandle } from 'node:fs/promises';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { LineFramer, type FramingError, type LineSink } from '../framing.js';

export type ReplayState = 'connecting' | 'open' | 'ended' | 'stopped';

export interface ReplayOptions {
  file: string;
  rate: 'realtime' | 'fast';
  linesPerSecond: number;
  loop: boolean;
}

const MAX_GAP_MS = 10_000;
const YIELD_EVERY = 256;
/** Further behind schedule than this (a blocked event loop), the schedule restarts from now. */
const MAX_LAG_MS = 1_000;
const CHUNK = 64 * 1024;

type Item = { line: string } | { error: FramingError; detail: string };

/** The epoch-ms stamp of a `1700000000000;...` line, or -1. */
function stampOf(line: string): number {
  if (line.length < 14 || line.charCodeAt(13) !== 0x3b /* ; */) return -1;
  for (let i = 0; i < 13; i++) {
    const c = line.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
  }
  return Number(line.slice(0, 13));
}

export class ReplayDriver {
  private _state: ReplayState = 'stopped';
  private _lastError: string | undefined;
  private abort: AbortController | undefined;
  private running: Promise<void> | undefined;
  private stateListeners: ((state: ReplayState) => void)[] = [];

  constructor(
    private readonly options: ReplayOptions,
    private readonly sink: LineSink,
  ) {}

  get state(): ReplayState {
    return this._state;
  }

  get lastError(): string | undefined {
    return this._lastError;
  }

  onState(listener: (state: ReplayState) => void): () => void {
    this.stateListeners = [...this.stateListeners, listener];
    return () => {
      this.stateListeners = this.stateListeners.filter((l) => l !== listener);
    };
  }

  open(): void {
    if (this.running) return;
    const abort = new AbortController();
    this.abort = abort;
    this.setState('connecting');
    this.running = this.play(abort.signal).then(
      () => this.setState('ended'),
      (err: unknown) => {
        if (abort.signal.aborted) return;
        this._lastError = `${this.options.file}: ${(err as Error).message}`;
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

  private setState(state: ReplayState): void {
    if (state === this._state) return;
    this._state = state;
    for (const l of this.stateListeners) l(state);
  }

  private async play(signal: AbortSignal): Promise<void> {
    const { rate, loop } = this.options;
    const stepMs = 1000 / this.options.linesPerSecond;
    let due = performance.now();
    for (;;) {
      let lines = 0;
      let prevStamp = -1;
      let sinceYield = 0;
      for await (const items of this.chunks(signal)) {
        if (this._state === 'connecting') this.setState('open');
        for (const item of items) {
          if (!('line' in item)) {
            this.sink.error(item.error, item.detail);
            continue;
          }
          lines++;
          let line = item.line;
          const stamp = stampOf(line);
          if (stamp >= 0) line = line.slice(14);
          if (rate === 'fast') {
            if (++sinceYield >= YIELD_EVERY) {
              sinceYield = 0;
              await yieldToLoop(undefined, { signal });
            }
          } else {
            const gap = stamp >= 0 && prevStamp >= 0 ? Math.min(Math.max(stamp - prevStamp, 0), MAX_GAP_MS) : stepMs;
            if (stamp >= 0) prevStamp = stamp;
            const now = performance.now();
            due = Math.max(due + gap, now - MAX_LAG_MS);
            if (due > now) await sleep(Math.ceil(due - now), undefined, { signal });
          }
          this.sink.line(line);
        }
      }
      // A log without a single line would make `loop` spin.
      if (!loop || lines === 0) return;
    }
  }

  /** The file's framed lines, one read chunk at a time. */
  private async *chunks(signal: AbortSignal): AsyncGenerator<Item[]> {
    let items: Item[] = [];
    const framer = new LineFramer({
      line: (line) => items.push({ line }),
      error: (error, detail) => items.push({ error, detail }),
    });
    let handle: FileHandle | undefined;
    try {
      handle = await open(this.options.file, 'r');
      const buf = Buffer.allocUnsafe(CHUNK);
      for (;;) {
        signal.throwIfAborted();
        const { bytesRead } = await handle.read(buf, 0, CHUNK, null);
        if (bytesRead === 0) break;
        framer.push(buf.subarray(0, bytesRead));
        const ready = items;
        items = [];
        yield ready;
      }
      framer.end();
      if (items.length > 0) yield items;
    } finally {
      await handle?.close();
    }
  }
}
