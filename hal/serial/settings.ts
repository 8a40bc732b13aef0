// The `serial` and `replay` (NMEA 0183 log) source types in settings, validated with the settings
// Reader so every error names its key (`sources[1].baudRate: ...`).

import type { Reader } from '../../core/settings-reader.js';
import type { SourceEntry } from '../sources/entry.js';

export interface SerialSourceSettings {
  id: string;
  type: 'serial';
  device: string;
  baudRate: number;
}

export interface ReplaySourceSettings {
  id: string;
  type: 'replay';
  file: string;
  /** `realtime` paces lines by the timestamps/sentences in the log, `fast` plays as fast as possible. */
  rate: 'realtime' | 'fast';
  /** Lines per second when pacing a log without timestamps in realtime mode. */
  linesPerSecond: number;
  loop: boolean;
}

export const VALID_BAUD_RATES = [4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800];

export function parseSerialSource(
  r: Reader,
  s: Record<string, unknown>,
  { key, id }: SourceEntry,
): SerialSourceSettings {
  r.known(s, key, ['id', 'type', 'device', 'baudRate']);
  return {
    id,
    type: 'serial',
    device: r.str(s.device, `${key}.device`),
    baudRate: s.baudRate === undefined ? 4800 : r.oneOf(s.baudRate, `${key}.baudRate`, VALID_BAUD_RATES),
  };
}

export function parseReplaySource(
  r: Reader,
  s: Record<string, unknown>,
  { key, id, base }: SourceEntry,
): ReplaySourceSettings {
  r.known(s, key, ['id', 'type', 'file', 'rate', 'linesPerSecond', 'loop']);
  return {
    id,
    type: 'replay',
    file: r.existingFile(s.file, `${key}.file`, base),
    rate: s.rate === undefined ? 'realtime' : r.oneOf(s.rate, `${key}.rate`, ['realtime', 'fast'] as const),
    linesPerSecond:
      s.linesPerSecond === undefined ? 10 : r.int(s.linesPerSecond, `${key}.linesPerSecond`, 1, 1_000_000),
    loop: s.loop === undefined ? false : r.bool(s.loop, `${key}.loop`),
  };
}
