// The CAN driver's replay twin: plays a candump log as frames, for demos, tests and benchmarks,
// like hal/serial/replay.ts does for NMEA 0183. The file is streamed, so a long log costs no more
// memory than a short one. Frames of every interface in the log are played (the recording
// machine's interface names mean nothing here).
//
// `realtime` waits between frames what their candump timestamps say, clamped to 0..MAX_GAP_MS so
// stamps going backwards or a long pause neither burst nor stall the replay; frames without a
// stamp (plain candump) come UNSTAMPED_GAP_MS apart. Waits follow a running schedule, so timer
// latency does not accumulate, and frames due within BATCH_MS of each other are played together:
// one timer per batch, not one per frame (a full bus is 2,000 frames/s), much as a gateway hands
// frames over in bursts; the rate over time is the log's. 100 ms, not less: each wake-up of the
// process costs about 0.2 ms of CPU on a loaded small machine (a bare 20 ms interval timer is
// 0.9 % of a core here), more than the 40 frames a 20 ms batch holds. `fast` plays without waiting, yielding to the event loop every
// YIELD_EVERY frames. Frames are delivered stamped with the time they are played, as a live bus
// would stamp them, so a looped or old log still looks current downstream.

import { createReadStream } from 'node:fs';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../runtime/log.js';
import { LineFramer } from '../framing.js';
import { parseCandumpLine } from './candump.js';
import { CanDriverBase, type CanDriver } from './driver.js';

const log = createLogger('can-replay');

export interface CanReplayOptions {
  file: string;
  rate: 'realtime' | 'fast';
  loop: boolean;
}

const MAX_GAP_MS = 10_000;
const BATCH_MS = 100;
const UNSTAMPED_GAP_MS = 10;
const YIELD_EVERY = 256;
/** Further behind schedule than this (a blocked event loop), the schedule restarts from now. */
const MAX_LAG_MS = 1_000;
const CHUNK = 64 * 1024;

export class CanReplayDriver extends CanDriverBase implements CanDriver {
  private abort: AbortController | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly options: CanReplayOptions) {
    super();
  }

  send(): Promise<void> {
    return Promise.reject(new Error(`${this.options.file} is a candump replay: frames cannot be sent`));
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

  private drop(reason: string, detail: string): void {
    this.count(reason);
    log.limited('warn', `${this.options.file}:${reason}`, `${this.options.file}: ${reason} line: ${detail}`);
  }

  private async play(signal: AbortSignal): Promise<void> {
    const { rate, loop } = this.options;
    let due = performance.now();
    for (;;) {
      let played = 0;
      let prevTime: number | undefined;
      let sinceYield = 0;
      for await (const lines of this.lines(signal)) {
        if (this._state === 'connecting') this.setState('open');
        for (const line of lines) {
          signal.throwIfAborted();
          const parsed = parseCandumpLine(line);
          if (parsed.kind === 'none') continue;
          if (parsed.kind === 'error') {
            this.drop(parsed.reason, parsed.detail);
            continue;
          }
          const { id, data, time } = parsed.frame;
          played++;
          if (rate === 'fast') {
            if (++sinceYield >= YIELD_EVERY) {
              sinceYield = 0;
              await yieldToLoop(undefined, { signal });
            }
          } else {
            const gap = time === undefined ? UNSTAMPED_GAP_MS : prevTime === undefined ? 0 : Math.min(Math.max(time - prevTime, 0), MAX_GAP_MS);
            if (time !== undefined) prevTime = time;
            const now = performance.now();
            due = Math.max(due + gap, now - MAX_LAG_MS);
            if (due > now + BATCH_MS) await sleep(Math.ceil(due - now), undefined, { signal });
          }
          this.frames.emit({ id, data, time: Date.now() });
        }
      }
      // A log without a single frame would make `loop` spin.
      if (!loop || played === 0) return;
    }
  }

  /** The file's lines, one read chunk at a time; overlong or binary lines are counted and dropped. */
  private async *lines(signal: AbortSignal): AsyncGenerator<string[]> {
    let lines: string[] = [];
    const framer = new LineFramer({ line: (l) => lines.push(l), error: (reason, detail) => this.drop(reason, detail) });
    for await (const chunk of createReadStream(this.options.file, { highWaterMark: CHUNK, signal })) {
      framer.push(chunk as Buffer);
      const ready = lines;
      lines = [];
      yield ready;
    }
    framer.end();
    if (lines.length > 0) yield lines;
  }
}
