// The Rust SDK (sdk/rust) and its example plugin examples/depth-watch-rust, built from source by
// `npm run build` with Debian's rustc/cargo and wasm32-wasi standard library, running in a real
// runtime: start with its configuration, deltas in, a notification and values out, a PUT over
// HTTP, and its VFS state across a runtime restart; the SDK's HAL calls through the fixture
// rust-mqtt-bridge against a real broker; its radar provider through rust-radar. Skipped (with the reason) without the toolchain.

import anyTest, { type TestFn } from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';
import { detectRustToolchain, runCargo, rustToolchain } from '../../scripts/build-rust.js';
import { createEnvImports } from '../../runtime/abi/env.js';
import { createDeviceImports, DEVICE_MODULE, type DeviceHost } from '../../runtime/abi/devices/index.js';
import { GuestMemory } from '../../runtime/abi/memory.js';
import { RecordingHost } from '../helpers/recording-host.js';
import { exampleWasm, fixtureWasm } from '../helpers/plugin-wasm.js';
import { readSignatures } from '../helpers/wasm-signatures.js';
import { startBroker } from '../helpers/mqtt-broker.js';
import {
  EXAMPLES,
  FIXTURES,
  binaryClient,
  configurePlugin,
  http,
  pluginFolder,
  pluginStatus,
  publish,
  selfValue,
} from '../helpers/plugins.js';
import { startTestRuntime } from '../helpers/runtime.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';
import { recordSkip } from '../helpers/skip-log.js';

const toolchain = rustToolchain();
// Without the toolchain every test is skipped, and one skipped entry names the reason.
const test = (toolchain.ok ? anyTest : anyTest.skip) as TestFn;
if (!toolchain.ok) {
  const title = `Rust plugins not built: ${toolchain.reason}`;
  anyTest.skip(title, () => undefined);
  // Counted by the test runner with the other tests skipped for a missing system tool.
  recordSkip({ file: 'rust-plugins.test.js', title, reason: toolchain.reason });
}

anyTest('without the toolchain the reason names the Debian packages to install', (t) => {
  const missing = detectRustToolchain('/nonexistent/cargo', '/nonexistent/rustc');
  t.deepEqual(missing, {
    ok: false,
    reason:
      'no Debian Rust toolchain (/nonexistent/cargo, /nonexistent/rustc); install the Debian packages: apt-get install rustc cargo libstd-rust-dev-wasm32',
  });
  const broken = detectRustToolchain(process.execPath, process.execPath); // exists, but is no rustc
  t.false(broken.ok);
  t.regex(broken.ok ? '' : broken.reason, /apt-get install rustc cargo libstd-rust-dev-wasm32/);
});

const ID = '_signalk-edge_depth-watch-rust';
const ALARM_DEPTH = 'environment.depth.alarmDepth';
const NOTIFICATION = 'notifications.environment.depth.belowKeel';

const depth = (runtime: Parameters<typeof publish>[0], metres: number): void =>
  publish(runtime, [{ path: 'environment.depth.belowKeel', value: metres }]);

test('depth-watch starts with its configuration, follows depth deltas and raises and clears the alarm', async (t) => {
  const dataDir = tempDir(t, 'ske-data-');
  configurePlugin(dataDir, ID, { alarmDepth: 4 });
  const { runtime, stop } = await startTestRuntime({
    pluginDirs: [await pluginFolder([{ from: EXAMPLES, name: 'depth-watch-rust' }])],
    dataDir,
  });
  t.teardown(stop);
  const status = await pluginStatus(runtime, ID);
  t.like(status, { state: 'running', name: 'Depth watch (Rust)' });
  t.is(selfValue(runtime, ALARM_DEPTH), 4);
  t.like(runtime.model.valueAt('vessels.self', ALARM_DEPTH)?.meta, { supportsPut: true });

  depth(runtime, 6.5);
  await waitFor(() => selfValue(runtime, 'environment.depth.shallowest') === 6.5, 'shallowest 6.5');
  t.is(selfValue(runtime, NOTIFICATION), undefined, 'no alarm above the alarm depth');
  depth(runtime, 3.2);
  const alarm = await waitFor(
    () => selfValue(runtime, NOTIFICATION) as { state: string; message: string } | undefined,
    'the alarm',
  );
  t.is(alarm.state, 'alarm');
  t.regex(alarm.message, /3\.2 m is below 4\.0 m/);
  t.is(runtime.model.valueAt('vessels.self', NOTIFICATION)?.$source, ID);
  depth(runtime, 7);
  await waitFor(
    () => (selfValue(runtime, NOTIFICATION) as { state?: string } | undefined)?.state === 'normal',
    'the alarm cleared',
  );
  t.is(selfValue(runtime, 'environment.depth.shallowest'), 3.2);
  t.regex((await pluginStatus(runtime, ID)).statusMessage ?? '', /Alarm below 4\.0 m; shallowest 3\.2 m; 1 alarms/);
});

