// Plugins on CAN and MQTT through the HAL, under grants: a PGN filter granted on can0 lets only
// those frames of a candump replay through; an MQTT grant of `boat/+/temp` lets a plugin subscribe
// there (real aedes broker on 127.0.0.1) and denies `#`.

import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { parseCandumpLine } from '../../hal/can/candump.js';
import { pgnOf } from '../../hal/can/frame.js';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';
import { startBroker } from '../helpers/mqtt-broker.js';
import { FIXTURES, configurePlugin, pluginFolder, pluginStatus, selfValue } from '../helpers/plugins.js';
import { startTestRuntime } from '../helpers/runtime.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';

const CAN_READER = '_signalk-edge-fixture_hal-can-reader';
const MQTT_PROBE = '_signalk-edge-fixture_hal-mqtt-probe';
const RECORDING = join(PROJECT_ROOT, 'test', 'fixtures', 'can', 'candumpSample3.txt');
const DATA_GRANTS = ['dataRead', 'dataWrite'];

/** Frames per PGN in the recording, counted from the raw candump lines. */
function framesPerPgn(): Map<number, number> {
  const counts = new Map<number, number>();
  for (const line of readFileSync(RECORDING, 'utf8').split('\n')) {
    const parsed = parseCandumpLine(line);
    if (parsed.kind === 'frame') counts.set(pgnOf(parsed.frame.id), (counts.get(pgnOf(parsed.frame.id)) ?? 0) + 1);
  }
  return counts;
}

test('a plugin granted can0 with a PGN filter receives only those frames of a candump replay', async (t) => {
  const expected = framesPerPgn();
  const [heading, position] = [127250, 129025];
  t.true((expected.get(heading) ?? 0) > 0 && (expected.get(position) ?? 0) > 0, 'the recording has both PGNs');
  const plugins = await pluginFolder([{ from: FIXTURES, name: 'hal-can-reader' }]);
  const dataDir = tempDir(t, 'ske-can-plugin-');
  configurePlugin(dataDir, CAN_READER, { interface: 'can0', send: [{ pgn: 59904, data: [0x14, 0xf0, 0x01] }] });
  const rt = await startTestRuntime({
    dataDir,
    pluginDirs: [plugins],
    sources: [
      { id: 'n2k', type: 'can', interface: 'can0', driver: 'candump', file: RECORDING, rate: 'fast', loop: false },
    ],
    grants: { '*': DATA_GRANTS, [CAN_READER]: [`can:can0:${heading},${position}`] },
  });
  t.teardown(() => rt.stop());

  await waitFor(() => rt.runtime.sources[0]?.status().state === 'ended', 'replay ends');
  await waitFor(
    () => selfValue(rt.runtime, `test.can.pgn${position}.count`) === expected.get(position),
    `all ${expected.get(position)} position frames`,
  );
  t.is(selfValue(rt.runtime, `test.can.pgn${heading}.count`), expected.get(heading));
  const seen = Object.keys(
    (rt.runtime.model.get([...rt.runtime.model.selfContext.split('.'), 'test', 'can']) ?? {}) as Record<
      string,
      unknown
    >,
  ).filter((k) => k.startsWith('pgn'));
  t.deepEqual(seen.sort(), [`pgn${heading}`, `pgn${position}`], 'no other PGN reached the plugin');
  // The N2K data went into the model through the source at the same time.
  t.truthy(selfValue(rt.runtime, 'navigation.position'));
  // Sending was not granted: the call gets the error code and the status says why.
  t.is(selfValue(rt.runtime, 'test.can.send.0'), -2);
  const status = await pluginStatus(rt.runtime, CAN_READER);
  t.like((status.capabilities as { denied: { capability: string }[] }).denied[0], { capability: 'can:can0:write' });
  t.deepEqual((status.capabilities as { effective: string[] }).effective, [
    'dataRead',
    'dataWrite',
    `can:can0:${heading},${position}`,
  ]);
});

test('a plugin without a CAN grant is refused and opens nothing', async (t) => {
  const plugins = await pluginFolder([{ from: FIXTURES, name: 'hal-can-reader' }]);
  const dataDir = tempDir(t, 'ske-can-plugin-');
  configurePlugin(dataDir, CAN_READER, { interface: 'can0', pgns: [129025] });
  const rt = await startTestRuntime({
    dataDir,
    pluginDirs: [plugins],
    grants: { '*': DATA_GRANTS, [CAN_READER]: ['can:can0:127250'] },
  });
  t.teardown(() => rt.stop());
  await waitFor(() => selfValue(rt.runtime, 'test.can.open') !== undefined, 'plugin start');
  t.is(selfValue(rt.runtime, 'test.can.open'), -2, 'PGN 129025 is outside the grant');
  t.deepEqual(rt.runtime.devices.can.list(), [], 'no interface opened');
});

test('MQTT: a plugin granted boat/+/temp subscribes there, is denied #, and publishes only where granted', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.close());
  const plugins = await pluginFolder([{ from: FIXTURES, name: 'hal-mqtt-probe' }]);
  const dataDir = tempDir(t, 'ske-mqtt-plugin-');
  configurePlugin(dataDir, MQTT_PROBE, {
    subscribe: ['boat/+/temp', '#'],
    publish: [
      { topic: 'boat/probe/status', payload: 'up', qos: 1 },
      { topic: 'elsewhere/status', payload: 'nope', qos: 1 },
    ],
  });
  const watcher = await mqtt.connectAsync(broker.url);
  t.teardown(() => watcher.endAsync());
  const seen: string[] = [];
  watcher.on('message', (topic, payload) => seen.push(`${topic}=${payload.toString()}`));
  await watcher.subscribeAsync('#');

  const rt = await startTestRuntime({
    dataDir,
    pluginDirs: [plugins],
    mqtt: { url: broker.url, publish: [], subscribe: [] },
    grants: { '*': DATA_GRANTS, [MQTT_PROBE]: ['mqtt:subscribe:boat/+/temp', 'mqtt:publish:boat/probe/#'] },
  });
  t.teardown(() => rt.stop());
  await waitFor(() => selfValue(rt.runtime, 'test.mqtt.subscribe.1') !== undefined, 'probe start');
  t.true(Number(selfValue(rt.runtime, 'test.mqtt.subscribe.0')) > 0, 'boat/+/temp granted');
  t.is(selfValue(rt.runtime, 'test.mqtt.subscribe.1'), -2, '# denied');
  t.is(selfValue(rt.runtime, 'test.mqtt.publish.1'), -2, 'publishing outside boat/probe/# denied');
  await waitFor(() => seen.includes('boat/probe/status=up'), 'the granted publish reaches the broker');
  t.false(seen.some((s) => s.startsWith('elsewhere/')));

  await waitFor(() => rt.runtime.mqtt?.state === 'connected', 'runtime connected');
  await watcher.publishAsync('boat/other', 'not for the plugin');
  await watcher.publishAsync('boat/engine/temp', '81.5');
  await waitFor(() => selfValue(rt.runtime, 'test.mqtt.last') !== undefined, 'message delivered to the plugin');
  t.deepEqual(selfValue(rt.runtime, 'test.mqtt.last'), { topic: 'boat/engine/temp', payload: '81.5' });

  const status = await pluginStatus(rt.runtime, MQTT_PROBE);
  const denied = (status.capabilities as { denied: { capability: string }[] }).denied.map((d) => d.capability).sort();
  t.deepEqual(denied, ['mqtt:publish:elsewhere/status', 'mqtt:subscribe:#']);
  t.like((status.hal as { kind: string; target: string }[])[0], { kind: 'mqtt', target: 'boat/+/temp' });
});
