// The CAN driver's replay twin: plays a candump log as frames (hal/replay.ts streams and paces
// it), like hal/serial/replay.ts does for NMEA 0183. Frames of every interface in the log are
// played (the recording machine's interface names mean nothing here).
//
// `realtime` waits between frames what their candump timestamps say; frames without a stamp
// (plain candump) come UNSTAMPED_GAP_MS apart. Frames due within BATCH_MS of each other are played
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

const BATCH_MS = 20;
const UNSTAMPED_GAP_MS = 10;

export class CanReplayDriver extends FileReplay<CanFrame, CanFrame> implements CanDriver {
  private prevTime: number | undefined;

  constructor(private readonly options: CanReplayOptions) {
    super(options, BATCH_MS);
  }

  send(): Promise<void> {
    return Promise.reject(new Error(`${this.options.file} is a candump replay: frames cannot be sent`));
  }

  protected rewind(): void {
    this.prevTime = undefined;
  }

  protected read(line: string): CanFrame | undefined {
    const parsed = parseCandumpLine(line);
    if (parsed.kind === 'frame') return parsed.frame;
    if (parsed.kind === 'error') this.drop(parsed.reason, parsed.detail);
    return undefined;
  }

  protected gapMs({ time }: CanFrame): number {
    if (time === undefined) return UNSTAMPED_GAP_MS;
    const gap = this.prevTime === undefined ? 0 : stampGap(time, this.prevTime);
    this.prevTime = time;
    return gap;
  }

  protected deliver({ id, data }: CanFrame): void {
    this.data.emit({ id, data, time: Date.now() });
  }

  protected framingError(reason: FramingError, detail: string): void {
    this.drop(reason, detail);
  }

  private drop(reason: string, detail: string): void {
    this.count(reason);
    log.limited('warn', `${this.options.file}:${reason}`, `${this.options.file}: ${reason} line: ${detail}`);
  }
}
