// Faults: a plugin that traps is restarted with growing backoff and finally given up while another
// plugin keeps working; modules that cannot load are refused with the plugin and cause named.

import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_GENERATIONS } from '../../runtime/plugins/publisher.js';
import { FIXTURES, IDS, http, pluginFolder, pluginStatus, publish, type PluginView } from '../helpers/plugins.js';
import { startTestRuntime } from '../helpers/runtime.js';
import { waitFor } from '../helpers/wait.js';

const BASE_MS = 200;

test('a trapping plugin is restarted with backoff, then given up, while another keeps running', async (t) => {
  const dir = await pluginFolder([
    { from: FIXTURES, name: 'trap-on-delta' },
    { from: FIXTURES, name: 'derive-all' },
  ]);
  const { runtime, stop } = await startTestRuntime({
    pluginDirs: [dir],
    restart: { baseMs: BASE_MS, maxMs: 10_000, maxCrashes: 3, stableMs: 60_000 },
  });
  t.teardown(stop);
  let derived = 0;
  runtime.bus.subscribe((m) => {
    if (m.delta.updates[0]?.$source === IDS.deriveAll) derived++;
  });
  let sent = 0;
  const feeder = setInterval(() => {
    sent++;
    publish(runtime, [{ path: 'environment.water.temperature', value: 280 + (sent % 10) }]);
  }, 20);
  t.teardown(() => clearInterval(feeder));

  const failed = await waitFor(async () => {
    const s = await pluginStatus(runtime, IDS.trapOnDelta);
    return s.state === 'failed' ? s : undefined;
  }, 'trap-on-delta to give up');
  t.regex(failed.errorMessage ?? '', /^failed: crashed 3 times, last error: .*unreachable/);
  t.is(failed.restarts, 2);

  // Restart attempts follow the crash by the backoff delay, which doubles: ~200 ms, then ~400 ms.
  const at = (e: { at: string }) => Date.parse(e.at);
  const events = failed.events ?? [];
  const crashes = events.filter((e) => e.event.startsWith('crashed'));
  const restarts = events.filter((e) => /^starting: restart \d after crash/.test(e.event));
  t.is(crashes.length, 2);
  t.is(restarts.length, 2);
  const gap1 = at(restarts[0]) - at(crashes[0]);
  const gap2 = at(restarts[1]) - at(crashes[1]);
  t.true(gap1 >= BASE_MS * 0.9, `first restart after ${gap1} ms`);
  t.true(gap2 >= 2 * BASE_MS * 0.9, `second restart after ${gap2} ms`);

  // derive-all answered every delta, before, during and after the other plugin's crashes.
  const sentAtFailure = sent;
  await waitFor(() => derived >= sentAtFailure + 10, 'derive-all to keep up after the give-up');
  const healthy = await pluginStatus(runtime, IDS.deriveAll);
  t.is(healthy.state, 'running');
  t.is(healthy.crashes, 0);

  // The operator can bring it back; it crashes again on the next delta (the fixture always does).
  const restarted = await http(runtime, 'POST', `/plugins/${IDS.trapOnDelta}/restart`);
  t.is(restarted.status, 200);
  await waitFor(
    async () => ((await pluginStatus(runtime, IDS.trapOnDelta)).crashes ?? 0) >= 1,
    'a new crash after the manual restart',
  );
});

test('modules that cannot load are refused with the plugin and cause in their status; the rest runs', async (t) => {
  const dir = await pluginFolder([
    { from: FIXTURES, name: 'derive-all' },
    { from: FIXTURES, name: 'missing-import' },
    { from: FIXTURES, name: 'derive-all', as: 'truncated' },
    { from: FIXTURES, name: 'derive-all', as: 'bad-magic' },
  ]);
  const rename = (folder: string, name: string, mutate: (b: Buffer) => Buffer) => {
    const pkgFile = join(dir, folder, 'package.json');
    writeFileSync(pkgFile, JSON.stringify({ ...JSON.parse(readFileSync(pkgFile, 'utf8')), name }));
    const wasm = join(dir, folder, 'plugin.wasm');
    writeFileSync(wasm, mutate(readFileSync(wasm)));
  };
  rename('truncated', 'truncated-plugin', (b) => b.subarray(0, Math.floor(b.length / 2)));
  rename('bad-magic', 'bad-magic-plugin', (b) => Buffer.concat([Buffer.from('\x7fELF'), b.subarray(4)]));
  const { runtime, stop } = await startTestRuntime({ pluginDirs: [dir] });
  t.teardown(stop);

  const list = (await http(runtime, 'GET', '/plugins')).body as PluginView[];
  const byId = new Map(list.map((p) => [p.id, p]));
  const expectError = (id: string, cause: RegExp) => {
    const p = byId.get(id);
    t.is(p?.state, 'error', `${id}: ${JSON.stringify(p)}`);
    t.true((p?.errorMessage ?? '').includes(`plugin ${id}:`), `${id} named in: ${p?.errorMessage}`);
    t.regex(p?.errorMessage ?? '', cause);
  };
  expectError(IDS.missingImport, /missing import env\.sk_nonexistent/);
  expectError('truncated-plugin', /truncated module/);
  expectError('bad-magic-plugin', /not a wasm module \(bad magic/);
  t.is(byId.get(IDS.deriveAll)?.state, 'running');

  publish(runtime, [{ path: 'environment.water.temperature', value: 290 }]);
  await waitFor(() => runtime.model.valueAt('vessels.self', 'bench.derived')?.value === 580, 'derive-all output');
  const api = await http(runtime, 'GET', '/signalk/v1/api/vessels/self/environment/water/temperature');
  t.like(api, { status: 200, body: { value: 290 } });
});

test('two plugins answering each other forever are cut off after a bounded chain', async (t) => {
  const dir = await pluginFolder([
    { from: FIXTURES, name: 'derive-all' },
    { from: FIXTURES, name: 'derive-all', as: 'echo' },
  ]);
  const pkgFile = join(dir, 'echo', 'package.json');
  writeFileSync(pkgFile, JSON.stringify({ ...JSON.parse(readFileSync(pkgFile, 'utf8')), name: 'derive-all-echo' }));
  const { runtime, stop } = await startTestRuntime({ pluginDirs: [dir] });
  t.teardown(stop);
  let outputs = 0;
  runtime.bus.subscribe((m) => {
    const source = m.delta.updates[0]?.$source;
    if (source === IDS.deriveAll || source === 'derive-all-echo') outputs++;
  });
  // Each answers the input and then every output of the other: two deltas per generation.
  publish(runtime, [{ path: 'environment.water.temperature', value: 1 }]);
  // Delivery is asynchronous: the chain has ended when each plugin's next answer was cut.
  const cut = () => runtime.plugins.list().reduce((n, p) => n + ('deltas' in p ? p.deltas.feedbackDropped : 0), 0);
  await waitFor(() => cut() === 2, 'one cut answer per plugin');
  t.is(outputs, 2 * MAX_GENERATIONS);
  const api = await http(runtime, 'GET', '/plugins');
  t.is(api.status, 200);
  t.true((api.body as PluginView[]).every((p) => p.state === 'running'));
});
