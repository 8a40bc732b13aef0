// Target 2: candump log text → LineFramer (as the replay driver reads a file) → candump parser →
// NMEA 2000 codec (canboatjs, fast-packet reassembly included) → bus → model. Inputs: windows of
// the real recordings in test/fixtures/can (so fast-packet sequences stay together), mutated frame
// by frame (sequence counters, lengths, ids, dropped, repeated and swapped frames), written in the
// three candump formats with text damage on top; fast-packet and single-frame messages synthesised
// for every PGN canboat knows, payloads random.
// Properties: nothing throws; every parsed frame is a valid 29-bit frame of at most 8 bytes; a
// codec delta is accepted by the bus and applied by the model.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeCanId } from '@canboat/canboatjs/dist/canId.js';
import { getPgn } from '@canboat/canboatjs/dist/pgns.js';
import { PROJECT_ROOT } from '../../../runtime/config/settings.js';
import { candumpFrames, parseCandumpLine } from '../../../hal/can/candump.js';
import { isValidFrame, MAX_EXTENDED_ID, parseId, type CanFrame } from '../../../hal/can/frame.js';
import { N2kCodec } from '../../../hal/codecs/n2k/codec.js';
import { LineFramer } from '../../../hal/framing.js';
import { expect, normalize, type FuzzTarget, type TargetModule } from '../harness.js';
import { latin1, mutateBytes } from '../mutate.js';
import type { Rng } from '../rng.js';
import { Downstream } from './pipeline.js';

const CAN_FIXTURES = join(PROJECT_ROOT, 'test', 'fixtures', 'can');
const MAX_PGN = 0x3ffff;

interface KnownPgn {
  pgn: number;
  fast: boolean;
  length: number;
}

/** Every PGN in canboat's database, found by asking it (no list of its own to go stale). */
function knownPgns(): KnownPgn[] {
  const out: KnownPgn[] = [];
  for (let pgn = 0; pgn <= MAX_PGN; pgn++) {
    const defs = getPgn(pgn);
    if (!defs || defs.length === 0) continue;
    const def = defs[0]!;
    out.push({
      pgn,
      fast: def.Type === 'Fast',
      length: typeof def.Length === 'number' && def.Length > 0 ? def.Length : 8,
    });
  }
  return out;
}

/** The recordings as runs of frames, one run per file. */
function recordings(): CanFrame[][] {
  return ['candumpSample2.txt', 'candumpSample3.txt'].map((f) =>
    candumpFrames(readFileSync(join(CAN_FIXTURES, f), 'latin1')),
  );
}

const hex = (n: number, width: number): string => n.toString(16).toUpperCase().padStart(width, '0');

/** One frame as a candump line in one of the three formats. */
function format(rng: Rng, frame: CanFrame): string {
  const id = hex(frame.id, 8);
  const bytes = [...frame.data].map((b) => hex(b, 2));
  const stamp = `(${(1_502_984_866 + rng.int(100_000)).toString()}.${String(rng.int(1_000_000)).padStart(6, '0')})`;
  switch (rng.int(3)) {
    case 0:
      return `${stamp} can0 ${id}#${bytes.join('')}`;
    case 1:
      return `  can0  ${id}   [${bytes.length}]  ${bytes.join(' ')}`;
    default:
      return `${stamp}  can0  ${id}   [${bytes.length}]  ${bytes.join(' ')}`;
  }
}

/** A whole message of `pgn` from `src`: fast-packet frames or one frame, payload random. */
function synthesize(rng: Rng, known: KnownPgn): CanFrame[] {
  const src = rng.int(256);
  const id = encodeCanId({ prio: rng.int(8), pgn: known.pgn, dst: rng.chance(0.8) ? 255 : rng.int(256), src });
  const fill = (n: number): Uint8Array => (rng.chance(0.3) ? new Uint8Array(n).fill(0xff) : rng.bytes(n));
  if (!known.fast) return [{ id, data: fill(rng.chance(0.8) ? 8 : rng.int(9)) }];
  const length = rng.chance(0.7) ? known.length : rng.int(224);
  const payload = fill(length);
  const seq = rng.int(8) << 5;
  const frames: CanFrame[] = [{ id, data: Uint8Array.from([seq, length, ...payload.subarray(0, 6)]) }];
  for (let at = 6, i = 1; at < length && i < 32; at += 7, i++)
    frames.push({ id, data: Uint8Array.from([seq | i, ...payload.subarray(at, at + 7)]) });
  return frames;
}

