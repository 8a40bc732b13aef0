// The example plugins running in a real runtime: deltas in from the bus, derived values out to the
// model and the WebSocket stream, a PUT over HTTP, and VFS state across a runtime restart.

import test from 'ava';
import { EXAMPLES, IDS, http, openStream, pluginFolder, pluginStatus, publish } from '../helpers/plugins.js';
import { startTestRuntime } from '../helpers/runtime.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';

type Leaf = { value: unknown; $source: string };

function streamHas(messages: unknown[], path: string, source: string): boolean {
  return messages.some((m) => {
    const updates = (m as { updates?: { $source?: string; values?: { path: string }[] }[] }).updates ?? [];
    return updates.some((u) => u.$source === source && (u.values ?? []).some((v) => v.path === path));
  });
}

test('true-wind receives the deltas it subscribed to and its values reach the model and the stream', async (t) => {
  const { runtime, stop } = await startTestRuntime({
    pluginDirs: [await pluginFolder([{ from: EXAMPLES, name: 'true-wind' }])],
  });
  t.teardown(stop);
  const stream = await openStream(runtime);
  t.teardown(() => stream.close());
  t.like(await pluginStatus(runtime, IDS.trueWind), { state: 'running', enabled: true });

  publish(runtime, [{ path: 'environment.depth.belowKeel', value: 12 }]); // not subscribed
  publish(runtime, [
    { path: 'navigation.speedThroughWater', value: 3 },
    { path: 'environment.wind.angleApparent', value: Math.PI / 2 },
    { path: 'environment.wind.speedApparent', value: 4 },
  ]);
  const leaf = await waitFor(
    () => runtime.model.valueAt('vessels.self', 'environment.wind.speedTrue') as Leaf | undefined,
    'speedTrue in the model',
  );
  // Apparent 4 m/s abeam at 3 kn through the water: true wind is the 3-4-5 triangle's long side.
  t.is(leaf.$source, IDS.trueWind);
  t.true(Math.abs((leaf.value as number) - 5) < 1e-9);
  await waitFor(
    () => streamHas(stream.messages, 'environment.wind.speedTrue', IDS.trueWind),
    'speedTrue on the WebSocket stream',
  );
  const status = await pluginStatus(runtime, IDS.trueWind);
  t.is(status.deltas?.received, 1, 'only the subscribed delta crossed into wasm');
  t.is(status.statusMessage, 'Deriving true wind');
  const rest = await http(runtime, 'GET', '/signalk/v1/api/vessels/self/environment/wind/speedTrue');
  t.is(rest.status, 200);
  t.like(rest.body, { $source: IDS.trueWind });
});

test('anchor-light answers an HTTP PUT and publishes the new state', async (t) => {
  const { runtime, stop } = await startTestRuntime({
    pluginDirs: [await pluginFolder([{ from: EXAMPLES, name: 'anchor-light' }])],
  });
  t.teardown(stop);
  const stream = await openStream(runtime);
  t.teardown(() => stream.close());
  const path = 'electrical.switches.anchorLight.state';
  await waitFor(() => runtime.model.valueAt('vessels.self', path), 'initial state');
  t.is(runtime.model.valueAt('vessels.self', path)?.value, 0);
  t.like(runtime.model.valueAt('vessels.self', path)?.meta, { supportsPut: true });
  const status = await pluginStatus(runtime, IDS.anchorLight);
  t.deepEqual(status.putHandlers, [{ context: 'vessels.self', path }]);

  const res = await http(runtime, 'PUT', '/signalk/v1/api/vessels/self/electrical/switches/anchorLight/state', {
    value: 1,
  });
  t.true(res.status < 300, JSON.stringify(res));
  await waitFor(() => runtime.model.valueAt('vessels.self', path)?.value === 1, 'light on');
  t.is(runtime.model.valueAt('vessels.self', path)?.$source, IDS.anchorLight);
  await waitFor(() => streamHas(stream.messages, path, IDS.anchorLight), 'the new state on the WebSocket stream');

  const bad = await http(runtime, 'PUT', '/signalk/v1/api/vessels/self/electrical/switches/anchorLight/state', {
    value: 'dim',
  });
  t.is(bad.status, 400, JSON.stringify(bad));
  t.is(runtime.model.valueAt('vessels.self', path)?.value, 1);
});

test('trip-log keeps its VFS state across a runtime restart', async (t) => {
  const plugins = await pluginFolder([{ from: EXAMPLES, name: 'trip-log' }]);
  const dataDir = tempDir(t, 'ske-data-');
  const positions = [
    { latitude: 60.0, longitude: 20.0 },
    { latitude: 60.01, longitude: 20.0 },
    { latitude: 60.02, longitude: 20.0 },
  ];
  const first = await startTestRuntime({ pluginDirs: [plugins], dataDir });
  t.teardown(first.stop);
  for (const p of positions) publish(first.runtime, [{ path: 'navigation.position', value: p }]);
  const before = await waitFor(() => {
    const leaf = first.runtime.model.valueAt('vessels.self', 'navigation.trip.log');
    return typeof leaf?.value === 'number' && leaf.value > 2000 ? leaf.value : undefined;
  }, 'trip log after 3 fixes');
  await first.stop(); // plugin_stop writes /data/state.json

  const { runtime: second, stop } = await startTestRuntime({ pluginDirs: [plugins], dataDir });
  t.teardown(stop);
  const status = await pluginStatus(second, IDS.tripLog);
  t.like(status, { state: 'running' });
  t.regex(status.statusMessage ?? '', /3 positions/);
  publish(second, [{ path: 'navigation.position', value: { latitude: 60.03, longitude: 20.0 } }]);
  const after = await waitFor(
    () => second.model.valueAt('vessels.self', 'navigation.trip.log')?.value as number | undefined,
    'trip log after the 4th fix',
  );
  // One more 0.01° of latitude (about 1112 m) on top of the distance from before the restart.
  t.true(Math.abs(after - before - 1111.95) < 1, `before ${before}, after ${after}`);
});
