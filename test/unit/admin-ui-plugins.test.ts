// /skServer/plugins and /skServer/plugins/<id>/config in signalk-server's shapes, which its admin
// UI's plugin configuration reads and writes (unit-sized: one in-process runtime, one plugin);
// /plugins keeps our richer status.

import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXAMPLES, IDS, http, pluginFolder, pluginStatus } from '../helpers/plugins.js';
import { startTestRuntime } from '../helpers/runtime.js';
import { waitFor } from '../helpers/wait.js';

test('the admin UI shapes: plugin list with schema and data, config read, config write', async (t) => {
  const rt = await startTestRuntime({ pluginDirs: [await pluginFolder([{ from: EXAMPLES, name: 'true-wind' }])] });
  t.teardown(rt.stop);
  const { runtime } = rt;

  const list = await http(runtime, 'GET', '/skServer/plugins');
  t.is(list.status, 200);
  const [tw] = list.body as Record<string, unknown>[];
  // Upstream's getPluginResponseInfo fields.
  t.deepEqual(
    Object.keys(tw).sort(),
    [
      'bundled',
      'data',
      'description',
      'id',
      'keywords',
      'name',
      'packageName',
      'schema',
      'state',
      'statusMessage',
      'type',
      'version',
    ].sort(),
  );
  t.like(tw, {
    id: IDS.trueWind,
    name: 'True wind',
    packageName: '@signalk-edge/true-wind',
    version: '0.1.0',
    type: 'wasm',
    data: { enabled: true, enableLogging: true, enableDebug: false },
  });
  t.is(typeof tw.schema, 'object');
  t.is(typeof tw.statusMessage, 'string');
  // Ours stays richer at /plugins.
  t.truthy(((await http(runtime, 'GET', '/plugins')).body as Record<string, unknown>[])[0].capabilities);

  const cfg = await http(runtime, 'GET', `/skServer/plugins/${IDS.trueWind}/config`);
  t.is(cfg.status, 200);
  t.deepEqual(Object.keys(cfg.body as object).sort(), ['enableDebug', 'enableLogging', 'enabled']);

  // The admin UI posts the whole options object back.
  const saved = await http(runtime, 'POST', `/skServer/plugins/${IDS.trueWind}/config`, {
    enabled: true,
    enableLogging: false,
    enableDebug: true,
    configuration: {},
  });
  t.is(saved.status, 200);
  t.is(saved.body, `Saved configuration for plugin ${IDS.trueWind}`);
  t.like((await http(runtime, 'GET', `/skServer/plugins/${IDS.trueWind}/config`)).body, {
    enabled: true,
    enableDebug: true,
    configuration: {},
  });
  const file = join(rt.dataDir, 'plugin-config-data', IDS.trueWind, `${IDS.trueWind}.json`);
  t.like(JSON.parse(readFileSync(file, 'utf8')), { enabled: true, enableDebug: true, configuration: {} });
  await waitFor(
    async () => (await pluginStatus(runtime, IDS.trueWind)).state === 'running',
    'restarted with the new options',
  );

  // Disabling through the same form.
  t.is(
    (await http(runtime, 'POST', `/skServer/plugins/${IDS.trueWind}/config`, { enabled: false, configuration: {} }))
      .status,
    200,
  );
  await waitFor(async () => (await pluginStatus(runtime, IDS.trueWind)).state === 'disabled', 'disabled');
  t.is((await http(runtime, 'GET', '/skServer/plugins/no-such-plugin/config')).status, 404);
  // The rest of our endpoints stay reachable under /skServer/plugins too.
  t.is((await http(runtime, 'POST', `/skServer/plugins/${IDS.trueWind}/enable`)).status, 200);
});
