import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeltaBus } from '../../runtime/bus/bus.js';
import { SignalKModel } from '../../runtime/model/model.js';
import { PROJECT_ROOT, parseSettings } from '../../runtime/config/settings.js';
import { SettingsError } from '../../core/settings-reader.js';
import { createSource } from '../../hal/sources/table.js';
import type { HalDevices } from '../../hal/devices.js';
import { SerialPorts } from '../../hal/serial/ports.js';
import { parseCandumpLine } from '../../hal/can/candump.js';
import { decodeFrame, encodeFrame, FRAME_BYTES, parseId, pgnOf, type CanFrame } from '../../hal/can/frame.js';
import { CanInterfaces } from '../../hal/can/interfaces.js';
import { CanReplayDriver, type CanReplayOptions } from '../../hal/can/replay.js';
import { SocketCanDriver } from '../../hal/can/socketcan.js';
import { N2kCodec } from '../../hal/codecs/n2k/codec.js';
import { startTestRuntime } from '../helpers/runtime.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';

// Real recordings from the canboat project (see test/fixtures/can/README.md).
const LOG_L = join(PROJECT_ROOT, 'test', 'fixtures', 'can', 'candumpSample3.txt'); // candump -l, Raymarine bus
const LOG_PLAIN = join(PROJECT_ROOT, 'test', 'fixtures', 'can', 'candumpSample2.txt'); // plain candump, B&G bus
const URN = 'urn:mrn:signalk:uuid:6b0e4f0e-8f3a-4c1e-9d55-2f0c1a7e9b21';

function frameLines(file: string): string[] {
  return readFileSync(file, 'latin1')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '' && !l.startsWith('#'));
}

