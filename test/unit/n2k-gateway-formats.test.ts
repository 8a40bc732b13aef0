// The gateway formats on their own: each text format and the NGT-1 binary framing turn into the
// CAN frames the message travels in on the bus (read back with canboatjs's own encoders, so the
// formats are the library's, not ours); what is malformed is refused with a reason and costs
// nothing else; frames a plugin sends are put back together for gateways that take whole messages;
// gateway settings parse with errors naming the key.

import test from 'ava';
import { encodeActisenseN2KACSII, toPgn } from '@canboat/canboatjs';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Reader, SettingsError } from '../../core/settings-reader.js';
import {
  ActisenseFramer,
  encodeActisenseReceived,
  type ActisenseError,
} from '../../hal/can/gateway/actisense-binary.js';
import { decodeLine } from '../../hal/can/gateway/line-formats.js';
import { canboatLogLine } from '../../hal/can/gateway/log-lines.js';
import { FastPacketJoiner, toFrames, type N2kMessage } from '../../hal/can/gateway/message.js';
import { parseId, type CanFrame } from '../../hal/can/frame.js';
import { parseSources } from '../../hal/sources/table.js';
import { tempDir } from '../helpers/temp.js';

const heading = (): N2kMessage => ({
  prio: 2,
  pgn: 127250,
  src: 35,
  dst: 255,
  data: toPgn({ pgn: 127250, fields: { sid: 1, heading: 0.5, reference: 'True' } })!,
});
const gnss = (): N2kMessage => ({
  prio: 3,
  pgn: 129029,
  src: 160,
  dst: 255,
  data: toPgn({
    pgn: 129029,
    fields: {
      sid: 7,
      date: '2024.06.15',
      time: '10:15:00',
      latitude: 59.5,
      longitude: 24.25,
      gnssType: 'GPS',
      method: 'GNSS fix',
      numberOfSvs: 9,
      referenceStations: 0,
    },
  })!,
});

/** `m` as a canboat plain log line: time, prio, PGN, src, dst, length, the bytes in hex. */
function plainLine(m: N2kMessage): string {
  const hex = [...m.data].map((b) => b.toString(16).padStart(2, '0')).join(',');
  return `2014-08-15T19:00:00.045Z,${m.prio},${m.pgn},${m.src},${m.dst},${m.data.length},${hex}`;
}

/** The whole message the frames carry, put together again. */
function joined(frames: CanFrame[]): N2kMessage | undefined {
  const joiner = new FastPacketJoiner();
  let out: N2kMessage | undefined;
  for (const f of frames) out = joiner.add(f) ?? out;
  return out;
}

function frames(r: ReturnType<typeof decodeLine>): CanFrame[] {
  if (r.kind !== 'frames') throw new Error(`expected frames, got ${JSON.stringify(r)}`);
  return r.frames;
}

test('whole messages travel as one frame, or as fast-packet frames when canboat says the PGN is fast', (t) => {
  const single = toFrames(heading(), 1);
  t.is(single.length, 1);
  t.like(parseId(single[0].id), { pgn: 127250, src: 35, dst: 255, prio: 2 });
  const fast = toFrames(gnss(), 1);
  t.is(fast.length, Math.ceil((gnss().data.length - 6) / 7) + 1);
  t.true(fast.every((f) => f.data.length === 8 && parseId(f.id).pgn === 129029));
  t.deepEqual(joined(fast), gnss());
});

test('text formats: W2K-1 N2K ASCII, iKonvert and canboat plain/JSON lines decode to the same frames', (t) => {
  const m = heading();
  const expected = toFrames(m, 5);
  t.deepEqual(frames(decodeLine('actisense-ascii', encodeActisenseN2KACSII(m), 5)), expected);
  const pdgy = `!PDGY,${m.pgn},${m.prio},${m.src},${m.dst},0.563,${m.data.toString('base64')}`;
  t.deepEqual(frames(decodeLine('ikonvert', pdgy, 5)), expected);
  t.deepEqual(frames(decodeLine('n2k-log', pdgy, 5)), expected);
  t.deepEqual(frames(decodeLine('n2k-log', plainLine(m), 5)), expected);
  const json = JSON.stringify({
    timestamp: '2014-08-15T19:00:00.045Z',
    prio: m.prio,
    src: m.src,
    dst: m.dst,
    pgn: m.pgn,
    fields: { sid: 1, heading: 0.5, reference: 'True' },
  });
  t.deepEqual(frames(decodeLine('n2k-log', json, 5)), expected);
  // A fast-packet message in a log line comes out as its frames.
  const g = gnss();
  t.deepEqual(joined(frames(decodeLine('n2k-log', plainLine(g), 5))), g);
  // YD RAW and candump lines in a log are single bus frames, passed on as they are.
  t.deepEqual(frames(decodeLine('n2k-log', '16:29:27.082 R 09F8017F 50 C3 B8 13 47 D8 2B C6', 5)), [
    { id: 0x09f8017f, data: Buffer.from('50c3b81347d82bc6', 'hex'), time: 5 },
  ]);
  t.deepEqual(
    frames(decodeLine('n2k-log', '(1502979132.106111) slcan0 09F50374#000A00FFFF00FFFF', 5))[0].data,
    Buffer.from('000a00ffff00ffff', 'hex'),
  );
});