/** Frame-level damage: what a lossy bus, a bad gateway or a buggy device does. */
function mutateFrames(rng: Rng, frames: CanFrame[]): CanFrame[] {
  const out = frames.map((f) => ({ id: f.id, data: Uint8Array.from(f.data) }));
  const ops = rng.range(1, 4);
  for (let n = 0; n < ops && out.length > 0; n++) {
    const i = rng.int(out.length);
    const f = out[i]!;
    switch (rng.int(8)) {
      case 0: // sequence counter / frame index of a fast packet
        if (f.data.length > 0) f.data[0] = rng.chance(0.5) ? rng.int(256) : (f.data[0]! & 0xe0) | rng.int(32);
        break;
      case 1: // declared fast-packet length
        if (f.data.length > 1) f.data[1] = rng.pick([0, 1, 6, 7, 8, 200, 223, 255]);
        break;
      case 2: // a data byte
        if (f.data.length > 0) f.data[rng.int(f.data.length)] = rng.pick([0x00, 0xff, 0x7f, 0x80, rng.int(256)]);
        break;
      case 3: // shorter or longer data
        f.data = rng.chance(0.5)
          ? f.data.subarray(0, rng.int(f.data.length + 1))
          : Uint8Array.from([...f.data, ...rng.bytes(8)].slice(0, 8));
        break;
      case 4: // lost frame
        out.splice(i, 1);
        break;
      case 5: // repeated frame
        out.splice(i, 0, { id: f.id, data: Uint8Array.from(f.data) });
        break;
      case 6: // reordered
        if (i + 1 < out.length) [out[i], out[i + 1]] = [out[i + 1]!, f];
        break;
      default: // id: another PGN, source or priority
        f.id = (f.id ^ (1 << rng.int(29))) & MAX_EXTENDED_ID;
    }
  }
  return out;
}

function generate(rng: Rng, runs: readonly CanFrame[][], pgns: readonly KnownPgn[]): Uint8Array {
  let frames: CanFrame[];
  const choice = rng.int(10);
  if (choice < 4) {
    const run = rng.pick(runs);
    const at = rng.int(run.length);
    frames = run.slice(at, at + rng.logScale(40));
  } else {
    frames = Array.from({ length: rng.logScale(3) }, () => synthesize(rng, rng.pick(pgns))).flat();
  }
  if (rng.chance(0.7)) frames = mutateFrames(rng, frames);
  const lines = frames.map((f) => format(rng, f));
  // Text damage on a line now and then: what a candump log cut or garbled looks like.
  if (rng.chance(0.2) && lines.length > 0) {
    const i = rng.int(lines.length);
    lines[i] = Buffer.from(
      mutateBytes(rng, latin1(lines[i]!), [
        latin1('#'),
        latin1(' '),
        latin1('['),
        latin1(']'),
        latin1('('),
        latin1('R'),
        latin1('_'),
      ]),
    ).toString('latin1');
  }
  if (rng.chance(0.05))
    lines.push(
      rng.pick([
        '# comment',
        '',
        '  can0  123   [2]  01 02',
        '(1.5) can0 1FFFFFFF##0102',
        '(1.5) can0 0DF80503#R',
        'can0 20000000#',
        `(${'9'.repeat(400)}.1) can0 09F80503#00`,
      ]),
    );
  return latin1(`${lines.join('\n')}\n`);
}

export const target: TargetModule = {
  name: 'candump',
  covers: 'candump lines → LineFramer → candump parser → N2K codec (fast packets) → bus → model',
  async create(): Promise<FuzzTarget> {
    const runs = recordings();
    const pgns = knownPgns();
    const down = new Downstream();
    const codec = new N2kCodec('fuzz-can');
    let lines: string[] = [];
    const labels: string[] = [];
    const framer = new LineFramer({ line: (l) => lines.push(l), error: (reason) => labels.push(`framing:${reason}`) });
    let inputs = 0;
    return {
      generate: (rng) => generate(rng, runs, pgns),
      run(input) {
        lines = [];
        labels.length = 0;
        framer.push(input);
        for (const line of lines) {
          const parsed = parseCandumpLine(line);
          if (parsed.kind === 'none') continue;
          if (parsed.kind === 'error') {
            labels.push(`candump:${parsed.reason}:${normalize(parsed.detail).slice(0, 40)}`);
            continue;
          }
          const { frame } = parsed;
          expect(
            isValidFrame(frame),
            () =>
              `the parser passed on an invalid frame: id ${frame.id}, ${frame.data.length} bytes from ${JSON.stringify(line)}`,
          );
          // The replay driver restamps frames with the time they are played; the log's own time is tried too.
          const time = inputs % 10 === 0 && frame.time !== undefined ? frame.time : Date.now();
          const result = codec.decode({ id: frame.id, data: frame.data, time });
          if (result.kind === 'delta') {
            down.publish(result.delta, 'source fuzz-can');
            labels.push(`delta:${parseId(frame.id).pgn}`);
          } else if (result.kind === 'pending') labels.push('pending');
          else labels.push(`${result.kind}:${result.reason}`);
        }
        // Every 10,000 inputs: encoding the whole model (AIS vessels pile up) costs more as it grows.
        if (++inputs % 10_000 === 0) down.checkSnapshot();
        return [...labels];
      },
      async close() {
        down.checkSnapshot();
      },
    };
  },
};
