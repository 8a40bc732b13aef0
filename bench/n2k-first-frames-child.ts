// Child process of the can bench: the cost of NMEA 2000 decoding from the first frame, in a fresh
// process (no JIT warm-up, modules not yet loaded). argv[2] a candump -l file, argv[3] `codec`
// (N2kCodec) or `libraries` (canboatjs FromPgn.parse + n2k-signalk N2kMapper.toDelta, as
// signalk-server runs them). Prints {"first": CPU ms of the first frame (module loading
// included), "chunks": CPU ms of each following CHUNK frames}.

import { readFileSync } from 'node:fs';
import { candumpFrames } from '../hal/can/candump.js';
import { parseId, type CanFrame } from '../hal/can/frame.js';

const CHUNK = 25_000;

const frames = candumpFrames(readFileSync(process.argv[2]!, 'latin1'));

async function decoder(): Promise<(f: CanFrame) => void> {
  if (process.argv[3] === 'codec') {
    const { N2kCodec } = await import('../hal/codecs/n2k/codec.js');
    const codec = new N2kCodec('bench');
    return (f) => void codec.decode(f);
  }
  const { FromPgn } = await import('@canboat/canboatjs');
  const { N2kMapper } = await import('@signalk/n2k-signalk');
  const parser = new FromPgn({});
  parser.on('error', () => {});
  parser.on('warning', () => {});
  const mapper = new N2kMapper({});
  return (f) => {
    const data = Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength);
    const msg: unknown = parser.parse({
      pgn: { ...parseId(f.id), timestamp: new Date(f.time!) },
      length: data.length,
      data,
    });
    if (msg) mapper.toDelta(msg as Parameters<typeof mapper.toDelta>[0]);
  };
}

const ms = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1000;
const c0 = process.cpuUsage();
const decode = await decoder();
decode(frames[0]!);
const first = ms(process.cpuUsage(c0));
const chunks: number[] = [];
// Whole chunks only (the frames after the last whole chunk are left out).
for (let i = 1; i + CHUNK <= frames.length; i += CHUNK) {
  const c = process.cpuUsage();
  for (const f of frames.slice(i, i + CHUNK)) decode(f);
  chunks.push(ms(process.cpuUsage(c)));
}
process.stdout.write(JSON.stringify({ first, chunks }));