/** How many frames of the log carry `pgn`, counted from the raw ids (independent of the codec). */
function framesOf(file: string, pgns: number[]): number {
  return frameLines(file).filter((l) => {
    const id = /([0-9A-F]{8})[#\s]/.exec(l)?.[1];
    return id !== undefined && pgns.includes(pgnOf(parseInt(id, 16)));
  }).length;
}

function devices(can = new CanInterfaces()): HalDevices {
  return { serial: new SerialPorts(), can };
}

function pipeline(): { bus: DeltaBus; model: SignalKModel } {
  const bus = new DeltaBus(`vessels.${URN}`);
  const model = new SignalKModel(URN);
  bus.subscribe((m) => model.apply(m.delta));
  return { bus, model };
}

/** A replay driver that counts how often it was opened and closed. */
class CountingReplay extends CanReplayDriver {
  static opens = 0;
  static closes = 0;
  constructor(options: CanReplayOptions) {
    super(options);
  }
  override open(): void {
    CountingReplay.opens++;
    super.open();
  }
  override close(): Promise<void> {
    CountingReplay.closes++;
    return super.close();
  }
}

test('candump: the three formats parse to the same frame', (t) => {
  const expected = { id: 0x09f8012b, data: Uint8Array.from([0xf1, 0x2b, 0x6b, 0x1b, 0x8e, 0x5e, 0x36, 0xff]) };
  const log = parseCandumpLine('(1502984866.429139) slcan0 09F8012B#F12B6B1B8E5E36FF');
  const plain = parseCandumpLine('  can0  09F8012B   [8]  F1 2B 6B 1B 8E 5E 36 FF');
  const ta = parseCandumpLine(' (1502984866.429139)  can0  09F8012B   [8]  F1 2B 6B 1B 8E 5E 36 FF');
  const ascii = parseCandumpLine("  can0  09F8012B   [8]  F1 2B 6B 1B 8E 5E 36 FF   '.+k.^6.'");
  t.deepEqual(log, { kind: 'frame', iface: 'slcan0', frame: { ...expected, time: 1502984866429.139 } });
  t.deepEqual(plain, { kind: 'frame', iface: 'can0', frame: expected });
  t.deepEqual(ta, { kind: 'frame', iface: 'can0', frame: { ...expected, time: 1502984866429.139 } });
  t.deepEqual(ascii, { kind: 'frame', iface: 'can0', frame: expected });
  t.deepEqual(parseCandumpLine('(1502984866.1) can0 09F8012B#'), {
    kind: 'frame',
    iface: 'can0',
    frame: { id: 0x09f8012b, data: new Uint8Array(0), time: 1502984866100 },
  });
  t.deepEqual(parseCandumpLine(''), { kind: 'none' });
  t.deepEqual(parseCandumpLine('# candump sample with -l option.'), { kind: 'none' });
  // Every frame line of both real recordings parses.
  for (const file of [LOG_L, LOG_PLAIN]) {
    const bad = frameLines(file).filter((l) => parseCandumpLine(l).kind !== 'frame');
    t.deepEqual(bad, [], file);
  }
});

test('candump: malformed and unsupported lines say why, never throw', (t) => {
  const cases: [string, 'malformed' | 'unsupported', string][] = [
    ['hello world', 'malformed', 'CAN id "world" is not hex'],
    ['(1502984866.429139) can0', 'malformed', 'no CAN frame'],
    ['(yesterday) can0 09F8012B#00', 'malformed', 'timestamp "(yesterday)"'],
    ['(1502984866.429139) can0 09F8012#00', 'malformed', 'neither 3 nor 8 hex digits'],
    ['(1502984866.429139) can0 09F8012B#F12', 'malformed', 'odd number of hex digits'],
    ['(1502984866.429139) can0 09F8012B#F12B6B1B8E5E36FF00', 'malformed', '9 bytes, at most 8'],
    ['(1502984866.429139) can0 09F8012B#ZZ', 'malformed', 'not hex'],
    ['(1502984866.429139) can0 FFF8012B#00', 'unsupported', 'error frame'],
    ['  can0  09F8012B   [8]  F1 2B 6B', 'malformed', '[8] but only 3 data bytes'],
    ['  can0  09F8012B   [2]  F1 2B 6B', 'malformed', 'unexpected "6B"'],
    ['  can0  09F8012B   8  F1', 'malformed', 'expected a length like [8]'],
    ['  can0  09F8012B   [2]  F1 XY', 'malformed', '"XY" is not two hex digits'],
    ['(1502984866.429139) can0 123#0011', 'unsupported', '11-bit CAN id 123'],
    ['(1502984866.429139) can0 09F8012B#R', 'unsupported', 'remote request'],
    ['(1502984866.429139) can0 09F8012B##1001122', 'unsupported', 'CAN FD'],
    ['  can0  09F8012B   [12]  00 11 22 33 44 55 66 77 88 99 AA BB', 'unsupported', 'CAN FD'],
    ['  can0  123   [2]  00 11', 'unsupported', '11-bit'],
    ['  can0  09F8012B   [0]  remote request', 'unsupported', 'remote request'],
  ];
  for (const [line, reason, detail] of cases) {
    const r = parseCandumpLine(line);
    t.is(r.kind, 'error', line);
    if (r.kind !== 'error') continue;
    t.is(r.reason, reason, line);
    t.true(r.detail.includes(detail), `${line}: ${r.detail} should include ${detail}`);
  }
});

test('frame: ids split into PGN/source/destination (PDU1 and PDU2), 16-byte wire layout round-trips', (t) => {
  // From the recording: 129025 position (PDU2, global) and 126208 group function to 204 (PDU1).
  t.deepEqual(parseId(0x09f8012b), { pgn: 129025, src: 0x2b, dst: 255, prio: 2 });
  t.deepEqual(parseId(0x0dedcc00), { pgn: 126208, src: 0, dst: 0xcc, prio: 3 });
  const frame: CanFrame = { id: 0x09fd0274, data: Uint8Array.from([0x00, 0x82, 0x01, 0xf1, 0x64]) };
  const buf = new Uint8Array(3 * FRAME_BYTES).fill(0xaa);
  encodeFrame(frame, buf, FRAME_BYTES);
  t.deepEqual(
    [...buf.subarray(FRAME_BYTES, 2 * FRAME_BYTES)],
    [0x74, 0x02, 0xfd, 0x09, 5, 0, 0, 0, 0x00, 0x82, 0x01, 0xf1, 0x64, 0, 0, 0],
  );
  t.is(buf[FRAME_BYTES - 1], 0xaa, 'bytes before the frame untouched');
  t.is(buf[2 * FRAME_BYTES], 0xaa, 'bytes after the frame untouched');
  t.deepEqual(decodeFrame(buf, FRAME_BYTES), frame);
  const tooLong = buf.slice(FRAME_BYTES, 2 * FRAME_BYTES);
  tooLong[4] = 9;
  t.is(decodeFrame(tooLong, 0), undefined, 'length over 8');
  const wideId = buf.slice(FRAME_BYTES, 2 * FRAME_BYTES);
  wideId[3] = 0x20;
  t.is(decodeFrame(wideId, 0), undefined, 'id over 29 bits');
  t.is(decodeFrame(buf, 2 * FRAME_BYTES + 1), undefined, 'not 16 bytes left');
  t.throws(() => encodeFrame({ id: 1, data: new Uint8Array(9) }, buf, 0), { instanceOf: RangeError });
});

test('N2K replay: the recording reaches the model through CanInterfaces, the codec and the bus', async (t) => {
  const { bus, model } = pipeline();
  const source = await createSource(
    { id: 'n2k', type: 'can', interface: 'can0', driver: 'candump', file: LOG_L, rate: 'fast', loop: false },
    bus,
    devices(),
  );
  t.teardown(() => source.stop());
  source.start();
  await waitFor(() => source.status().state === 'ended', 'the replay to end');
  const status = source.status();
  t.is(status.lines, frameLines(LOG_L).length, 'every frame of the log decoded');
  t.deepEqual(status.errors, {});
  t.true(status.deltas > 1000, `${status.deltas} deltas`);
  // Three PGNs canboat has no definition for (proprietary 65384, 130916, 130919).
  t.is(status.skipped?.['unknown-pgn'], framesOf(LOG_L, [65384, 130916, 130919]));
  // Expected values are the last frame of each PGN in the log, decoded by hand:
  // 129025 34 2C 6B 1B | 2A 5E 36 FF: lat 0x1B6B2C34 × 1e-7, lon 0xFF365E2A (signed) × 1e-7
  t.deepEqual(model.valueAt('vessels.self', 'navigation.position')?.value, {
    latitude: 46.00085,
    longitude: -1.3214166,
  });
  // 127250 FF 76 5A ..: heading 0x5A76 × 1e-4 rad
  t.is(model.valueAt('vessels.self', 'navigation.headingMagnetic')?.value, 2.3158);
  // 129026 FF 00 00 00 03 00: COG 0, SOG 0x0003 × 0.01 m/s
  t.is(model.valueAt('vessels.self', 'navigation.speedOverGround')?.value, 0.03);
  t.is(model.valueAt('vessels.self', 'navigation.speedOverGround')?.pgn, 129026);
  // 128259 00 29 00 ..: speed through water 0x0029 × 0.01 m/s
  t.is(model.valueAt('vessels.self', 'navigation.speedThroughWater')?.value, 0.41);
  // 128267 00 CD 00 00 00 FF FF: depth 0xCD × 0.01 m, offset 0xFFFF (signed) × 0.001 m
  t.is(model.valueAt('vessels.self', 'environment.depth.belowTransducer')?.value, 2.05);
  t.is(model.valueAt('vessels.self', 'environment.depth.transducerToKeel')?.value, -0.001);
  // 130306 00 82 01 F1 64 FA: speed 0x0182 × 0.01 m/s, angle 0x64F1 × 1e-4 rad, reference 2 (apparent)
  t.is(model.valueAt('vessels.self', 'environment.wind.speedApparent')?.value, 3.86);
  t.is(model.valueAt('vessels.self', 'environment.wind.angleApparent')?.value, 2.5841);
  const depth = model.valueAt('vessels.self', 'environment.depth.belowTransducer');
  t.is(depth?.$source, 'n2k.116', '$source is <source id>.<N2K source address>');
  t.is(depth?.pgn, 128267);
});

test('fast-packet: multi-frame PGNs are reassembled (AIS static data, GNSS position) and sequence faults counted', async (t) => {
  const { bus, model } = pipeline();
  const can = new CanInterfaces();
  const ais = await createSource(
    { id: 'n2k', type: 'can', interface: 'n2k', driver: 'candump', file: LOG_L, rate: 'fast', loop: false },
    bus,
    devices(can),
  );
  const gnss = await createSource(
    { id: 'bg', type: 'can', interface: 'bg', driver: 'candump', file: LOG_PLAIN, rate: 'fast', loop: false },
    bus,
    devices(can),
  );
  t.teardown(() => Promise.all([ais.stop(), gnss.stop()]));
  ais.start();
  gnss.start();
  await waitFor(() => ais.status().state === 'ended' && gnss.status().state === 'ended', 'both replays to end');
  // 129794 AIS class A static data: 75 bytes in 11 frames.
  const ship = 'vessels.urn:mrn:imo:mmsi:229569000';
  t.deepEqual(model.valueAt(ship, 'design.length')?.value, { overall: 225 });
  t.is(model.valueAt(ship, 'navigation.destination.commonName')?.value, 'PEBGB');
  // 129029 GNSS position data: 43 bytes in 7 frames, from the plain-format log.
  const gnssPos = model.valueAt('vessels.self', 'navigation.gnss.antennaAltitude');
  t.is(gnssPos?.value, 63.29);
  t.is(gnssPos?.pgn, 129029);
  t.is(model.valueAt('vessels.self', 'navigation.gnss.type')?.value, 'Combined GPS/GLONASS');
  t.deepEqual(gnss.status().errors, {});
  // The plain log's last 127257 attitude, 00 FF 7F 9C 00 08 00 FF: yaw "not available" (NaN from
  // canboatjs) goes out as null, as signalk-server's JSON has it, instead of the bus refusing the
  // delta; pitch 0x009C and roll 0x0008 × 1e-4 rad.
  const attitude = new N2kCodec('bg').decode({
    id: 0x0df11980,
    data: Uint8Array.from([0x00, 0xff, 0x7f, 0x9c, 0x00, 0x08, 0x00, 0xff]),
  });
  t.like(attitude, {
    kind: 'delta',
    delta: {
      updates: [{ values: [{ path: 'navigation.attitude', value: { yaw: null, pitch: 0.0156, roll: 0.0008 } }] }],
    },
  });

  // Frame by frame: a message's frames are pending until the last; a frame out of sequence is an error.
  const frames = frameLines(LOG_L)
    .map((l) => parseCandumpLine(l))
    .flatMap((p) => (p.kind === 'frame' && pgnOf(p.frame.id) === 129794 ? [p.frame] : []));
  const first = frames.findIndex((f) => (f.data[0] & 0x1f) === 0);
  const message = frames.slice(first, first + 11);
  t.is(message.length, 11);
  const codec = new N2kCodec('t');
  t.deepEqual(
    message.slice(0, 10).map((f) => codec.decode(f).kind),
    Array<string>(10).fill('pending'),
  );
  const done = codec.decode(message[10]);
  t.is(done.kind, 'delta');
  t.is(done.kind === 'delta' ? done.delta.context : undefined, ship);
  t.is(codec.decode(message[0]).kind, 'pending');
  const skipped = codec.decode(message[2]);
  t.like(skipped, { kind: 'error', reason: 'fast-packet' });
});

test('runtime: a can source from settings serves the recording over the Signal K API and reports its status', async (t) => {
  const rt = await startTestRuntime({
    sources: [{ id: 'n2k', type: 'can', interface: 'can0', driver: 'candump', file: LOG_L, rate: 'fast', loop: false }],
  });
  t.teardown(() => rt.stop());
  const status = await waitFor(async () => {
    const body = (await (await fetch(`${rt.url}/edge/v1/status`)).json()) as {
      sources: { id: string; state: string; lines: number; errors: object }[];
    };
    const n2k = body.sources.find((s) => s.id === 'n2k');
    return n2k?.state === 'ended' ? n2k : undefined;
  }, 'the can source to end in /edge/v1/status');
  t.like(status, { type: 'can', lines: frameLines(LOG_L).length, errors: {} });
  const depth = (await (
    await fetch(`${rt.url}/signalk/v1/api/vessels/self/environment/depth/belowTransducer`)
  ).json()) as { value: number; $source: string };
  t.like(depth, { value: 2.05, $source: 'n2k.116' });
  t.deepEqual(rt.runtime.devices.can.list(), [{ iface: 'can0', users: 1, state: 'ended' }]);
  await rt.stop();
  t.deepEqual(rt.runtime.devices.can.list(), [], 'stopping the runtime released the interface');
});

test('one interface, two listeners with different PGN filters: each gets only its PGNs, the driver opens once', async (t) => {
  CountingReplay.opens = 0;
  CountingReplay.closes = 0;
  let made = 0;
  const can = new CanInterfaces();
  can.define('n2k', () => {
    made++;
    return new CountingReplay({ file: LOG_L, rate: 'fast', loop: false });
  });
  const a = can.acquire('n2k');
  const b = can.acquire('n2k');
  t.teardown(() => Promise.all([a.release(), b.release()]));
  const gotA: number[] = [];
  const gotB: number[] = [];
  a.onFrame((f) => gotA.push(pgnOf(f.id)), new Set([127250]));
  b.onFrame((f) => gotB.push(pgnOf(f.id)), new Set([130306, 128267]));
  await waitFor(() => a.state === 'ended', 'the replay to end');
  t.is(made, 1);
  t.is(CountingReplay.opens, 1);
  t.deepEqual(can.list(), [{ iface: 'n2k', users: 2, state: 'ended' }]);
  t.is(gotA.length, framesOf(LOG_L, [127250]));
  t.true(gotA.every((p) => p === 127250));
  t.is(gotB.length, framesOf(LOG_L, [130306, 128267]));
  t.deepEqual(new Set(gotB), new Set([130306, 128267]));
  await t.throwsAsync(a.send({ id: 0x09f8012b, data: new Uint8Array(8) }), {
    message: /log replay: frames cannot be sent/,
  });

  // The first release keeps the driver; the last closes it; a new acquire opens a fresh one.
  await a.release();
  t.is(CountingReplay.closes, 0);
  t.is(a.state, 'stopped');
  t.is(b.state, 'ended');
  t.throws(() => a.onFrame(() => {}), { message: /released lease/ });
  await b.release();
  t.is(CountingReplay.closes, 1);
  t.deepEqual(can.list(), []);
  const c = can.acquire('n2k');
  t.teardown(() => c.release());
  t.is(made, 2);
  t.is(CountingReplay.opens, 2);
  t.throws(() => can.define('n2k', () => new CountingReplay({ file: LOG_L, rate: 'fast', loop: false })), {
    message: /already defined/,
  });
});

test('replay: bad log lines are counted by reason, realtime follows the log, loop replays until stopped', async (t) => {
  const dir = tempDir(t, 'ske-can-');
  const file = join(dir, 'mixed.log');
  const good = frameLines(LOG_L).slice(0, 5);
  // Re-stamped 5 ms apart so the realtime replay takes a moment, not the recording's spacing.
  const stamped = good.map((l, i) => l.replace(/^\(\d+\.\d+\)/, `(1700000000.${String(i * 5000).padStart(6, '0')})`));
  writeFileSync(
    file,
    [stamped[0], 'garbage', stamped[1], '(1700000000.020000) can0 123#00', ...stamped.slice(2), '\x01\x02\x03'].join(
      '\n',
    ),
  );
  const { bus } = pipeline();
  const can = new CanInterfaces();
  const source = await createSource(
    { id: 'mixed', type: 'can', interface: 'can0', driver: 'candump', file, rate: 'realtime', loop: false },
    bus,
    devices(can),
  );
  t.teardown(() => source.stop());
  source.start();
  await waitFor(() => source.status().state === 'ended', 'the realtime replay to end');
  const status = source.status();
  t.is(status.lines, 5);
  t.deepEqual(status.errors, { malformed: 1, unsupported: 1, garbage: 1 });

  const missing = new CanReplayDriver({ file: join(dir, 'gone.log'), rate: 'fast', loop: false });
  missing.open();
  await waitFor(() => missing.state === 'ended', 'the replay of a missing file to end');
  t.regex(missing.lastError ?? '', /gone\.log: ENOENT/);

  const looped = new CanReplayDriver({ file: LOG_PLAIN, rate: 'fast', loop: true });
  t.teardown(() => looped.close());
  let n = 0;
  looped.onData(() => n++);
  looped.open();
  const perPass = frameLines(LOG_PLAIN).length;
  await waitFor(() => n > 3 * perPass, 'three passes of the log');
  t.is(looped.state, 'open');
  await looped.close();
  const after = n;
  await new Promise((r) => setTimeout(r, 50));
  t.is(n, after, 'no frame after close()');
  t.is(looped.state, 'stopped');
});

test('SocketCAN absent: clear error state, retries, no crash (this machine has no CAN interface)', async (t) => {
  // No such interface: found out from sysfs before any native code is loaded.
  const { bus } = pipeline();
  const source = await createSource({ id: 'bus', type: 'can', interface: 'can7', driver: 'socketcan' }, bus, devices());
  t.teardown(() => source.stop());
  source.start();
  const status = await waitFor(
    () => (source.status().state === 'reconnecting' ? source.status() : undefined),
    'the source to report the missing interface',
  );
  t.regex(status.lastError ?? '', /^no SocketCAN interface can7: interface absent; retry in \d+ ms$/);
  await source.stop();
  t.is(source.status().state, 'stopped');

  // An interface that exists but is no CAN interface: the CAN socket binding is loaded and refuses it.
  const lo = new SocketCanDriver({ iface: 'lo', retryMs: 10, maxRetryMs: 10_000 });
  t.teardown(() => lo.close());
  lo.open();
  await waitFor(() => lo.state === 'reconnecting', 'the driver to give up on lo');
  t.regex(lo.lastError ?? '', /^no SocketCAN interface lo: .+; retry in \d+ ms$/);
  t.notRegex(lo.lastError ?? '', /interface absent/);
  await t.throwsAsync(lo.send({ id: 0x09f8012b, data: new Uint8Array(8) }), { message: 'lo is not open' });
  // Retries keep failing cleanly.
  const first = lo.lastError;
  await waitFor(() => lo.lastError !== first, 'a second attempt');
  t.is(lo.state, 'reconnecting');
  await lo.close();
  t.is(lo.state, 'stopped');
});

test('settings: can sources parse, and errors name the bad key', (t) => {
  const dir = tempDir(t, 'ske-can-settings-');
  writeFileSync(join(dir, 'n2k.log'), '');
  const settingsFile = join(dir, 'settings.json');
  const s = parseSettings(
    {
      sources: [
        { id: 'bus', type: 'can', interface: 'can0' },
        { id: 'rec', type: 'can', interface: 'rec0', driver: 'candump', file: 'n2k.log', loop: true },
      ],
    },
    settingsFile,
  );
  t.deepEqual(s.sources, [
    { id: 'bus', type: 'can', interface: 'can0', driver: 'socketcan' },
    {
      id: 'rec',
      type: 'can',
      interface: 'rec0',
      driver: 'candump',
      file: join(dir, 'n2k.log'),
      rate: 'realtime',
      loop: true,
    },
  ]);
  const bad: [unknown, string][] = [
    [{ id: 'a', type: 'can' }, 'sources[0].interface: must be a non-empty string'],
    [{ id: 'a', type: 'can', interface: 'can0/x' }, 'sources[0].interface: must be an interface name'],
    [
      { id: 'a', type: 'can', interface: 'can0', driver: 'peak' },
      'sources[0].driver: must be one of socketcan, candump',
    ],
    [{ id: 'a', type: 'can', interface: 'can0', rate: 'fast' }, 'sources[0].rate: unknown key'],
    [{ id: 'a', type: 'can', interface: 'can0', driver: 'candump' }, 'sources[0].file: must be a non-empty string'],
    [
      { id: 'a', type: 'can', interface: 'can0', driver: 'candump', file: 'missing.log' },
      'sources[0].file: no such file',
    ],
    [
      { id: 'a', type: 'can', interface: 'can0', driver: 'candump', file: 'n2k.log', rate: 'slow' },
      'sources[0].rate: must be one of realtime, fast',
    ],
  ];
  for (const [source, msg] of bad) {
    const err = t.throws(() => parseSettings({ sources: [source] }, settingsFile), { instanceOf: SettingsError });
    t.true(err?.message.includes(msg), `${err?.message} should include ${msg}`);
  }
  const twice = t.throws(() =>
    parseSettings(
      {
        sources: [
          { id: 'a', type: 'can', interface: 'can0' },
          { id: 'b', type: 'can', interface: 'can0' },
        ],
      },
      settingsFile,
    ),
  );
  t.true(twice?.message.includes('sources[1].interface: can0 is already used by another source'), twice?.message);
});
