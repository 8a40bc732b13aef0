// A canboat log played back as a gateway would deliver it (hal/replay.ts streams and paces it):
// every line in any text format canboatjs reads (plain/Actisense, Yacht Devices RAW, iKonvert,
// PCDIN, MXPGN, candump, N2K ASCII) or canboat JSON becomes the CAN frames it stands for, so the
// N2K codec and plugins granted the interface read it like a live bus. `realtime` follows the
// log's own timestamps where its lines carry them (plain and JSON lines: ISO time), else plays lines
// UNSTAMPED_GAP_MS apart. Frames are stamped with the time they are played.

import { createLogger } from '../../../core/log.js';
import type { FramingError } from '../../framing.js';
import { FileReplay, stampGap, type ReplayPacing } from '../../replay.js';
import type { CanDriver } from '../driver.js';
import type { CanFrame } from '../frame.js';
import { decodeLine } from './line-formats.js';

const log = createLogger('n2k-replay');

const BATCH_MS = 20;
const UNSTAMPED_GAP_MS = 10;

interface LogLine {
  frames: CanFrame[];
  /** Epoch ms the line was logged at, where it says. */
  stamp: number | undefined;
}

/** The ISO time a plain line starts with, or a JSON line's `timestamp`. */
function stampOf(line: string): number | undefined {
  const text = line.startsWith('{') ? /"timestamp"\s*:\s*"([^"]+)"/.exec(line)?.[1] : line.charAt(10) === 'T' ? line.slice(0, line.indexOf(',')) : undefined;
  const ms = text === undefined ? NaN : Date.parse(text);
  return Number.isFinite(ms) ? ms : undefined;
}

export class N2kLogReplay extends FileReplay<LogLine, CanFrame> implements CanDriver {
  private prevStamp: number | undefined;

  constructor(private readonly options: ReplayPacing) {
    super(options, BATCH_MS);
  }

  send(): Promise<void> {
    return Promise.reject(new Error(`${this.options.file} is a log replay: frames cannot be sent`));
  }

  protected rewind(): void {
    this.prevStamp = undefined;
  }

  protected read(line: string): LogLine | undefined {
    const r = decodeLine('n2k-log', line, 0);
    if (r.kind === 'frames') return { frames: r.frames, stamp: stampOf(line) };
    if (r.kind === 'error') this.drop(r.reason, r.detail);
    return undefined;
  }

  protected gapMs({ stamp }: LogLine): number {
    if (stamp === undefined) return UNSTAMPED_GAP_MS;
    const gap = this.prevStamp === undefined ? 0 : stampGap(stamp, this.prevStamp);
    this.prevStamp = stamp;
    return gap;
  }

  protected deliver({ frames }: LogLine): void {
    const time = Date.now();
    for (const { id, data } of frames) this.data.emit({ id, data, time });
  }

  protected framingError(reason: FramingError, detail: string): void {
    this.drop(reason, detail);
  }

  private drop(reason: string, detail: string): void {
    this.count(reason);
    log.limited('warn', `${this.options.file}:${reason}`, `${this.options.file}: ${reason}: ${detail}`);
  }
}
