// The plugin REST API: list, config read and write with schema validation, enable/disable
// persisted across a runtime restart, and clear 4xx errors.

import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPlugin } from '../../scripts/build-examples.js';
import {
  EXAMPLES,
  FIXTURES,
  IDS,
  http,
  pluginFolder,
  pluginStatus,
  publish,
  type PluginView,
} from '../helpers/plugins.js';
import { startTestRuntime } from '../helpers/runtime.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';

const SCHEMA = {
  type: 'object',
  required: ['factor'],
  properties: {
    factor: { type: 'number', minimum: 0, maximum: 10, default: 2 },
    label: { type: 'string', enum: ['a', 'b'] },
  },
};

test('list, config with schema validation, enable/disable persisted across a restart', async (t) => {
  const dir = await pluginFolder([
    { from: EXAMPLES, name: 'true-wind' },
    { from: FIXTURES, name: 'derive-all' },
  ]);
  const dataDir = tempDir(t, 'ske-data-');
  let testRuntime = await startTestRuntime({ pluginDirs: [dir], dataDir });
  let { runtime } = testRuntime;

  const list = await http(runtime, 'GET', '/plugins');
  t.is(list.status, 200);
  const entries = list.body as PluginView[];
  t.deepEqual(entries.map((p) => p.id).sort(), [IDS.deriveAll, IDS.trueWind].sort());
  const tw = entries.find((p) => p.id === IDS.trueWind);
  t.like(tw, {
    name: 'True wind',
    packageName: '@signalk-edge/true-wind',
    version: '0.1.0',
    state: 'running',
    enabled: true,
    restarts: 0,
    capabilities: {
      requested: ['dataRead', 'dataWrite'],
      granted: ['dataRead', 'dataWrite', 'putHandlers'],
      effective: ['dataRead', 'dataWrite'],
      denied: [],
    },
    hal: [],
  });
  t.is((tw?.subscriptions as unknown[]).length, 5);

  const cfg = await http(runtime, 'GET', `/plugins/${IDS.trueWind}/config`);
  t.is(cfg.status, 200);
  t.like(cfg.body, { enabled: true, schema: { type: 'object' } });

  // Valid configuration: saved with the upstream layout and the plugin restarted with it.
  const saved = await http(runtime, 'PUT', `/plugins/${IDS.trueWind}/config`, { configuration: { smoothing: 3 } });
  t.is(saved.status, 200, JSON.stringify(saved.body));
  const file = join(dataDir, 'plugin-config-data', IDS.trueWind, `${IDS.trueWind}.json`);
  t.like(JSON.parse(readFileSync(file, 'utf8')), { enabled: true, configuration: { smoothing: 3 } });
  t.like(await pluginStatus(runtime, IDS.trueWind), { state: 'running' });
  t.true(
    ((await pluginStatus(runtime, IDS.trueWind)).events ?? []).some(
      (e) => e.event === 'starting: configuration changed',
    ),
  );

  // POST works as upstream's admin UI sends it, and the body is checked.
  const viaPost = await http(runtime, 'POST', `/plugins/${IDS.deriveAll}/config`, { enabled: true, configuration: {} });
  t.is(viaPost.status, 200);
  for (const [body, status, error] of [
    ['{"configuration":', 400, /not valid JSON/],
    [[1, 2], 400, /must be a JSON object/],
    [{}, 400, /needs "configuration"/],
    [{ configuration: 'x' }, 400, /configuration must be a JSON object/],
    [{ enabled: 'yes' }, 400, /enabled must be true or false/],
  ] as const) {
    const r = await http(runtime, 'PUT', `/plugins/${IDS.deriveAll}/config`, body);
    t.is(r.status, status, JSON.stringify(r));
    t.regex((r.body as { error: string }).error, error);
  }
  t.like(await http(runtime, 'GET', '/plugins/nope'), { status: 404, body: { error: 'no plugin "nope"' } });
  t.like(await http(runtime, 'DELETE', `/plugins/${IDS.deriveAll}/config`), { status: 405 });
  t.like(await http(runtime, 'GET', `/plugins/${IDS.deriveAll}/bogus`), { status: 404 });

  // Disable: stopped now, and still disabled after a runtime restart.
  const disabled = await http(runtime, 'POST', `/plugins/${IDS.deriveAll}/disable`);
  t.like(disabled, { status: 200, body: { state: 'disabled', enabled: false } });
  publish(runtime, [{ path: 'environment.water.temperature', value: 7 }]);
  await testRuntime.stop();

  testRuntime = await startTestRuntime({ pluginDirs: [dir], dataDir });
  ({ runtime } = testRuntime);
  t.teardown(testRuntime.stop);
  t.like(await pluginStatus(runtime, IDS.deriveAll), { state: 'disabled', enabled: false });
  t.like(await pluginStatus(runtime, IDS.trueWind), { state: 'running' });
  t.like((await http(runtime, 'GET', `/plugins/${IDS.trueWind}/config`)).body, { configuration: { smoothing: 3 } });
  publish(runtime, [{ path: 'environment.water.temperature', value: 8 }]);
  t.is(runtime.model.valueAt('vessels.self', 'bench.derived'), undefined, 'a disabled plugin gets no deltas');

  const enabled = await http(runtime, 'POST', `/plugins/${IDS.deriveAll}/enable`);
  t.like(enabled, { status: 200, body: { state: 'running', enabled: true } });
  publish(runtime, [{ path: 'environment.water.temperature', value: 9 }]);
  await waitFor(
    () => runtime.model.valueAt('vessels.self', 'bench.derived')?.value === 18,
    'derive-all output after enable',
  );
});