test('depth-watch answers a PUT of the alarm depth and refuses a bad value', async (t) => {
  const { runtime, stop } = await startTestRuntime({
    pluginDirs: [await pluginFolder([{ from: EXAMPLES, name: 'depth-watch-rust' }])],
  });
  t.teardown(stop);
  await waitFor(() => selfValue(runtime, ALARM_DEPTH) === 3, 'the default alarm depth');
  const url = `/signalk/v1/api/vessels/self/${ALARM_DEPTH.replace(/\./g, '/')}`;
  const res = await http(runtime, 'PUT', url, { value: 10 });
  t.true(res.status < 300, JSON.stringify(res));
  await waitFor(() => selfValue(runtime, ALARM_DEPTH) === 10, 'alarm depth 10');
  depth(runtime, 8);
  await waitFor(
    () => (selfValue(runtime, NOTIFICATION) as { state?: string } | undefined)?.state === 'alarm',
    'alarm at the new depth',
  );

  const bad = await http(runtime, 'PUT', url, { value: 'deep' });
  t.is(bad.status, 400, JSON.stringify(bad));
  t.is(selfValue(runtime, ALARM_DEPTH), 10);
});

test('depth-watch answers its HTTP endpoints (Rust buffer convention)', async (t) => {
  const { runtime, stop } = await startTestRuntime({
    pluginDirs: [await pluginFolder([{ from: EXAMPLES, name: 'depth-watch-rust' }])],
  });
  t.teardown(stop);
  await waitFor(() => selfValue(runtime, ALARM_DEPTH) === 3, 'the plugin started');
  t.deepEqual((await pluginStatus(runtime, ID)).httpEndpoints, [
    { method: 'GET', path: '/api/state' },
    { method: 'POST', path: '/api/reset' },
  ]);
  depth(runtime, 2);
  await waitFor(
    () => (selfValue(runtime, NOTIFICATION) as { state?: string } | undefined)?.state === 'alarm',
    'the alarm',
  );
  const state = await http(runtime, 'GET', `/plugins/${ID}/api/state`);
  t.is(state.status, 200, JSON.stringify(state.body));
  t.deepEqual(state.body, { alarmDepth: 3, shallowest: 2, alarmed: true, alarms: 1 });
  const reset = await http(runtime, 'POST', `/skServer/plugins/${ID}/api/reset`, {});
  t.is(reset.status, 200, JSON.stringify(reset.body));
  t.deepEqual(reset.body, { reset: true });
  t.like((await http(runtime, 'GET', `/plugins/${ID}/api/state`)).body, { shallowest: null, alarms: 0 });
});

test('depth-watch keeps the shallowest depth in its VFS across a runtime restart', async (t) => {
  const plugins = await pluginFolder([{ from: EXAMPLES, name: 'depth-watch-rust' }]);
  const dataDir = tempDir(t, 'ske-data-');
  const first = await startTestRuntime({ pluginDirs: [plugins], dataDir });
  t.teardown(first.stop);
  depth(first.runtime, 2.4);
  await waitFor(() => selfValue(first.runtime, 'environment.depth.shallowest') === 2.4, 'shallowest 2.4');
  await first.stop(); // plugin_stop writes /data/state.json through WASI

  const { runtime, stop } = await startTestRuntime({ pluginDirs: [plugins], dataDir });
  t.teardown(stop);
  t.is(selfValue(runtime, 'environment.depth.shallowest'), 2.4, 'published at start from the VFS');
  t.regex((await pluginStatus(runtime, ID)).statusMessage ?? '', /shallowest 2\.4 m; 1 alarms/);
});

test("the SDK's HAL calls: a granted MQTT subscription read in hal_data, a granted publish, a denied one with the host's reason", async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.close());
  const watcher = await mqtt.connectAsync(broker.url);
  t.teardown(() => watcher.endAsync());
  const seen: string[] = [];
  watcher.on('message', (topic, payload) => seen.push(`${topic}=${payload.toString()}`));
  await watcher.subscribeAsync('#');
  const id = '_signalk-edge-fixture_rust-mqtt-bridge';
  const { runtime, stop } = await startTestRuntime({
    pluginDirs: [await pluginFolder([{ from: FIXTURES, name: 'rust-mqtt-bridge' }])],
    mqtt: { url: broker.url, publish: [], subscribe: [] },
    grants: { '*': ['dataRead', 'dataWrite'], [id]: ['mqtt:subscribe:boat/+/temp', 'mqtt:publish:boat/rust/#'] },
  });
  t.teardown(stop);
  t.like(await pluginStatus(runtime, id), { state: 'running', statusMessage: 'bridging boat/+/temp' });
  t.is(selfValue(runtime, 'test.rust.published'), true);
  t.regex(
    String(selfValue(runtime, 'test.rust.denied')),
    /mqtt_publish denied: mqtt:publish:elsewhere\/status is not granted/,
  );
  await waitFor(() => seen.includes('boat/rust/status=up'), 'the granted publish at the broker');
  await waitFor(() => runtime.mqtt?.state === 'connected', 'runtime connected');
  await watcher.publishAsync('boat/engine/temp', '81.5');
  await waitFor(() => selfValue(runtime, 'test.rust.temp') !== undefined, 'the message through hal_data');
  t.deepEqual(selfValue(runtime, 'test.rust.temp'), { topic: 'boat/engine/temp', value: 81.5 });
  await waitFor(() => seen.includes('boat/rust/echo=81.5'), 'republished');
  t.false(seen.some((s) => s.startsWith('elsewhere/')));
});

