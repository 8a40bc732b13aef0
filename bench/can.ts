// NMEA 2000 / CAN benchmark, one input for every figure: the frames of the canboat candump -l
// recording (test/fixtures/can/candumpSample3.txt: heading, attitude, position, wind, depth,
// AIS fast packets...) repeated to ~200k frames.
//  (a) the libraries alone: canboatjs FromPgn.parse + n2k-signalk N2kMapper.toDelta per frame;
//  (b) our N2kCodec.decode (the same plus result kinds, wire normalisation and delta validation,
//      answering repeated messages from its decode memo: the repeated log is mostly repeats);
//  (c) candump line parsing alone;
//  (d) end to end: a `fast` replay of the repeated log as a file → CanInterfaces → CanSource
//      (codec) → bus → model, timed from start until the replay has ended;
//  (e) the gateway framings, bytes → the same frames: Yacht Devices RAW lines, and NGT-1 binary
//      (whole messages, cut into fast-packet frames again), against (c);
//  (f) (a) and (b) again on the moving bus (bench/moving-bus.ts: the same frames with their
//      readings changing on every message, so the memo has little to answer);
//  (g) from the first frame: each input decoded once in a fresh process (modules not loaded, no
//      JIT warm-up) by the libraries and by our codec, CPU per 25k frames.
// `node dist/bench/run.js can`, or as part of `npm run bench`.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FromPgn } from '@canboat/canboatjs';
import { N2kMapper } from '@signalk/n2k-signalk';
import { PROJECT_ROOT } from '../runtime/config/settings.js';
import { candumpFrames, parseCandumpLine } from '../hal/can/candump.js';
import { parseId, type CanFrame } from '../hal/can/frame.js';
import { ActisenseFramer, encodeActisenseReceived } from '../hal/can/gateway/actisense-binary.js';
import { decodeLine, encodeYdwgRaw } from '../hal/can/gateway/line-formats.js';
import { FastPacketJoiner, toFrames, type N2kMessage } from '../hal/can/gateway/message.js';
import { CanInterfaces } from '../hal/can/interfaces.js';
import { SerialPorts } from '../hal/serial/ports.js';
import { N2kCodec } from '../hal/codecs/n2k/codec.js';
import { createSource } from '../hal/sources/table.js';
import { movingBusLines } from './moving-bus.js';
import { median } from './stats.js';
import { modelAndBus } from './wiring.js';

const LOG = join(PROJECT_ROOT, 'test', 'fixtures', 'can', 'candumpSample3.txt');
const TARGET_FRAMES = 200_000;
const URN = 'urn:mrn:signalk:uuid:0d6a0a4e-2f7c-4f51-a7a9-6d3b1f0c9e11';

const perSec = (n: number, ms: number): number => (n / ms) * 1000;
const fmt = (rate: number): string => `${Math.round(rate).toLocaleString('en-US')} frames/s`;

/** The recording's frame lines, repeated to about TARGET_FRAMES. */
function input(): string[] {
  const frames = readFileSync(LOG, 'latin1')
    .split(/\r?\n/)
    .filter((l) => parseCandumpLine(l).kind === 'frame');
  const lines: string[] = [];
  while (lines.length < TARGET_FRAMES) lines.push(...frames);
  return lines;
}

