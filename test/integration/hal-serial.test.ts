// Hardware in the loop over a pseudo-terminal: plugins read a serial device through the HAL only
// where the operator granted it; grants given or revoked while they run take effect at once; a
// device used by a source and a plugin is opened once.

import test from 'ava';
import { SerialPort } from 'serialport';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addGrant, removeGrant } from '../../runtime/capabilities/store.js';
import { EXAMPLES, FIXTURES, configurePlugin, pluginFolder, pluginStatus, selfValue } from '../helpers/plugins.js';
import { startPtyPair } from '../helpers/pty.js';
import { startTestRuntime, type TestRuntime } from '../helpers/runtime.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';

const PROPRIETARY = '_signalk-edge_nmea-proprietary';
const PROBE = '_signalk-edge-fixture_hal-serial-probe';

/** Garmin $PGRME (estimated position error: horizontal, vertical, spherical, metres), checksummed. */
function pgrme(hpe: number, vpe: number, epe: number): string {
  const body = `PGRME,${hpe.toFixed(1)},M,${vpe.toFixed(1)},M,${epe.toFixed(1)},M`;
  let sum = 0;
  for (const c of body) sum ^= c.charCodeAt(0);
  return `$${body}*${sum.toString(16).toUpperCase().padStart(2, '0')}\r\n`;
}

async function withPty(t: { teardown(fn: () => Promise<void>): void }, dir: string) {
  const pty = await startPtyPair(join(dir, 'gps'), join(dir, 'plugin'));
  t.teardown(() => pty.stop());
  return pty;
}

test('the example plugin, granted the pty, parses $PGRME into deltas; ungranted it gets the error and opens nothing', async (t) => {
  const dir = tempDir(t, 'ske-hil-');
  const pty = await withPty(t, dir);
  const plugins = await pluginFolder([{ from: EXAMPLES, name: 'nmea-proprietary' }]);

  // Without a grant.
  const deniedData = tempDir(t, 'ske-hil-data-');
  configurePlugin(deniedData, PROPRIETARY, { device: pty.b, baudRate: 4800 });
  const denied = await startTestRuntime({ pluginDirs: [plugins], dataDir: deniedData });
  t.teardown(() => denied.stop());
  const status = await waitFor(async () => {
    const s = await pluginStatus(denied.runtime, PROPRIETARY);
    return (s.capabilities as { denied: unknown[] }).denied.length > 0 ? s : undefined;
  }, 'denial in the plugin status');
  t.is(status.state, 'running');
  t.regex(status.errorMessage ?? '', /serial_open denied: serial:.*plugin is not granted/);
  t.like((status.capabilities as { denied: { capability: string }[] }).denied[0], { capability: `serial:${pty.b}` });
  t.deepEqual(denied.runtime.devices.serial.list(), [], 'nothing opened');
  await denied.stop();

  // With the grant (settings), through a board-free path.
  const data = tempDir(t, 'ske-hil-data-');
  configurePlugin(data, PROPRIETARY, { device: pty.b, baudRate: 4800 });
  const granted = await startTestRuntime({
    pluginDirs: [plugins],
    dataDir: data,
    grants: { '*': ['dataRead', 'dataWrite'], [PROPRIETARY]: [`serial:${pty.b}`] },
  });
  t.teardown(() => granted.stop());
  await waitFor(
    () => granted.runtime.devices.serial.list().some((d) => d.device === pty.b && d.state === 'open'),
    'plugin opens the pty',
  );
  writeFileSync(pty.a, `$GPGGA,garbage*00\r\n${pgrme(3.1, 4.2, 5.3)}`);
  await waitFor(
    () => selfValue(granted.runtime, 'navigation.gnss.estimatedHorizontalError') !== undefined,
    'PGRME delta in the model',
  );
  t.is(selfValue(granted.runtime, 'navigation.gnss.estimatedHorizontalError'), 3.1);
  t.is(selfValue(granted.runtime, 'navigation.gnss.estimatedVerticalError'), 4.2);
  const after = await pluginStatus(granted.runtime, PROPRIETARY);
  t.deepEqual((after.capabilities as { denied: unknown[] }).denied, []);
  t.like((after.hal as { kind: string; target: string }[])[0], { kind: 'serial', target: pty.b });
});

