// The CAN driver's replay twin: plays a log as frames (hal/replay.ts streams and paces it), like
// hal/serial/replay.ts does for NMEA 0183. A candump log by default; a reader of another format
// (a canboat log, hal/can/gateway/log-lines.ts) turns each of its lines into frames. Frames of
// every interface in a candump log are played (the recording machine's names mean nothing here).
//
// `realtime` waits between lines what their timestamps say; lines without a stamp (plain
// candump) come UNSTAMPED_GAP_MS apart. Frames due within BATCH_MS of each other are played
// together, one timer per batch, not one per frame (a full bus is 2,000 frames/s), much as a USB
// gateway hands frames over in bursts; the rate over time is the log's. Frames are delivered
// stamped with the time they are played, as a live bus would stamp them, so a looped or old log
// still looks current downstream.

import { createLogger } from '../../core/log.js';
import type { FramingError } from '../framing.js';
import { FileReplay, stampGap, type ReplayPacing } from '../replay.js';
import { parseCandumpLine } from './candump.js';
import type { CanDriver } from './driver.js';
import type { CanFrame } from './frame.js';

const log = createLogger('can-replay');

export type CanReplayOptions = ReplayPacing;

/** One line of a log as frames, with the epoch ms it was logged at where it says. */
export interface LoggedFrames {
  frames: CanFrame[];
  time?: number;
}

/** Reads a line of a log: its frames, nothing (a line that carries none), or why it is refused. */
export type LogLineReader = (line: string) => LoggedFrames | { reason: string; detail: string } | undefined;

// 100 ms, not less: each wake-up of the process costs about 0.2 ms of CPU on a loaded small machine
// (a bare 20 ms interval timer is 0.9 % of a core here), more than the 40 frames a 20 ms batch holds.
const BATCH_MS = 100;
const UNSTAMPED_GAP_MS = 10;

function candumpLine(line: string): ReturnType<LogLineReader> {
  const parsed = parseCandumpLine(line);
  if (parsed.kind === 'frame') return { frames: [parsed.frame], time: parsed.frame.time };
  return parsed.kind === 'error' ? parsed : undefined;
}

export class CanReplayDriver extends FileReplay<LoggedFrames, CanFrame> implements CanDriver {
  private prevTime: number | undefined;

  constructor(
    private readonly options: CanReplayOptions,
    private readonly readLine: LogLineReader = candumpLine,
  ) {
    super(options, BATCH_MS);
  }

  send(): Promise<void> {
    return Promise.reject(new Error(`${this.options.file} is a log replay: frames cannot be sent`));
  }

  protected rewind(): void {
    this.prevTime = undefined;
  }

  protected read(line: string): LoggedFrames | undefined {
    const read = this.readLine(line);
    if (read === undefined || 'frames' in read) return read;
    this.drop(read.reason, read.detail);
    return undefined;
  }

  protected gapMs({ time }: LoggedFrames): number {
    if (time === undefined) return UNSTAMPED_GAP_MS;
    const gap = this.prevTime === undefined ? 0 : stampGap(time, this.prevTime);
    this.prevTime = time;
    return gap;
  }

  protected deliver({ frames }: LoggedFrames): void {
    const time = Date.now();
    for (const { id, data } of frames) this.data.emit({ id, data, time });
  }

  protected framingError(reason: FramingError, detail: string): void {
    this.drop(reason, detail);
  }

  private drop(reason: string, detail: string): void {
    this.count(reason);
    log.limited('warn', `${this.options.file}:${reason}`, `${this.options.file}: ${reason} line: ${detail}`);
  }
}
