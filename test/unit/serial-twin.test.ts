// The serial source and a plugin's share of the same device, in memory: the driver seam's twin
// (test/helpers/serial-twin.ts) stands in for the device, so framing, decoding, counting, sharing,
// writing and unplugging are checked without a pseudo-terminal (test/integration/serial-pty.test.ts
// does the same over a real tty).

import test from 'ava';
import { withChecksum } from '../../hal/codecs/nmea0183/sentence.js';
import { CanInterfaces } from '../../hal/can/interfaces.js';
import { createSource } from '../../hal/sources/table.js';
import { DeltaBus } from '../../runtime/bus/bus.js';
import { SignalKModel } from '../../runtime/model/model.js';
import { twinPorts } from '../helpers/serial-twin.js';
import { waitFor } from '../helpers/wait.js';

const URN = 'urn:mrn:signalk:uuid:0b7a4e2c-5d1f-4f7e-9a41-3c2d1e0f9a88';
const DEVICE = '/dev/ttyTWIN0';

async function setup() {
  const bus = new DeltaBus(`vessels.${URN}`);
  const model = new SignalKModel(URN);
  bus.subscribe((m) => model.apply(m.delta));
  const { ports, twins } = twinPorts();
  const source = await createSource({ id: 'gps', type: 'serial', device: DEVICE, baudRate: 38400 }, bus, {
    serial: ports,
    can: new CanInterfaces(),
  });
  return { model, ports, twins, source };
}

test('a serial source over the twin: lines split across chunks are framed, decoded and counted; bad ones by reason', async (t) => {
  const { model, twins, source } = await setup();
  t.teardown(() => source.stop());
  source.start();
  const twin = twins.get(DEVICE)!;
  t.is(twin.baudRate, 38400, 'the source configured the rate');
  await waitFor(() => source.status().state === 'open', 'the twin to open');
  const dbt = withChecksum('$IIDBT,035.53,f,010.83,M,005.85,F');
  twin.feed(dbt.slice(0, 10));
  twin.feed(`${dbt.slice(10)}\r\n$IIDBT,035.53,f,010.83,M,005.85,F*00\r\n`);
  twin.feed(`${withChecksum('$IIMWV,045.0,R,12.5,N,A')}\n`);
  t.is(model.valueAt('vessels.self', 'environment.depth.belowTransducer')?.value, 10.83);
  t.is(model.valueAt('vessels.self', 'environment.depth.belowTransducer')?.$source, 'gps.II');
  t.like(source.status(), { lines: 3, deltas: 2, errors: { checksum: 1 } });
});

test('unplugged, a line cut short is flushed as truncated and the outage counted; plugged back, data flows again', async (t) => {
  const { model, twins, source } = await setup();
  t.teardown(() => source.stop());
  source.start();
  const twin = twins.get(DEVICE)!;
  await waitFor(() => twin.state === 'open', 'the twin to open');
  twin.feed('$IIDBT,035.5');
  twin.unplug();
  t.like(source.status(), { state: 'reconnecting', errors: { truncated: 1 } });
  t.regex(source.status().lastError ?? '', /no such device; retry in/);
  twin.plug();
  twin.feed(`${withChecksum('$IIDBT,010.00,f,003.05,M,001.67,F')}\r\n`);
  t.is(model.valueAt('vessels.self', 'environment.depth.belowTransducer')?.value, 3.05);
  t.like(source.status(), { state: 'open', outages: { count: 1 } });
});

test("a plugin sharing the source's device: one open, both see every byte, writes reach the device, the last release closes it", async (t) => {
  const { ports, twins, source } = await setup();
  source.start();
  const plugin = ports.acquire(DEVICE);
  const twin = twins.get(DEVICE)!;
  t.is(twin.opens, 1);
  await waitFor(() => twin.state === 'open', 'the twin to open');
  t.is(plugin.baudRate, 38400, 'the plugin gets the rate the source configured');
  const seen: Buffer[] = [];
  plugin.driver.onData((c) => seen.push(c));
  twin.feed(`${withChecksum('$IIMWV,045.0,R,12.5,N,A')}\r\n`);
  t.is(Buffer.concat(seen).toString('latin1'), `${withChecksum('$IIMWV,045.0,R,12.5,N,A')}\r\n`);
  t.is(source.status().deltas, 1);
  await plugin.driver.write('$PXYZ,1\r\n');
  t.deepEqual(
    twin.written.map((b) => b.toString('latin1')),
    ['$PXYZ,1\r\n'],
  );
  t.throws(() => ports.acquire(DEVICE, 4800), { message: /already open at 38400 baud/ });
  t.deepEqual(ports.list(), [{ device: DEVICE, baudRate: 38400, users: 2, state: 'open' }]);
  await source.stop();
  t.is(twin.state, 'open', 'still held by the plugin');
  await plugin.release();
  t.is(twin.state, 'stopped');
  t.deepEqual(ports.list(), []);
});
