import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeltaBus } from '../../runtime/bus/bus.js';
import { SignalKModel } from '../../runtime/model/model.js';
import { DEMO_LOG, PROJECT_ROOT } from '../../runtime/config/settings.js';
import { createSource } from '../../hal/sources/table.js';
import { createDevices } from '../../hal/devices.js';
import { ReplayDriver, type ReplayOptions } from '../../hal/serial/replay.js';
import { waitFor } from '../helpers/wait.js';

const STAMPED = join(PROJECT_ROOT, 'test', 'fixtures', 'stamped.nmea');
const URN = 'urn:mrn:signalk:uuid:2c1e5d0a-4f6b-4a55-9a3e-0d8b4e6f7a11';

interface Heard {
  lines: string[];
  at: number[];
}

function recorder(options: ReplayOptions): { driver: ReplayDriver; heard: Heard } {
  const heard: Heard = { lines: [], at: [] };
  const driver = new ReplayDriver(options, {
    line: (l) => {
      heard.lines.push(l);
      heard.at.push(performance.now());
    },
    error: () => {},
  });
  return { driver, heard };
}

async function demoLines(): Promise<string[]> {
  return (await readFile(DEMO_LOG, 'latin1')).split(/\r?\n/).filter((l) => l !== '');
}

test('fast: the demo passage plays to the end through codec, bus and model, then state is ended', async (t) => {
  const bus = new DeltaBus(`vessels.${URN}`);
  const model = new SignalKModel(URN);
  bus.subscribe((m) => model.apply(m.delta));
  const source = await createSource(
    { id: 'demo', type: 'replay', file: DEMO_LOG, rate: 'fast', linesPerSecond: 1, loop: false },
    bus,
    createDevices(),
  );
  t.teardown(() => source.stop());
  source.start();
  await waitFor(() => source.status().state === 'ended', 'the replay to end');
  const lines = await demoLines();
  const status = source.status();
  t.is(status.lines, lines.length);
  t.is(status.deltas, lines.length - 3);
  t.deepEqual(status.errors, { checksum: 1, truncated: 1, garbage: 1 });
  t.is(model.valueAt('vessels.self', 'navigation.position')?.$source, 'demo.GP');
  t.is(typeof model.valueAt('vessels.self', 'environment.depth.belowTransducer')?.value, 'number');
});

test('realtime without stamps: lines are paced at linesPerSecond', async (t) => {
  const { driver, heard } = recorder({ file: DEMO_LOG, rate: 'realtime', linesPerSecond: 40, loop: false });
  t.teardown(() => driver.close());
  const start = performance.now();
  driver.open();
  await waitFor(() => heard.lines.length >= 12, '12 lines');
  await driver.close();
  const count = heard.lines.length;
  // Line i is due (i+1) × 25 ms after the start: it may come late, never early by more than timer granularity.
  heard.at.forEach((at, i) => t.true(at - start >= (i + 1) * 25 - 2, `line ${i} after ${(at - start).toFixed(1)} ms`));
  t.is(driver.state, 'stopped');
  await new Promise((r) => setTimeout(r, 100));
  t.is(heard.lines.length, count, 'no line after close()');
});

test('realtime with epoch-ms stamps: gaps follow the stamps (backwards = no wait), prefix removed', async (t) => {
  // linesPerSecond 1 would take 5 s between first and last line; the stamps say 1.3 s.
  const { driver, heard } = recorder({ file: STAMPED, rate: 'realtime', linesPerSecond: 1, loop: false });
  t.teardown(() => driver.close());
  const start = performance.now();
  driver.open();
  await waitFor(() => driver.state === 'ended', 'the stamped replay to end');
  t.is(heard.lines.length, 6);
  t.true(
    heard.lines.every((l) => l.startsWith('$II')),
    'stamp prefix removed',
  );
  // The first line waits 1/linesPerSecond (it has no previous stamp), the others their stamp gaps;
  // a line may come late, never early by more than timer granularity.
  const due = [0, 300, 300, 900, 900, 1300].map((x) => 1000 + x);
  heard.at.forEach((at, i) =>
    t.true(at - start >= due[i] - 2, `line ${i} at ${(at - start).toFixed(0)} ms, due at ${due[i]}`),
  );
  t.true(
    heard.at[5] - start < 5000,
    `stamps, not linesPerSecond (6 s), paced the log (${(heard.at[5] - start).toFixed(0)} ms)`,
  );
});

test('loop: the log starts over at its end and the state stays open until stopped', async (t) => {
  const { driver, heard } = recorder({ file: STAMPED, rate: 'fast', linesPerSecond: 1, loop: true });
  t.teardown(() => driver.close());
  driver.open();
  await waitFor(() => heard.lines.length >= 18, 'three passes');
  t.is(driver.state, 'open');
  t.deepEqual(heard.lines.slice(6, 12), heard.lines.slice(0, 6));
  await driver.close();
  t.is(driver.state, 'stopped');
});

test('fast replay of a long log yields to the event loop', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'skedge-replay-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'long.nmea');
  const text = (await demoLines()).join('\r\n') + '\r\n';
  await writeFile(file, text.repeat(100));
  let ticksWhilePlaying = 0;
  const { driver, heard } = recorder({ file, rate: 'fast', linesPerSecond: 1, loop: false });
  t.teardown(() => driver.close());
  const timer = setInterval(() => {
    if (driver.state !== 'ended') ticksWhilePlaying++;
  }, 1);
  driver.open();
  await waitFor(() => driver.state === 'ended', 'the long replay to end', 60_000);
  clearInterval(timer);
  t.is(heard.lines.length, (await demoLines()).length * 100);
  t.true(ticksWhilePlaying > 0, 'timers ran while the replay played');
});

test('a missing file ends the replay with an error instead of throwing', async (t) => {
  const { driver } = recorder({
    file: join(tmpdir(), 'no-such-log.nmea'),
    rate: 'fast',
    linesPerSecond: 1,
    loop: true,
  });
  driver.open();
  await waitFor(() => driver.state === 'ended', 'the replay to end');
  t.regex(driver.lastError ?? '', /no-such-log\.nmea: ENOENT/);
  await driver.close();
});