test('grant and revoke at run time change what a running plugin may do', async (t) => {
  const dir = tempDir(t, 'ske-hil-');
  const pty = await withPty(t, dir);
  const plugins = await pluginFolder([{ from: EXAMPLES, name: 'nmea-proprietary' }]);
  const data = tempDir(t, 'ske-hil-data-');
  configurePlugin(data, PROPRIETARY, { device: pty.b });
  const rt: TestRuntime = await startTestRuntime({ pluginDirs: [plugins], dataDir: data });
  t.teardown(() => rt.stop());
  await waitFor(
    async () => ((await pluginStatus(rt.runtime, PROPRIETARY)).capabilities as { denied: unknown[] }).denied.length > 0,
    'denied before the grant',
  );

  // Granted while running: the plugin's next attempt (it retries each poll) opens the device.
  addGrant(data, PROPRIETARY, `serial:${pty.b}`);
  await waitFor(
    () => rt.runtime.devices.serial.list().some((d) => d.device === pty.b && d.state === 'open'),
    'open after the grant, no restart',
  );
  writeFileSync(pty.a, pgrme(1.5, 2.5, 3.5));
  await waitFor(
    () => selfValue(rt.runtime, 'navigation.gnss.estimatedHorizontalError') === 1.5,
    'read after the grant',
  );
  const running = await pluginStatus(rt.runtime, PROPRIETARY);
  t.is(running.restarts, 0);
  t.deepEqual((running.capabilities as { denied: unknown[] }).denied, [], 'old denials cleared by the grant');

  // Revoked while running: the open handle is closed at once and the device released.
  removeGrant(data, PROPRIETARY, `serial:${pty.b}`);
  await waitFor(() => rt.runtime.devices.serial.list().length === 0, 'device closed after the revoke');
  const status = await pluginStatus(rt.runtime, PROPRIETARY);
  t.deepEqual(status.hal, []);
  t.false((status.capabilities as { effective: string[] }).effective.some((c) => c.startsWith('serial:')));
  await waitFor(
    async () => ((await pluginStatus(rt.runtime, PROPRIETARY)).capabilities as { denied: unknown[] }).denied.length > 0,
    'its retries are denied again',
  );
  t.is(selfValue(rt.runtime, 'navigation.gnss.estimatedHorizontalError'), 1.5, 'nothing read after the revoke');
});

test('a device used by a source and a plugin is opened once; a write needs a write grant', async (t) => {
  const dir = tempDir(t, 'ske-hil-');
  const pty = await withPty(t, dir);
  const plugins = await pluginFolder([{ from: FIXTURES, name: 'hal-serial-probe' }]);
  const data = tempDir(t, 'ske-hil-data-');
  configurePlugin(data, PROBE, { device: pty.b, mode: 3, write: 'ping\r\n' });
  const rt = await startTestRuntime({
    pluginDirs: [plugins],
    dataDir: data,
    sources: [{ id: 'nmea', type: 'serial', device: pty.b, baudRate: 4800 }],
    grants: { '*': ['dataRead', 'dataWrite'], [PROBE]: [`serial:${pty.b}`] },
  });
  t.teardown(() => rt.stop());
  await waitFor(() => selfValue(rt.runtime, 'test.serial.open') !== undefined, 'probe start');
  t.is(selfValue(rt.runtime, 'test.serial.open'), -2, 'read-only grant: opening for write is denied');

  addGrant(data, PROBE, `serial:${pty.b}:write`);
  await waitFor(
    async () => ((await pluginStatus(rt.runtime, PROBE)).events ?? []).some((e) => e.event === 'grants changed'),
    'grant applied',
  );
  const peer = new SerialPort({ path: pty.a, baudRate: 4800 });
  t.teardown(() => new Promise<void>((resolve) => (peer.isOpen ? peer.close(() => resolve()) : resolve())));
  let received = '';
  peer.on('data', (c: Buffer) => (received += c.toString('latin1')));
  await new Promise<void>((resolve, reject) => peer.once('open', resolve).once('error', reject));
  await fetch(`${rt.url}/plugins/${PROBE}/restart`, { method: 'POST' });
  await waitFor(() => Number(selfValue(rt.runtime, 'test.serial.open')) > 0, 'open for write');
  t.is(selfValue(rt.runtime, 'test.serial.write'), 6);
  await waitFor(() => received.includes('ping\r\n'), 'the write reaches the other end');
  t.deepEqual(
    rt.runtime.devices.serial.list().map((d) => ({ device: d.device, users: d.users })),
    [{ device: pty.b, users: 2 }],
    'one open device, two users',
  );
  // Both users get every line.
  peer.write('$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\r\n');
  await waitFor(() => selfValue(rt.runtime, 'navigation.speedOverGround') !== undefined, 'source decoded the line');
  await waitFor(
    () => String(selfValue(rt.runtime, 'test.serial.last')).startsWith('$GPRMC'),
    'plugin read the same line',
  );

  // A stopped plugin's handles are closed: the source keeps the device open alone.
  await fetch(`${rt.url}/plugins/${PROBE}/disable`, { method: 'POST' });
  await waitFor(() => rt.runtime.devices.serial.list()[0]?.users === 1, 'the plugin let go of the device');
  t.is(rt.runtime.devices.serial.list()[0]?.state, 'open');
});
