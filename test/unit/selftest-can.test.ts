// The CAN self-test's SocketCAN branch over a bus twin behind the driver's seams: what `--can
// IFACE` does on a board (a second socket sends, the source and the plugin's filtered handle
// receive), checked without kernel CAN. The candump-replay twin is covered by
// test/integration/selftest.test.ts through the CLI.

import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDevices } from '../../hal/devices.js';
import { checkCan, type CanCheckOptions } from '../../runtime/selftest/can.js';
import { canBusTwin, fakeSysfs } from '../helpers/can-bus-twin.js';
import { tempDir } from '../helpers/temp.js';

/** One bus for every socket of a test (the sender's and the receiving driver's). */
function bus(acked: boolean) {
  const twin = canBusTwin({ acked });
  return async () => twin;
}

/** The SocketCAN branch (not the candump twin), with a fresh device registry. */
function checkSocketCan(options: Omit<CanCheckOptions, 'twin' | 'devices'>) {
  return checkCan({ ...options, twin: false, devices: createDevices() });
}

test('loopback or a second node: every frame comes back, fast-packet reassembled, the plugin sees only its granted PGNs', async (t) => {
  const sysfs = fakeSysfs(tempDir(t, 'ske-sysfs-'), 'can0', 'up', true);
  const r = await checkSocketCan({
    iface: 'can0',
    rounds: 5,
    socketcan: { sysfs, binding: bus(true) },
  });
  t.is(r.outcome, 'pass', r.message);
  t.deepEqual(r.devices, [{ name: 'can0', kind: 'hardware' }]);
  t.like(r.figures, {
    framesSent: 45,
    sourceFramesReceived: 45,
    sourceDeltas: 15,
    fastPacketDeltas: 5,
    pluginFramesExpected: 40,
    pluginFramesReceived: 40,
    pluginFramesOutsideGrant: 0,
    filterEnforced: true,
  });
  t.regex(r.message, /45 frames \(15 messages, 5 fast-packet\) sent; source 45 received, 15 decoded, 0 errors/);
});

test('a bus where nobody acknowledges: fails, saying to use loopback mode or a second node', async (t) => {
  const sysfs = fakeSysfs(tempDir(t, 'ske-sysfs-'), 'can0', 'up', true);
  const r = await checkSocketCan({
    iface: 'can0',
    rounds: 2,
    socketcan: { sysfs, binding: bus(false) },
    receiveTimeoutMs: 300,
  });
  t.is(r.outcome, 'fail');
  t.regex(
    r.message,
    /source read 0\/18 frames.*nothing came back: put can0 in loopback mode \(ip link set can0 type can loopback on\) or connect a second node/,
  );
});

test('an interface that is down fails with the command to bring it up; an absent one is skipped; a non-CAN one fails; a vcan is named a twin', async (t) => {
  const dir = tempDir(t, 'ske-sysfs-');
  const binding = bus(true);
  const down = await checkSocketCan({
    iface: 'can1',
    rounds: 1,
    socketcan: { sysfs: fakeSysfs(dir, 'can1', 'down', true), binding },
  });
  t.like(down, {
    outcome: 'fail',
    message: 'can1 is down: ip link set can1 up type can bitrate 250000 (add "loopback on" with no other node)',
  });
  const absent = await checkSocketCan({
    iface: 'can7',
    rounds: 1,
    socketcan: { sysfs: dir, binding },
  });
  t.is(absent.outcome, 'skip');
  t.regex(absent.message, /^hardware absent: no CAN interface can7/);
  mkdirSync(join(dir, 'eth0'));
  writeFileSync(join(dir, 'eth0', 'type'), '1\n');
  writeFileSync(join(dir, 'eth0', 'operstate'), 'up\n');
  const ethernet = await checkSocketCan({
    iface: 'eth0',
    rounds: 1,
    socketcan: { sysfs: dir, binding },
  });
  t.like(ethernet, { outcome: 'fail', message: 'eth0 is not a CAN interface (link type 1)' });
  const vcan = await checkSocketCan({
    iface: 'vcan0',
    rounds: 1,
    socketcan: { sysfs: fakeSysfs(dir, 'vcan0', 'up', false), binding },
  });
  t.is(vcan.outcome, 'pass', vcan.message);
  t.like(vcan.devices[0], { name: 'vcan0', kind: 'twin' });
});
