import test from 'ava';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeltaBus } from '../../runtime/bus/bus.js';
import { SignalKModel } from '../../runtime/model/model.js';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';
import { createSource } from '../../hal/sources/table.js';
import { createDevices } from '../../hal/devices.js';
import { LineFramer, type FramingError } from '../../hal/framing.js';
import type { DataSource } from '../../hal/sources/source.js';
import { startPtyPair } from '../helpers/pty.js';
import { waitFor } from '../helpers/wait.js';

const FIXTURE = join(PROJECT_ROOT, 'test', 'fixtures', 'bad-input.nmea');
const URN = 'urn:mrn:signalk:uuid:6b0e776f-811a-4b35-980e-b93405371bc5';
const DEG = Math.PI / 180;

/** What test/fixtures/bad-input.nmea holds: 14 lines, 5 good, 1 unsupported, 8 bad in 4 ways. */
const EXPECTED = {
  lines: 11,
  deltas: 5,
  errors: { garbage: 2, overlong: 2, truncated: 3, checksum: 1 },
  skipped: { unsupported: 1 },
};

function pipeline(): { bus: DeltaBus; model: SignalKModel } {
  const bus = new DeltaBus(`vessels.${URN}`);
  const model = new SignalKModel(URN);
  bus.subscribe((m) => model.apply(m.delta));
  return { bus, model };
}

function num(model: SignalKModel, path: string): number {
  const v = model.valueAt('vessels.self', path)?.value;
  if (typeof v !== 'number') throw new Error(`${path} is ${JSON.stringify(v)}`);
  return v;
}

function assertGoodValues(t: import('ava').ExecutionContext, model: SignalKModel, label: string): void {
  t.deepEqual(model.valueAt('vessels.self', 'navigation.position')?.value, { latitude: 60.5, longitude: 24.5 });
  t.is(model.valueAt('vessels.self', 'navigation.position')?.$source, `${label}.GP`);
  t.true(Math.abs(num(model, 'environment.wind.angleApparent') - 45 * DEG) < 1e-6);
  t.true(Math.abs(num(model, 'environment.wind.speedApparent') - (12.5 * 1852) / 3600) < 1e-3);
  // 99.9 m from the line with the bad checksum never reached the model.
  t.is(num(model, 'environment.depth.belowTransducer'), 10.83);
  t.true(Math.abs(num(model, 'navigation.headingMagnetic') - 101.1 * DEG) < 1e-6);
}

test('framer: lines split across chunks, CR/LF/CRLF ends, overlong and binary-only lines', (t) => {
  const lines: string[] = [];
  const errors: FramingError[] = [];
  const framer = new LineFramer({ line: (l) => lines.push(l), error: (r) => errors.push(r) }, 20);
  const input = Buffer.from('$A,1*00\r\n$B,2*00\n\n$C,3*00\r' + 'x'.repeat(50) + '\r\n$D\x00,4*00');
  for (const byte of input) framer.push(Buffer.from([byte]));
  t.deepEqual(lines, ['$A,1*00', '$B,2*00', '$C,3*00'], 'the last line waits for its line end');
  framer.push(Buffer.from([0xff, 0x00, 0x0a]));
  t.deepEqual(lines, ['$A,1*00', '$B,2*00', '$C,3*00', '$D,4*00'], 'non-printable bytes are dropped from a line');
  t.deepEqual(errors, ['overlong']);
  framer.push(Buffer.from([0x80, 0x81, 0x0d, 0x0a]));
  t.deepEqual(errors, ['overlong', 'garbage']);
});

test('replayed log with bad input: good lines reach the model, bad ones are counted by reason', async (t) => {
  const { bus, model } = pipeline();
  const source = await createSource(
    { id: 'bad', type: 'replay', file: FIXTURE, rate: 'fast', linesPerSecond: 10, loop: false },
    bus,
    createDevices(),
  );
  source.start();
  await waitFor(() => source.status().state === 'ended', 'replay to end');
  const status = source.status();
  t.is(status.lines, EXPECTED.lines);
  t.is(status.deltas, EXPECTED.deltas);
  t.deepEqual(status.errors, EXPECTED.errors);
  t.deepEqual(status.skipped, EXPECTED.skipped);
  t.is(bus.stats.rejected, 0);
  assertGoodValues(t, model, 'bad');
  await source.stop();
  t.is(source.status().state, 'stopped');
});

test('the same bytes over a serial line (pty): same values, same counts', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'skedge-bad-'));
  const pty = await startPtyPair(join(dir, 'a'), join(dir, 'b'));
  const { bus, model } = pipeline();
  let source: DataSource | undefined;
  t.teardown(async () => {
    await source?.stop();
    await pty.stop();
    await rm(dir, { recursive: true, force: true });
  });
  source = await createSource({ id: 'ser', type: 'serial', device: pty.a, baudRate: 4800 }, bus, createDevices());
  source.start();
  await waitFor(() => source?.status().state === 'open', 'serial port open');
  const writer = await open(pty.b, 'w');
  try {
    await writer.write(await readFile(FIXTURE));
  } finally {
    await writer.close();
  }
  // The fixture's last line moves the position: once it shows, every line before it was read.
  await waitFor(() => {
    const pos = model.valueAt('vessels.self', 'navigation.position')?.value;
    return typeof pos === 'object' && pos !== null && 'latitude' in pos && pos.latitude === 60.5;
  }, "the fixture's last position over the pty");
  const status = source.status();
  t.is(status.lines, EXPECTED.lines);
  t.is(status.deltas, EXPECTED.deltas);
  t.deepEqual(status.errors, EXPECTED.errors);
  t.deepEqual(status.skipped, EXPECTED.skipped);
  assertGoodValues(t, model, 'ser');
});