/** Median of five timed rounds (the first also warms up the JIT); `run` gets a fresh state each round. */
function timeRounds(run: () => void): number {
  const ms: number[] = [];
  for (let round = 0; round < 5; round++) {
    const t0 = performance.now();
    run();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

function timeLibraries(frames: CanFrame[]): number {
  return timeRounds(() => {
    const parser = new FromPgn({});
    parser.on('error', () => {});
    const mapper = new N2kMapper({});
    for (const f of frames) {
      const msg = parser.parse({
        pgn: { ...parseId(f.id) },
        length: f.data.length,
        data: Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength),
      });
      if (msg) mapper.toDelta(msg);
    }
  });
}

function timeCodec(frames: CanFrame[]): number {
  return timeRounds(() => {
    const codec = new N2kCodec('bench');
    for (const f of frames) codec.decode(f);
  });
}

function timeCandump(lines: string[]): number {
  return timeRounds(() => {
    for (const l of lines) parseCandumpLine(l);
  });
}

/** Frames/s out of each gateway framing for the same frames: YD RAW lines, NGT-1 binary messages. */
function timeGateways(frames: CanFrame[]): { ydwg: number; ngt1: number } {
  const raw = frames.map((f) => `10:15:00.000 R ${encodeYdwgRaw(f).trimEnd()}`);
  const joiner = new FastPacketJoiner();
  const messages: N2kMessage[] = [];
  for (const f of frames) {
    try {
      const m = joiner.add(f);
      if (m) messages.push(m);
    } catch {
      // a fast packet the recording starts in the middle of
    }
  }
  const binary = Buffer.concat(messages.map((m) => encodeActisenseReceived(m)));
  const ngt1Frames = messages.reduce((n, m) => n + toFrames(m, 0).length, 0);
  const ydwgMs = timeRounds(() => {
    for (const l of raw) decodeLine('ydwg-raw', l, 0);
  });
  const ngt1Ms = timeRounds(() => {
    const framer = new ActisenseFramer({ message: (m) => toFrames(m, 0), error: () => {} });
    framer.push(binary);
  });
  return { ydwg: perSec(raw.length, ydwgMs), ngt1: perSec(ngt1Frames, ngt1Ms) };
}

async function timePipeline(lines: string[], dir: string): Promise<{ ms: number; deltas: number }> {
  const file = join(dir, 'bench.log');
  await writeFile(file, lines.join('\n') + '\n');
  const { bus } = modelAndBus(URN);
  const source = await createSource(
    { id: 'bench', type: 'can', interface: 'bench0', driver: 'candump', file, rate: 'fast', loop: false },
    bus,
    {
      serial: new SerialPorts(),
      can: new CanInterfaces(),
    },
  );
  const t0 = performance.now();
  source.start();
  try {
    while (source.status().state !== 'ended') {
      await new Promise((r) => setTimeout(r, 5));
      if (performance.now() - t0 > 300_000) throw new Error('replay did not end in 5 min');
    }
    const status = source.status();
    if (status.lines !== lines.length) throw new Error(`replayed ${status.lines} of ${lines.length} frames`);
    return { ms: performance.now() - t0, deltas: status.deltas };
  } finally {
    await source.stop();
  }
}

/** CPU ms of the first frame and of each 25k frames after it, decoding `file` once in a fresh process. */
function firstFrames(file: string, mode: 'codec' | 'libraries'): { first: number; chunks: number[] } {
  const out = execFileSync(
    process.execPath,
    [join(PROJECT_ROOT, 'dist', 'bench', 'n2k-first-frames-child.js'), file, mode],
    {
      encoding: 'utf8',
    },
  );
  return JSON.parse(out) as { first: number; chunks: number[] };
}

function firstFramesLine(what: string, r: { first: number; chunks: number[] }): string {
  const total = r.first + r.chunks.reduce((a, b) => a + b, 0);
  return `  ${what}: first frame ${r.first.toFixed(0)} ms (module loading), then per 25k frames ${r.chunks.map((c) => c.toFixed(0)).join(' ')} ms; all ${(total / 1000).toFixed(2)} CPU-s`;
}

const framesOf = (lines: string[]): CanFrame[] => candumpFrames(lines.join('\n'));

export async function benchCan(): Promise<string[]> {
  const lines = input();
  const frames = framesOf(lines);
  const movingLines = movingBusLines(lines.length / 2000);
  const moving = framesOf(movingLines);
  const dir = await mkdtemp(join(tmpdir(), 'skedge-bench-can-'));
  try {
    const libRate = perSec(frames.length, timeLibraries(frames));
    const codecRate = perSec(frames.length, timeCodec(frames));
    const candumpRate = perSec(lines.length, timeCandump(lines));
    const gw = timeGateways(frames);
    const p = await timePipeline(lines, dir);
    const pipeRate = perSec(lines.length, p.ms);
    const movingLibRate = perSec(moving.length, timeLibraries(moving));
    const movingCodecRate = perSec(moving.length, timeCodec(moving));
    const recordingFile = join(dir, 'recording.log');
    const movingFile = join(dir, 'moving.log');
    await writeFile(recordingFile, lines.join('\n') + '\n');
    await writeFile(movingFile, movingLines.join('\n') + '\n');
    return [
      `NMEA 2000 over CAN (${frames.length.toLocaleString('en-US')} frames, canboat candumpSample3 repeated; median of 5 rounds)`,
      `  libraries alone, FromPgn.parse + N2kMapper.toDelta: ${fmt(libRate)}`,
      `  N2kCodec.decode (parse + map + normalise, memo):      ${fmt(codecRate)}`,
      `  candump line parsing alone:                          ${fmt(candumpRate)}`,
      `  replay fast → CanInterfaces → codec → bus → model:   ${fmt(pipeRate)} ` +
        `(${p.deltas.toLocaleString('en-US')} deltas, ${(p.ms / 1000).toFixed(1)} s)`,
      `  ratio codec / libraries: ${(codecRate / libRate).toFixed(2)}, pipeline / libraries: ${(pipeRate / libRate).toFixed(2)}`,
      `  gateway framing to frames, Yacht Devices RAW lines:  ${fmt(gw.ydwg)} (ratio to candump parsing ${(gw.ydwg / candumpRate).toFixed(2)})`,
      `  gateway framing to frames, NGT-1 binary messages:    ${fmt(gw.ngt1)} (ratio to candump parsing ${(gw.ngt1 / candumpRate).toFixed(2)})`,
      `The moving bus (${moving.length.toLocaleString('en-US')} frames, the same with its readings changing on every message)`,
      `  libraries alone, FromPgn.parse + N2kMapper.toDelta: ${fmt(movingLibRate)}`,
      `  N2kCodec.decode (parse + map + normalise, memo):      ${fmt(movingCodecRate)}`,
      `  ratio codec / libraries: ${(movingCodecRate / movingLibRate).toFixed(2)}`,
      'From the first frame, each input once in a fresh process (CPU ms)',
      firstFramesLine('recording, libraries', firstFrames(recordingFile, 'libraries')),
      firstFramesLine('recording, N2kCodec ', firstFrames(recordingFile, 'codec')),
      firstFramesLine('moving,    libraries', firstFrames(movingFile, 'libraries')),
      firstFramesLine('moving,    N2kCodec ', firstFrames(movingFile, 'codec')),
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