test('text formats: gateway chatter is nothing, malformed lines are refused with a reason', (t) => {
  t.deepEqual(decodeLine('ikonvert', '$PDGY,000000,4,,5,482.236,,,', 0), { kind: 'none' });
  // Actisense's own PGNs (its status) are the gateway's, never on the bus.
  t.deepEqual(decodeLine('n2k-log', '2014-08-15T19:00:00.582Z,0,262386,0,0,3,01,0e,00', 0), { kind: 'none' });
  const cases: [Parameters<typeof decodeLine>[0], string, string][] = [
    ['ydwg-raw', 'hello', 'garbage'],
    ['ydwg-raw', '16:29:27.082 R 09F8017F 50 C3 B8 13 47 D8 2B C6 00', 'garbage'],
    ['ydwg-raw', '16:29:27.082 R 09F8017G 50', 'garbage'],
    ['actisense-ascii', 'A000000.000 23FF2 1F112 018813FF7FFF7FF', 'garbage'],
    ['ikonvert', '!PDGY,127250,2,35,255,0.563,AYgT*3//f/w=', 'garbage'],
    ['ikonvert', '$GPRMC,not,a,pdgy', 'garbage'],
    ['n2k-log', '2014-08-15T19:00:00.045Z,3,129033,160,255,8,a9,3f', 'truncated'],
    ['n2k-log', '2014-08-15T19:00:00.045Z,3,129033,160,255,2,zz,3f', 'garbage'],
    ['n2k-log', '{"pgn": "x"}', 'unparsed'],
    ['n2k-log', '{not json', 'garbage'],
    ['n2k-log', 'random text', 'garbage'],
  ];
  for (const [format, line, reason] of cases) {
    const r = decodeLine(format, line, 0);
    t.is(r.kind === 'error' ? (r.reason as string) : r.kind, reason, `${format}: ${line}`);
  }
});

test('NGT-1 binary: frames with stuffed DLEs decode; garbage, bad checksums, cut and overlong frames are counted and lose nothing else', (t) => {
  const got: N2kMessage[] = [];
  const errors: ActisenseError[] = [];
  const framer = new ActisenseFramer({ message: (m) => got.push(m), error: (reason) => errors.push(reason) });
  // src 0x10 and data with 0x10 bytes: DLE stuffing on the wire.
  const stuffed: N2kMessage = {
    prio: 3,
    pgn: 130306,
    src: 0x10,
    dst: 255,
    data: Buffer.from([0x10, 0x10, 0x02, 0x10, 0x03, 0x10, 0xff, 0xff]),
  };
  const ok = [heading(), stuffed, gnss()].map((m) => encodeActisenseReceived(m));
  const bad = Buffer.from(ok[0]);
  bad[bad.length - 3] ^= 0xff;
  const overlong = Buffer.concat([Buffer.from([0x10, 0x02]), Buffer.alloc(300, 0x55), Buffer.from([0x10, 0x03])]);
  const input = Buffer.concat([Buffer.from([0x00, 0x42]), ok[0], bad, ok[1].subarray(0, 9), ok[1], overlong, ok[2]]);
  // Fed a byte at a time: framing must not depend on how the bytes arrive.
  for (const b of input) framer.push(Uint8Array.of(b));
  framer.push(ok[0].subarray(0, 5));
  framer.end();
  t.deepEqual(got, [heading(), stuffed, gnss()]);
  t.deepEqual(errors, ['garbage', 'checksum', 'truncated', 'overlong', 'truncated']);
});

test('frames a plugin sends are joined into whole messages; a frame out of sequence is refused', (t) => {
  const parts = toFrames(gnss(), 0);
  const joiner = new FastPacketJoiner();
  t.is(joiner.add(parts[0]), undefined);
  t.throws(() => joiner.add(parts[2]), { message: /out of sequence/ });
  t.deepEqual(joined(parts), gnss());
  t.deepEqual(new FastPacketJoiner().add(toFrames(heading(), 0)[0]), heading());
});

