// A busy NMEA 2000 bus whose readings do not repeat: canboat's recording (the soak's busy bus,
// test/fixtures/can/candumpSample3.txt, a boat lying still) played in a loop at 2,000 frames/s, with
// the value fields of its common PGNs rewritten on every message as a boat under way would send
// them. The recording repeats its messages byte for byte, so the decode memo answers most of it;
// on a real boat position, heading, depth and wind change from one message to the next. Close to
// the memo's worst case: a message carrying a heading, position, course or depth never repeats in
// the file (what does repeat, and how much, is in docs/benchmarks.md).
// Same frames, ids, order and times as `busyCandump`; fast packets keep their framing (a rewritten
// message is written back into the frames it came in). A field the recording sends as "not
// available" stays so: a device that does not measure something does not start to.
// A field's value in a sender's n-th message (n counts that device's messages of that PGN, or that
// AIS target's, through the whole file) is the value in its first message moved n steps: headings
// and courses turn (2 × 1e-4 rad a message, wrapping at a full circle), positions drift (27/19 ×
// 1e-7° a message), the bottom shoals 1 cm a message, logs grow; speeds, attitude, temperature and
// the rudder sweep up and down a plausible band (these can repeat: a band holds few values).

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getPgn } from '@canboat/canboatjs/dist/pgns.js';
import { candumpFrames, candumpLogLine } from '../hal/can/candump.js';
import { parseId, type CanFrame } from '../hal/can/frame.js';
import { PROJECT_ROOT } from '../runtime/config/settings.js';

const RECORDING = join(PROJECT_ROOT, 'test', 'fixtures', 'can', 'candumpSample3.txt');
const FRAMES_PER_SECOND = 2000;
/** 2π in 1e-4 rad, canboat's angle resolution. */
const CIRCLE = 62_832;

/** How a field moves: `turn` wraps in a circle (signed fields in ±π), `drift` adds n × step. */
type Motion = { turn: number } | { drift: number };

/** The fields rewritten, by PGN and canboat field id: every PGN of the recording that carries a reading. */
const MOTIONS: Record<number, Record<string, Motion>> = {
  127245: { position: { drift: 0 }, angleOrder: { drift: 0 } }, // the rudder moves as RUDDER says
  127237: { headingToSteerCourse: { turn: 2 }, track: { turn: 2 }, vesselHeading: { turn: 2 } },
  127250: { heading: { turn: 2 } },
  127251: { rate: { drift: 3 } },
  127257: { yaw: { turn: 2 }, pitch: { drift: 0 }, roll: { drift: 0 } },
  65359: { headingTrue: { turn: 2 }, headingMagnetic: { turn: 2 } },
  129025: { latitude: { drift: 27 }, longitude: { drift: 19 } },
  129026: { cog: { turn: 2 }, sog: { drift: 1 } },
  128259: { speedWaterReferenced: { drift: 1 } },
  128267: { depth: { drift: 1 } },
  128275: { log: { drift: 3 }, tripLog: { drift: 3 } },
  130306: { windSpeed: { drift: 1 }, windAngle: { turn: 3 } },
  130311: { temperature: { drift: 1 } },
  129038: { latitude: { drift: 27 }, longitude: { drift: 19 }, cog: { turn: 2 }, heading: { turn: 2 } },
  129039: { latitude: { drift: 27 }, longitude: { drift: 19 }, cog: { turn: 2 }, heading: { turn: 2 } },
};
/** Speeds, attitude and the rudder stay plausible: they sweep up and down a band instead of drifting away. */
const BANDS: Record<string, number> = {
  sog: 400,
  speedWaterReferenced: 400,
  windSpeed: 600,
  temperature: 500,
  pitch: 300,
  roll: 1000,
};
/** The rudder sweeps ±0.35 rad (so its angle repeats); its order, where sent, moves 1e-4 rad each sweep, so the pair does not. */
const RUDDER = 3500;

interface Field {
  id: string;
  byte: number;
  bytes: number;
  signed: boolean;
  motion: Motion;
}

function fieldsOf(pgn: number): Field[] {
  const def = getPgn(pgn)?.[0];
  if (!def) throw new Error(`PGN ${pgn} is not in canboat's database`);
  return Object.entries(MOTIONS[pgn]!).map(([id, motion]) => {
    const f = def.Fields.find((x) => x.Id === id);
    if (!f || f.BitOffset % 8 !== 0 || (f.BitLength !== 16 && f.BitLength !== 32))
      throw new Error(`PGN ${pgn} field ${id}: not a byte-aligned 16- or 32-bit field in canboat's database`);
    return { id, byte: f.BitOffset / 8, bytes: f.BitLength / 8, signed: f.Signed === true, motion };
  });
}

/** A triangle wave of `n` between 0 and `band`. */
const sweep = (n: number, band: number): number => {
  const m = n % (2 * band);
  return m <= band ? m : 2 * band - m;
};

/**
 * The field's value in the n-th message of its sender (`base` is the field in the sender's first
 * message), or undefined when the recording has it as not available. A function of n, not of the
 * recorded value, so two recorded messages cannot land on the same value.
 */
