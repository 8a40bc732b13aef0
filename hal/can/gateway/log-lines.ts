// The lines of a canboat log as the CAN replay (hal/can/replay.ts) plays them: each line in any
// text format canboatjs reads (plain/Actisense, Yacht Devices RAW, iKonvert, PCDIN, MXPGN,
// candump, N2K ASCII) or canboat JSON becomes the CAN frames it stands for, so the N2K codec and
// plugins granted the interface read the log like a live bus. The log's own timestamps (ISO time
// at the start of a plain line, a JSON line's `timestamp`) pace a realtime replay.

import type { LogLineReader } from '../replay.js';
import { decodeLine } from './line-formats.js';

/** The ISO time a plain line starts with, or a JSON line's `timestamp`. */
function stampOf(line: string): number | undefined {
  const text = line.startsWith('{')
    ? /"timestamp"\s*:\s*"([^"]+)"/.exec(line)?.[1]
    : line.charAt(10) === 'T'
      ? line.slice(0, line.indexOf(','))
      : undefined;
  const ms = text === undefined ? NaN : Date.parse(text);
  return Number.isFinite(ms) ? ms : undefined;
}

export const canboatLogLine: LogLineReader = (line) => {
  const r = decodeLine('n2k-log', line, 0);
  if (r.kind === 'frames') return { frames: r.frames, time: stampOf(line) };
  return r.kind === 'error' ? r : undefined;
};
