import test from 'ava';
import { readdirSync, readlinkSync } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRuntime, type Runtime } from '../../runtime/app.js';
import type { Settings } from '../../runtime/config/settings.js';
import { withChecksum } from '../../hal/codecs/nmea0183/sentence.js';
import { DeltaBus } from '../../runtime/bus/bus.js';
import { createSource } from '../../hal/sources/table.js';
import { createDevices } from '../../hal/devices.js';
import { Backoff } from '../../core/backoff.js';
import { SerialDriver } from '../../hal/serial/serial-port.js';
import { startPtyPair, type PtyPair } from '../helpers/pty.js';
import { waitFor } from '../helpers/wait.js';

const DEG = Math.PI / 180;

function rmc(time: string, lat: string, lon: string): string {
  return withChecksum(`$GPRMC,${time},A,${lat},N,${lon},E,5.2,090.0,150624,,`) + '\r\n';
}

/** Writes NMEA text into the far end of the cable. */
async function send(end: FileHandle, text: string): Promise<void> {
  await end.write(Buffer.from(text, 'latin1'));
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
  return res.json();
}

function positionIs(runtime: Runtime, latitude: number, longitude: number): boolean {
  const v = runtime.model.valueAt('vessels.self', 'navigation.position')?.value;
  return (
    typeof v === 'object' && v !== null && !Array.isArray(v) && v.latitude === latitude && v.longitude === longitude
  );
}

test('serial source over a pty: sentences reach the model and REST, and the driver reconnects after the device goes away', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'skedge-serial-'));
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  let pty: PtyPair | undefined = await startPtyPair(a, b);
  let far: FileHandle | undefined;
  let runtime: Runtime | undefined;
  t.teardown(async () => {
    await far?.close();
    await runtime?.stop();
    await pty?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const settings: Settings = {
    port: 0,
    host: '127.0.0.1',
    dataDir: join(dir, 'data'),
    sources: [{ id: 'nmea1', type: 'serial', device: a, baudRate: 4800 }],
    plugins: { dirs: [], watch: false },
  };
  runtime = await startRuntime(settings);
  const rt = runtime;
  const source = rt.sources[0];
  await waitFor(() => source.status().state === 'open', 'the serial port to open');

  far = await open(b, 'r+');
  await send(
    far,
    rmc('101500.00', '5946.1995', '02418.0026') +
      withChecksum('$IIMWV,045.0,R,12.5,N,A') +
      '\r\n' +
      withChecksum('$IIDBT,035.53,f,010.83,M,005.85,F') +
      '\r\n',
  );
  await waitFor(() => positionIs(rt, 59 + 46.1995 / 60, 24 + 18.0026 / 60), 'the first position in the model');
  await waitFor(() => rt.model.valueAt('vessels.self', 'environment.depth.belowTransducer'), 'depth in the model');
  t.is(rt.model.valueAt('vessels.self', 'navigation.position')?.$source, 'nmea1.GP');
  t.true(Math.abs(Number(rt.model.valueAt('vessels.self', 'environment.wind.angleApparent')?.value) - 45 * DEG) < 1e-6);

  const api = `${rt.api.url}/signalk/v1/api/vessels/self`;
  t.like(await getJson(`${api}/navigation/position`), {
    value: { latitude: 59 + 46.1995 / 60, longitude: 24 + 18.0026 / 60 },
    $source: 'nmea1.GP',
  });
  t.like(await getJson(`${api}/environment/depth/belowTransducer`), { value: 10.83, $source: 'nmea1.II' });
  t.like(source.status(), { state: 'open', lines: 3, deltas: 3 });
  t.deepEqual(source.status().errors, {});

  // Unplug: the pty pair goes away with both ends; the driver notices and retries with backoff.
  await far.close();
  far = undefined;
  await pty.stop();
  pty = undefined;
  await waitFor(() => source.status().state === 'reconnecting', 'the source to notice the lost device');
  await waitFor(() => /retry in \d+ ms/.test(source.status().lastError ?? ''), 'the pending retry in the status');

  // Plug back in under the same name: data flows again without touching the runtime.
  pty = await startPtyPair(a, b);
  await waitFor(() => source.status().state === 'open', 'the serial port to reopen', 40_000);
  far = await open(b, 'r+');
  await send(far, rmc('101510.00', '5947.0000', '02419.0000'));
  await waitFor(() => positionIs(rt, 59 + 47 / 60, 24 + 19 / 60), 'the position sent after reconnecting');
  t.like(await getJson(`${api}/navigation/position`), { value: { latitude: 59 + 47 / 60, longitude: 24 + 19 / 60 } });
  t.is(source.status().lastError, undefined);
  t.is(source.status().deltas, 4);
});

