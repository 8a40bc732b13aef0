// The Rust SDK (sdk/rust) and its example plugin examples/depth-watch-rust, built from source by
// `npm run build` with Debian's rustc/cargo and wasm32-wasi standard library, running in a real
// runtime: start with its configuration, deltas in, a notification and values out, a PUT over
// HTTP, and its VFS state across a runtime restart. Skipped (with the reason) without the toolchain.

import anyTest, { type TestFn } from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../runtime/config/settings.js';
import { rustToolchain } from '../scripts/build-rust.js';
import { EXAMPLES, configurePlugin, http, pluginFolder, pluginStatus, publish, selfValue } from './helpers/plugins.js';
import { startTestRuntime } from './helpers/runtime.js';
import { tempDir } from './helpers/temp.js';
import { waitFor } from './helpers/wait.js';

const toolchain = rustToolchain();
// Without the toolchain every test is skipped, and one skipped entry names the reason.
const test = (toolchain.ok ? anyTest : anyTest.skip) as TestFn;
if (!toolchain.ok) anyTest.skip(`Rust plugins not built: ${toolchain.reason}`, () => undefined);

const ID = '_signalk-edge_depth-watch-rust';
const ALARM_DEPTH = 'environment.depth.alarmDepth';
const NOTIFICATION = 'notifications.environment.depth.belowKeel';

const depth = (runtime: Parameters<typeof publish>[0], metres: number): void => publish(runtime, [{ path: 'environment.depth.belowKeel', value: metres }]);

test('depth-watch starts with its configuration, follows depth deltas and raises and clears the alarm', async (t) => {
  const dataDir = tempDir(t, 'ske-data-');
  configurePlugin(dataDir, ID, { alarmDepth: 4 });
  const { runtime, stop } = await startTestRuntime({ pluginDirs: [await pluginFolder([{ from: EXAMPLES, name: 'depth-watch-rust' }])], dataDir });
  t.teardown(stop);
  const status = await pluginStatus(runtime, ID);
  t.like(status, { state: 'running', name: 'Depth watch (Rust)' });
  t.is(selfValue(runtime, ALARM_DEPTH), 4);
  t.like(runtime.model.valueAt('vessels.self', ALARM_DEPTH)?.meta, { supportsPut: true });

  depth(runtime, 6.5);
  await waitFor(() => selfValue(runtime, 'environment.depth.shallowest') === 6.5, 'shallowest 6.5');
  t.is(selfValue(runtime, NOTIFICATION), undefined, 'no alarm above the alarm depth');
  depth(runtime, 3.2);
  const alarm = await waitFor(() => selfValue(runtime, NOTIFICATION) as { state: string; message: string } | undefined, 'the alarm');
  t.is(alarm.state, 'alarm');
  t.regex(alarm.message, /3\.2 m is below 4\.0 m/);
  t.is(runtime.model.valueAt('vessels.self', NOTIFICATION)?.$source, ID);
  depth(runtime, 7);
  await waitFor(() => (selfValue(runtime, NOTIFICATION) as { state?: string } | undefined)?.state === 'normal', 'the alarm cleared');
  t.is(selfValue(runtime, 'environment.depth.shallowest'), 3.2);
  t.regex((await pluginStatus(runtime, ID)).statusMessage ?? '', /Alarm below 4\.0 m; shallowest 3\.2 m; 1 alarms/);
});

test('depth-watch answers a PUT of the alarm depth and refuses a bad value', async (t) => {
  const { runtime, stop } = await startTestRuntime({ pluginDirs: [await pluginFolder([{ from: EXAMPLES, name: 'depth-watch-rust' }])] });
  t.teardown(stop);
  await waitFor(() => selfValue(runtime, ALARM_DEPTH) === 3, 'the default alarm depth');
  const url = `/signalk/v1/api/vessels/self/${ALARM_DEPTH.replace(/\./g, '/')}`;
  const res = await http(runtime, 'PUT', url, { value: 10 });
  t.true(res.status < 300, JSON.stringify(res));
  await waitFor(() => selfValue(runtime, ALARM_DEPTH) === 10, 'alarm depth 10');
  depth(runtime, 8);
  await waitFor(() => (selfValue(runtime, NOTIFICATION) as { state?: string } | undefined)?.state === 'alarm', 'alarm at the new depth');

  const bad = await http(runtime, 'PUT', url, { value: 'deep' });
  t.is(bad.status, 400, JSON.stringify(bad));
  t.is(selfValue(runtime, ALARM_DEPTH), 10);
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

test("the SDK's JSON parser passes its own unit tests (cargo test on the host)", async (t) => {
  const targetDir = mkdtempSync(join(tmpdir(), 'ske-rust-test-'));
  const home = join(targetDir, 'home');
  const { stdout } = await promisify(execFile)('/usr/bin/cargo', ['test', '--offline', '--quiet', '--manifest-path', join(PROJECT_ROOT, 'sdk', 'rust', 'Cargo.toml')], {
    env: { PATH: '/usr/bin:/bin', HOME: home, CARGO_HOME: home, RUSTC: '/usr/bin/rustc', CARGO_TARGET_DIR: targetDir },
  });
  t.regex(stdout, /test result: ok\. 2 passed/);
});
