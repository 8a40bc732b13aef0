// The NMEA 2000 traffic the CAN self-test sends: per round a water depth (128267) and a heading
// (127250), one frame each, and a GNSS position (129029), 43 bytes in 7 fast-packet frames. The
// payloads and the fast-packet split come from canboatjs, the same library the N2K codec reads
// them back with. Only the selftest command loads this module (runtime/cli/main.ts imports each
// command's module when it runs), so `run` does not carry canboatjs for it.

import { toPgn } from '@canboat/canboatjs';
import { encodeCanId } from '@canboat/canboatjs/dist/canId.js';
import { getPlainPGNs } from '@canboat/canboatjs/dist/utilities.js';
import { candumpLogLine } from '../../hal/can/candump.js';
import type { CanFrame } from '../../hal/can/frame.js';

export const DEPTH_PGN = 128267;
export const HEADING_PGN = 127250;
export const GNSS_PGN = 129029;
/** Source address the self-test sends from (a free one in the range tools use). */
const SOURCE_ADDRESS = 251;

export interface N2kMessage {
  pgn: number;
  frames: CanFrame[];
}

function message(pgn: number, fields: Record<string, unknown>): N2kMessage {
  const data = toPgn({ pgn, fields });
  if (!data) throw new Error(`canboatjs could not encode PGN ${pgn}`);
  const id = encodeCanId({ pgn, src: SOURCE_ADDRESS, dst: 255, prio: 3 });
  const parts = data.length > 8 ? getPlainPGNs(data) : [data];
  return { pgn, frames: parts.map((p) => ({ id, data: Uint8Array.from(p) })) };
}

/** `rounds` rounds of the three messages, values varying by round. */
export function selftestMessages(rounds: number): N2kMessage[] {
  const out: N2kMessage[] = [];
  for (let i = 0; i < rounds; i++) {
    out.push(message(DEPTH_PGN, { sid: i & 0xff, depth: 4 + (i % 50) / 10, offset: 0.5 }));
    out.push(message(HEADING_PGN, { sid: i & 0xff, heading: ((i * 7) % 360) * (Math.PI / 180), reference: 'True' }));
    out.push(
      message(GNSS_PGN, {
        sid: i & 0xff,
        date: '2024.06.15',
        time: '10:15:00',
        latitude: 59.77 + i / 10_000,
        longitude: 24.3,
        altitude: 12.5,
        gnssType: 'GPS+GLONASS',
        method: 'GNSS fix',
        integrity: 'No integrity checking',
        numberOfSvs: 9,
        hdop: 0.9,
        pdop: 1.5,
        geoidalSeparation: 18.2,
        referenceStations: 0,
      }),
    );
  }
  return out;
}

/** Frames as a `candump -l` log, 1 ms apart: what the replay twin plays. */
export function candumpLog(frames: readonly CanFrame[], iface: string): string {
  return frames.map((f, i) => `${candumpLogLine(f, 1_700_000_000 + i / 1000, iface)}\n`).join('');
}