test('gateway settings: defaults, transports, and errors that name the key', (t) => {
  const dir = tempDir(t, 'ske-gw-settings-');
  const log = join(dir, 'n2k.log');
  writeFileSync(log, '');
  const parse = (list: unknown[]) => parseSources(new Reader('settings.json'), list, dir);
  t.deepEqual(parse([{ id: 'ngt', type: 'actisense', device: '/dev/ttyUSB0' }]), [
    {
      id: 'ngt',
      type: 'actisense',
      interface: 'ngt',
      transport: { kind: 'serial', device: '/dev/ttyUSB0', baudRate: 115200 },
    },
  ]);
  t.like(parse([{ id: 'ik', type: 'ikonvert', interface: 'n2k', device: '/dev/ttyUSB1' }])[0], {
    interface: 'n2k',
    transport: { baudRate: 230400 },
  });
  t.like(parse([{ id: 'yd', type: 'ydwg-raw', transport: 'udp', port: 1456 }])[0], {
    transport: { kind: 'udp', port: 1456 },
  });
  t.like(parse([{ id: 'yd', type: 'ydwg-raw', transport: 'tcp', host: '192.168.4.1', port: 1457 }])[0], {
    transport: { kind: 'tcp', host: '192.168.4.1', port: 1457 },
  });
  t.like(parse([{ id: 'w2k', type: 'actisense-ascii', transport: 'tcp', host: '192.168.1.5', port: 60001 }])[0], {
    transport: { kind: 'tcp' },
  });
  t.like(parse([{ id: 'log', type: 'n2k-replay', file: 'n2k.log', rate: 'fast' }])[0], {
    transport: { kind: 'file', file: log, rate: 'fast', loop: false },
  });
  const error = (list: unknown[]) => t.throws(() => parse(list), { instanceOf: SettingsError })?.message ?? '';
  t.regex(
    error([{ id: 'w2k', type: 'actisense-ascii', transport: 'serial', device: '/dev/ttyUSB0' }]),
    /sources\[0\]\.transport: must be one of udp, tcp/,
  );
  t.regex(
    error([{ id: 'yd', type: 'ydwg-raw', transport: 'udp', port: 1456, device: '/dev/x' }]),
    /sources\[0\]\.device: unknown key/,
  );
  t.regex(
    error([{ id: 'ngt', type: 'actisense', device: '/dev/ttyUSB0', baudRate: 1234 }]),
    /sources\[0\]\.baudRate: must be one of/,
  );
  t.regex(error([{ id: 'log', type: 'n2k-replay', file: 'missing.log' }]), /sources\[0\]\.file: no such file/);
  t.regex(
    error([{ id: 'a-very-long-source-name', type: 'actisense', device: '/dev/x' }]),
    /sources\[0\]\.interface: must be an interface name/,
  );
  t.regex(
    error([
      { id: 'bus', type: 'can', interface: 'can0' },
      { id: 'ngt', type: 'actisense', interface: 'can0', device: '/dev/x' },
    ]),
    /sources\[1\]\.interface: can0 is already used by another source/,
  );
});

test('canboat log lines carry their own time for a realtime replay: plain and JSON lines, none for YD RAW', (t) => {
  const m = heading();
  const plain = canboatLogLine(plainLine(m));
  t.like(plain, { time: Date.parse('2014-08-15T19:00:00.045Z') });
  t.deepEqual(
    plain && 'frames' in plain ? plain.frames.map((f) => f.id) : [],
    toFrames(m, 0).map((f) => f.id),
  );
  const json = canboatLogLine(
    JSON.stringify({
      timestamp: '2014-08-15T19:00:01.000Z',
      pgn: m.pgn,
      src: m.src,
      fields: { sid: 1, heading: 0.5, reference: 'True' },
    }),
  );
  t.like(json, { time: Date.parse('2014-08-15T19:00:01.000Z') });
  const raw = canboatLogLine('16:29:27.082 R 09F8017F 50 C3 B8 13 47 D8 2B C6');
  t.is(raw && 'frames' in raw ? raw.time : 'refused', undefined);
  t.like(canboatLogLine('random text'), { reason: 'garbage' });
  t.is(
    canboatLogLine('2014-08-15T19:00:00.582Z,0,262386,0,0,3,01,0e,00'),
    undefined,
    "Actisense's own PGN: nothing to play",
  );
});

test('NGT-1 binary: a broken frame counts once; a stream of noise (wrong rate) is reported while it lasts', (t) => {
  const got: N2kMessage[] = [];
  const errors: string[] = [];
  const framer = new ActisenseFramer({
    message: (m) => got.push(m),
    error: (reason, detail) => errors.push(`${reason}: ${detail}`),
  });
  const ok = encodeActisenseReceived(heading());
  // DLE then a byte that is neither DLE, STX nor ETX: the frame is broken, its rest is not noise.
  framer.push(Buffer.concat([Buffer.from([0x10, 0x02, 0x93, 0x13, 0x10, 0x05, 0x01, 0x02, 0x03, 0x10, 0x03]), ok]));
  t.deepEqual(errors, ['garbage: DLE followed by 0x05 inside a frame']);
  t.deepEqual(got, [heading()]);
  errors.length = 0;
  framer.push(Buffer.alloc(600, 0x55));
  t.deepEqual(errors, ['garbage: 258 bytes outside any frame', 'garbage: 258 bytes outside any frame']);
  framer.push(ok);
  t.deepEqual(errors.slice(2), ['garbage: 84 bytes outside any frame']);
  t.is(got.length, 2);
});