test('backoff doubles from its base up to its cap, and starts over after a reset', (t) => {
  const b = new Backoff(500, 30_000);
  t.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 8].map(() => b.next()),
    [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000],
  );
  b.reset();
  t.is(b.next(), 500);
});

test('a device absent at start is retried until it appears; stop() cancels the retry', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'skedge-absent-'));
  let pty: PtyPair | undefined;
  const source = await createSource(
    { id: 'late', type: 'serial', device: join(dir, 'a'), baudRate: 4800 },
    new DeltaBus('vessels.urn:mrn:imo:mmsi:230000001'),
    createDevices(),
  );
  t.teardown(async () => {
    await source.stop();
    await pty?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  source.start();
  await waitFor(() => source.status().state === 'reconnecting', 'the first failed open');
  t.regex(source.status().lastError ?? '', /No such file or directory.*retry in \d+ ms/);
  pty = await startPtyPair(join(dir, 'a'), join(dir, 'b'));
  await waitFor(() => source.status().state === 'open', 'the device to be found', 40_000);
  await source.stop();
  t.is(source.status().state, 'stopped');

  // Stopping while a retry is pending leaves no timer behind (ava would wait for it otherwise).
  const gone = await createSource(
    { id: 'gone', type: 'serial', device: join(dir, 'never'), baudRate: 4800 },
    new DeltaBus('vessels.urn:mrn:imo:mmsi:230000001'),
    createDevices(),
  );
  gone.start();
  await waitFor(() => gone.status().state === 'reconnecting', 'the failed open');
  await gone.stop();
  t.is(gone.status().state, 'stopped');
});

test('the driver writes to the device (for plugins granted the port)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'skedge-write-'));
  const pty = await startPtyPair(join(dir, 'a'), join(dir, 'b'));
  const driver = new SerialDriver({ path: pty.a, baudRate: 38400 });
  // The far end is read with a second driver: a blocking fs read on a tty would pin a libuv thread.
  const far = new SerialDriver({ path: pty.b, baudRate: 38400 });
  t.teardown(async () => {
    await far.close();
    await driver.close();
    await pty.stop();
    await rm(dir, { recursive: true, force: true });
  });
  await t.throwsAsync(driver.write('too early'), { message: /not open/ });
  let got = '';
  far.onData((chunk) => (got += chunk.toString('latin1')));
  driver.open();
  far.open();
  await waitFor(() => driver.state === 'open' && far.state === 'open', 'both ends to open');
  const line = withChecksum('$ECAPB,A,A,0.10,R,N,V,V,011,M,DEST,011,M,011,M') + '\r\n';
  await driver.write(line);
  await waitFor(() => got === line, 'the written sentence at the far end');
  t.is(got, line);
});

/** This process's descriptors on pseudo-terminals (slaves /dev/pts/N, masters /dev/ptmx). */
function ptyDescriptors(): string[] {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith('/dev/pts/') || target === '/dev/ptmx' ? [`${fd} → ${target}`] : [];
    } catch {
      return []; // closed since the listing
    }
  });
}

// Serial, so no other test of this file has a pty open meanwhile (ava runs serial tests first);
// only descriptors on ptys are counted, not those Node or libuv open for themselves on first use.
test.serial(
  'the driver reads every byte in order and leaves no descriptor open: after a lost device and after close',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'skedge-fds-'));
    const fds = (): number => ptyDescriptors().length;
    const baseline = fds();
    let pty: PtyPair | undefined = await startPtyPair(join(dir, 'a'), join(dir, 'b'));
    const driver = new SerialDriver({ path: pty.a, baudRate: 38400 });
    const far = new SerialDriver({ path: pty.b, baudRate: 38400 });
    t.teardown(async () => {
      await far.close();
      await driver.close();
      await pty?.stop();
      await rm(dir, { recursive: true, force: true });
    });
    let got = '';
    driver.onData((chunk) => (got += chunk.toString('latin1')));
    driver.open();
    far.open();
    await waitFor(() => driver.state === 'open' && far.state === 'open', 'both ends to open');
    const lines = Array.from({ length: 50 }, (_, i) => withChecksum(`$IIDBT,${i}.0,f,${i}.0,M,${i}.0,F`) + '\r\n');
    for (const line of lines) await far.write(line);
    await waitFor(() => got === lines.join(''), 'every byte at the reading end, in order');

    // The device goes away: both ends notice, and what they held is closed while they retry.
    await pty.stop();
    pty = undefined;
    await waitFor(() => driver.state === 'reconnecting' && far.state === 'reconnecting', 'both ends to notice');
    await waitFor(() => fds() === baseline, 'pty descriptors back to the baseline while retrying').catch(() =>
      t.fail(`pty descriptors left open while retrying: ${ptyDescriptors().join(', ')} (baseline ${baseline})`),
    );
    await driver.close();
    await far.close();
    t.deepEqual(ptyDescriptors().length, baseline);
  },
);
