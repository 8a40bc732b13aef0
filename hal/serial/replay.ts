// The serial driver's replay twin: plays an NMEA 0183 log file as lines (hal/replay.ts streams and
// paces it).
//
// Pacing (`realtime`): a line may carry a leading receive time in epoch milliseconds,
// `1700000000000;$GPRMC,...` (the prefix is removed before the line is delivered). Between two
// stamped lines the replay waits the difference of their stamps; every other line (no stamp, or
// the first stamped line) waits 1/linesPerSecond.

import type { FramingError, LineSink } from '../framing.js';
import { FileReplay, stampGap, type ReplayPacing } from '../replay.js';

export interface ReplayOptions extends ReplayPacing {
  /** Lines per second when pacing a log without timestamps in realtime mode. */
  linesPerSecond: number;
}

interface StampedLine {
  line: string;
  /** Its receive time in epoch ms, or -1. */
  stamp: number;
}

/** The epoch-ms stamp of a `1700000000000;...` line, or -1. */
function stampOf(line: string): number {
  if (line.length < 14 || line.charCodeAt(13) !== 0x3b /* ; */) return -1;
  for (let i = 0; i < 13; i++) {
    const c = line.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
  }
  return Number(line.slice(0, 13));
}

export class ReplayDriver extends FileReplay<StampedLine> {
  private readonly stepMs: number;
  private prevStamp = -1;

  constructor(
    options: ReplayOptions,
    private readonly sink: LineSink,
  ) {
    super(options);
    this.stepMs = 1000 / options.linesPerSecond;
  }

  protected rewind(): void {
    this.prevStamp = -1;
  }

  protected read(line: string): StampedLine {
    const stamp = stampOf(line);
    return { line: stamp >= 0 ? line.slice(14) : line, stamp };
  }

  protected gapMs({ stamp }: StampedLine): number {
    const gap = stamp >= 0 && this.prevStamp >= 0 ? stampGap(stamp, this.prevStamp) : this.stepMs;
    if (stamp >= 0) this.prevStamp = stamp;
    return gap;
  }

  protected deliver(item: StampedLine): void {
    this.sink.line(item.line);
  }

  protected framingError(reason: FramingError, detail: string): void {
    this.sink.error(reason, detail);
  }
}