// A plugin with a real schema, compiled here from source: it echoes the configuration it was
// started with as the value of `test.config`, so the test sees what plugin_start received.
const CONFIG_ECHO = `
@external("env", "sk_handle_message")
declare function sk_handle_message(ptr: usize, len: usize, version: i32): void

export function plugin_name(): string { return 'Config echo' }
export function plugin_schema(): string { return '${JSON.stringify(SCHEMA)}' }
export function plugin_start(ptr: usize, len: usize): i32 {
  const delta = '{"updates":[{"values":[{"path":"test.config","value":' + String.UTF8.decodeUnsafe(ptr, len) + '}]}]}'
  const buf = String.UTF8.encode(delta)
  sk_handle_message(changetype<usize>(buf), buf.byteLength, 1)
  return 0
}
export function plugin_stop(): i32 { return 0 }
`;

test('a configuration that breaks the plugin schema is refused, naming each property', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ske-config-echo-'));
  const pkg = join(dir, 'config-echo');
  mkdirSync(join(pkg, 'assembly'), { recursive: true });
  writeFileSync(join(pkg, 'assembly', 'index.ts'), CONFIG_ECHO);
  writeFileSync(
    join(pkg, 'package.json'),
    JSON.stringify({ name: 'config-echo', version: '1.0.0', wasmManifest: 'plugin.wasm' }),
  );
  await buildPlugin(pkg, 'test');
  const { runtime, stop, dataDir } = await startTestRuntime({ pluginDirs: [dir] });
  t.teardown(stop);
  const echoed = () => runtime.model.valueAt('vessels.self', 'test.config')?.value;

  // Never configured: started with the schema's defaults.
  await waitFor(() => echoed(), 'the first start');
  t.deepEqual(echoed(), { factor: 2, enableDebug: false }, 'enableDebug at the root, as upstream passes it');
  t.like((await http(runtime, 'GET', '/plugins/config-echo/config')).body, { enabled: true, schema: SCHEMA });

  const bad = await http(runtime, 'PUT', '/plugins/config-echo/config', { configuration: { factor: 11, label: 'c' } });
  t.is(bad.status, 400);
  t.deepEqual(bad.body, {
    error: 'invalid configuration for plugin config-echo',
    details: ['configuration.factor: must be <= 10, got 11', 'configuration.label: must be one of "a", "b", got "c"'],
  });
  const wrongType = await http(runtime, 'PUT', '/plugins/config-echo/config', { configuration: { factor: 'high' } });
  t.deepEqual((wrongType.body as { details: string[] }).details, [
    'configuration.factor: must be number, got string "high"',
  ]);
  t.deepEqual(echoed(), { factor: 2, enableDebug: false }, 'a refused configuration changes nothing');

  const ok = await http(runtime, 'PUT', '/plugins/config-echo/config', { configuration: { label: 'b' } });
  t.is(ok.status, 200, JSON.stringify(ok.body));
  t.deepEqual(
    echoed(),
    { label: 'b', factor: 2, enableDebug: false },
    'restarted with the new configuration, defaults filled in',
  );
  const file = join(dataDir, 'plugin-config-data', 'config-echo', 'config-echo.json');
  t.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { enabled: true, configuration: { label: 'b', factor: 2 } });
});