test("the SDK's radar provider: radar_get_radars without a request (upstream's Rust convention), info, a control, spokes to a WebSocket client", async (t) => {
  const RADAR_ID = '_signalk-edge-fixture_rust-radar';
  const R = '/signalk/v2/api/vessels/self/radars/rust-1';
  const { runtime, wsUrl, stop } = await startTestRuntime({
    pluginDirs: [await pluginFolder([{ from: FIXTURES, name: 'rust-radar' }])],
    grants: { [RADAR_ID]: ['radarProvider'] },
  });
  t.teardown(stop);
  await waitFor(async () => (await pluginStatus(runtime, RADAR_ID)).state === 'running', 'the provider running');
  t.like(await pluginStatus(runtime, RADAR_ID), { radarProvider: true, statusMessage: 'radar provider' });
  t.deepEqual((await http(runtime, 'GET', '/signalk/v2/api/vessels/self/radars')).body, {
    version: '3.4.0',
    radars: { 'rust-1': { name: 'Rust radar', brand: 'Emulator', radarIpAddress: '127.0.0.1' } },
  });
  const client = await binaryClient(wsUrl, `${R}/spokes`);
  t.teardown(() => client.ws.close());
  await waitFor(() => runtime.plugins.binaryStreams.status()['radars/rust-1']?.clients === 1, 'the client registered');
  t.like(await http(runtime, 'PUT', `${R}/power`, { value: 'transmit' }), { status: 200 });
  await waitFor(() => client.frames.length === 2, 'two spokes');
  t.deepEqual(
    client.frames.map((f) => [...f]),
    [
      [0, 0xa5, 0xa5, 0xa5],
      [1, 0xa5, 0xa5, 0xa5],
    ],
  );
  t.deepEqual((await http(runtime, 'GET', `${R}/controls`)).body, { power: 'transmit' });
  t.deepEqual((await http(runtime, 'PUT', `${R}/controls/gain`, { value: { auto: true } })).body, {
    state: 'FAILED',
    statusCode: 400,
    message: 'only power here',
  });
  t.deepEqual((await http(runtime, 'GET', `${R}/targets`)).body, {
    state: 'FAILED',
    statusCode: 501,
    message: 'Provider does not support ARPA targets',
  });
});

test("the SDK's raw imports (sdk/rust/src/sys.rs) match the host's functions: names, arity, all i32", (t) => {
  const memory = new GuestMemory();
  const host = new Map<string, number>([
    ...Object.entries(createEnvImports(new RecordingHost(), memory).functions).map(
      ([n, f]) => [`env.${n}`, f.length] as const,
    ),
    ...Object.entries(createDeviceImports({ pluginId: 'abi' } as DeviceHost, memory).functions).map(
      ([n, f]) => [`${DEVICE_MODULE}.${n}`, f.length] as const,
    ),
  ]);
  const sys = readFileSync(join(PROJECT_ROOT, 'sdk', 'rust', 'src', 'sys.rs'), 'utf8');
  let module = '';
  let declared = 0;
  for (const line of sys.split('\n')) {
    const link = /wasm_import_module = "(\w+)"/.exec(line);
    if (link) module = link[1]!;
    const fn = /^\s*pub fn (\w+)\(([^)]*)\)/.exec(line);
    if (!fn) continue;
    declared++;
    const arity = fn[2]!.trim() === '' ? 0 : fn[2]!.split(',').length;
    t.is(host.get(`${module}.${fn[1]}`), arity, `${module}.${fn[1]}`);
  }
  t.true(declared >= 24, `${declared} functions declared`);
  // What the built plugins import: every parameter and result an i32 on wasm32.
  for (const wasm of [exampleWasm('depth-watch-rust'), fixtureWasm('rust-mqtt-bridge'), fixtureWasm('rust-radar')]) {
    for (const [name, sig] of readSignatures(readFileSync(wasm)).imports) {
      if (name.startsWith('wasi_snapshot_preview1.')) continue;
      t.true(host.has(name), name);
      t.deepEqual(
        [...new Set([...sig.params, ...sig.results])].filter((v) => v !== 'i32'),
        [],
        name,
      );
    }
  }
});

test("the SDK's JSON and CAN frame code passes its own unit tests (cargo test on the host)", async (t) => {
  const { stdout } = await runCargo([
    'test',
    '--offline',
    '--locked',
    '--quiet',
    '--manifest-path',
    join(PROJECT_ROOT, 'sdk', 'rust', 'Cargo.toml'),
  ]);
  t.regex(stdout, /test result: ok\. 3 passed/);
});