function moved(f: Field, raw: number, base: number, n: number): number | undefined {
  const bits = f.bytes * 8;
  // canboat's "not available" and the two reserved codes below it: the top three codes of the field.
  const top = f.signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  if (raw >= top - 2) return undefined;
  if (f.id === 'position') return sweep(n, 2 * RUDDER) - RUDDER;
  if (f.id === 'angleOrder') return (Math.floor(n / (4 * RUDDER)) % (2 * RUDDER)) - RUDDER;
  const band = BANDS[f.id];
  if (band !== undefined) return base + sweep(n, band);
  if ('drift' in f.motion) return base + n * f.motion.drift;
  const turned = (base + n * f.motion.turn) % CIRCLE;
  return f.signed ? ((turned + CIRCLE / 2) % CIRCLE) - CIRCLE / 2 : turned;
}

/** Message byte `o` of a fast packet: which of its frames, and where in that frame. */
const fastByte = (o: number): [number, number] =>
  o < 6 ? [0, o + 2] : [1 + Math.floor((o - 6) / 7), 1 + ((o - 6) % 7)];

/** An AIS report's MMSI (canboat's `userId`). */
const USER_ID: Field = { id: 'userId', byte: 1, bytes: 4, signed: false, motion: { drift: 0 } };

interface Message {
  pgn: number;
  src: number;
  fields: Field[];
  /** Indices (in the recording) of the frames carrying the message, in order; one for a single frame. */
  frames: number[];
  fast: boolean;
}

/** The recording's messages that carry fields to move, with the frames each came in. */
function messagesOf(frames: CanFrame[]): Message[] {
  const fieldsByPgn = new Map(Object.keys(MOTIONS).map((p) => [Number(p), fieldsOf(Number(p))]));
  const open = new Map<number, Message & { length: number }>();
  const out: Message[] = [];
  frames.forEach((f, i) => {
    const { pgn, src } = parseId(f.id);
    const fields = fieldsByPgn.get(pgn);
    if (!fields) return;
    if (getPgn(pgn)![0]!.Type !== 'Fast') return void out.push({ pgn, src, fields, frames: [i], fast: false });
    const key = src * 0x1000000 + pgn;
    const index = f.data[0]! & 0x1f;
    if (index === 0) open.set(key, { pgn, src, fields, frames: [i], fast: true, length: f.data[1]! });
    else {
      const m = open.get(key);
      if (!m || m.frames.length !== index) return void open.delete(key);
      m.frames.push(i);
    }
    const m = open.get(key);
    if (m && 6 + 7 * (m.frames.length - 1) >= m.length) {
      open.delete(key);
      out.push(m);
    }
  });
  return out;
}

/** Reads (or with `value`, writes) a little-endian field of a message spread over `data` frames. */
function access(m: Message, data: Uint8Array[], f: Field, value?: number): number {
  const at = (k: number): [Uint8Array, number] => {
    if (!m.fast) return [data[0]!, f.byte + k];
    const [frame, pos] = fastByte(f.byte + k);
    return [data[frame]!, pos];
  };
  let raw = 0;
  for (let k = 0; k < f.bytes; k++) {
    const [d, p] = at(k);
    if (value === undefined) raw += d[p]! * 2 ** (8 * k);
    else d[p] = Math.floor(((value < 0 ? value + 2 ** (8 * f.bytes) : value) / 2 ** (8 * k)) % 256);
  }
  const half = 2 ** (8 * f.bytes - 1);
  return f.signed && raw >= half ? raw - 2 * half : raw;
}

/** The moving bus as `candump -l` lines: whole loops of the recording, about `seconds` at 2,000 frames/s, stamped as `busyCandump` stamps them. */
export function movingBusLines(seconds: number): string[] {
  const frames = candumpFrames(readFileSync(RECORDING, 'utf8'));
  const messages = messagesOf(frames);
  const loops = Math.ceil((FRAMES_PER_SECOND * seconds) / frames.length);
  const counts = new Map<string, number>();
  const bases = new Map<string, number>();
  const lines: string[] = [];
  for (let loop = 0; loop < loops; loop++) {
    const data = frames.map((f) => Uint8Array.from(f.data));
    for (const m of messages) {
      const own = m.frames.map((i) => data[i]!);
      // A sender: the device, and for AIS the target (its MMSI), each moving on its own.
      const key = `${m.src}:${m.pgn}:${m.pgn === 129038 || m.pgn === 129039 ? access(m, own, USER_ID) : ''}`;
      const n = counts.get(key) ?? 0;
      counts.set(key, n + 1);
      for (const f of m.fields) {
        const raw = access(m, own, f);
        const base = bases.get(`${key}:${f.id}`) ?? raw;
        const value = moved(f, raw, base, n);
        if (value === undefined) continue;
        bases.set(`${key}:${f.id}`, base);
        access(m, own, f, value);
      }
    }
    const base = loop * frames.length;
    frames.forEach((f, i) =>
      lines.push(candumpLogLine({ id: f.id, data: data[i]! }, 1_700_000_000 + (base + i) / FRAMES_PER_SECOND, 'can0')),
    );
  }
  return lines;
}

/** Writes `movingBusLines(seconds)` to `file`; returns the number of frames. */
export function movingBusCandump(file: string, seconds: number): number {
  const lines = movingBusLines(seconds);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return lines.length;
}
