// Runaway plugins: a call that never returns (delta_handler, plugin_start, poll, PUT handler,
// plugin_stop) is stopped at plugins.callTimeoutMs and handled as a crash while the stream, the
// API and the other plugins go on. Plus the fan-out guard (plugins re-emitting each other's
// outputs) and the bounded per-plugin inbox. The stream-gap and memory tests run serially (first,
// alone): the other tests' runtimes share this process and its event loop.

import test, { type ExecutionContext } from 'ava';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { Runtime } from '../../runtime/app.js';
import { MAX_DERIVED } from '../../runtime/plugins/publisher.js';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';
import { FIXTURES, IDS, http, pluginFolder, pluginStatus, publish, type PluginView } from '../helpers/plugins.js';
import { replaySource, startTestRuntime } from '../helpers/runtime.js';
import { waitFor } from '../helpers/wait.js';

const SPIN = '_signalk-edge-fixture_spin-on-delta';
const DEMO = join(PROJECT_ROOT, 'examples', 'data', 'demo-passage.nmea');

async function stateOf(runtime: Parameters<typeof pluginStatus>[0], id: string, state: string): Promise<PluginView> {
  return waitFor(async () => {
    const s = await pluginStatus(runtime, id);
    return s.state === state ? s : undefined;
  }, `${id} to be ${state}`);
}

/** spin-on-delta running under a 200 ms call bound, restarted quickly after a crash. */
async function spinOnDelta(t: ExecutionContext): Promise<Runtime> {
  const { runtime, stop } = await startTestRuntime({
    pluginDirs: [await pluginFolder([{ from: FIXTURES, name: 'spin-on-delta' }])],
    callTimeoutMs: 200,
    restart: { baseMs: 100, maxMs: 1000, maxCrashes: 5, stableMs: 60_000 },
  });
  t.teardown(stop);
  await stateOf(runtime, SPIN, 'running');
  return runtime;
}

/** Renames the package in folder `dir/<folder>` so several copies of one fixture can run side by side. */
function renamePackage(dir: string, folder: string, name: string): void {
  const pkgFile = join(dir, folder, 'package.json');
  writeFileSync(pkgFile, JSON.stringify({ ...JSON.parse(readFileSync(pkgFile, 'utf8')), name }));
}

test.serial(
  'a plugin looping in delta_handler is stopped at the bound and restarted; the stream never pauses over 1.5 s',
  async (t) => {
    const dir = await pluginFolder([
      { from: FIXTURES, name: 'spin-on-delta' },
      { from: FIXTURES, name: 'derive-all' },
    ]);
    const { runtime, wsUrl, stop } = await startTestRuntime({
      pluginDirs: [dir],
      sources: [replaySource('replay', DEMO, { rate: 'realtime', linesPerSecond: 20, loop: true })],
      restart: { baseMs: 300, maxMs: 1000, maxCrashes: 5, stableMs: 60_000 },
    });
    t.teardown(stop);

    // A real WebSocket client, noting when each delta from the replay source arrives.
    const arrivals: number[] = [];
    const ws = new WebSocket(`${wsUrl}/signalk/v1/stream?subscribe=all`);
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { updates?: { source?: { label?: string } }[] };
      if (msg.updates?.some((u) => u.source?.label === 'replay')) arrivals.push(Date.now());
    });
    t.teardown(() => ws.close());
    await once(ws, 'open');
    await waitFor(() => arrivals.length >= 20, 'replay deltas on the stream');
    await stateOf(runtime, SPIN, 'running');
    const deriveBefore = (await pluginStatus(runtime, IDS.deriveAll)).deltas?.received ?? 0;

    const first = arrivals.length - 1;
    publish(runtime, [{ path: 'test.spin', value: 1 }]);
    const crashed = await stateOf(runtime, SPIN, 'crashed');
    t.is(
      crashed.errorMessage,
      'crashed: delta_handler did not return within 1000 ms (plugins.callTimeoutMs) and was stopped',
    );
    const restarted = await waitFor(async () => {
      const s = await pluginStatus(runtime, SPIN);
      return s.state === 'running' && (s.restarts ?? 0) >= 1 ? s : undefined;
    }, 'the restart after the runaway');
    t.is(restarted.crashes, 1);
    const afterRestart = arrivals.length;
    await waitFor(() => arrivals.length >= afterRestart + 20, 'the stream going on after the restart');

    // The window runs from before the trigger to after the restart, so it spans the whole stall.
    const window = arrivals.slice(first);
    const crashedAt = Date.parse((crashed.events ?? []).filter((e) => e.event.startsWith('crashed'))[0]?.at ?? '');
    t.true(
      window[0]! < crashedAt && crashedAt < window[window.length - 1]!,
      'the crash happened inside the measured window',
    );
    let maxGap = 0;
    for (let i = 1; i < window.length; i++) maxGap = Math.max(maxGap, window[i]! - window[i - 1]!);
    t.log(`largest gap between replay deltas on the stream: ${maxGap} ms over ${window.length} deltas`);
    t.true(maxGap <= 1500, `largest gap ${maxGap} ms`);

    // The other plugin kept receiving deltas and never crashed; the restarted one receives again.
    const derive = await pluginStatus(runtime, IDS.deriveAll);
    t.like(derive, { state: 'running', crashes: 0 });
    t.true(
      (derive.deltas?.received ?? 0) > deriveBefore + window.length / 2,
      `derive-all received ${derive.deltas?.received} (was ${deriveBefore})`,
    );
    await waitFor(
      async () => ((await pluginStatus(runtime, SPIN)).deltas?.received ?? 0) > (restarted.deltas?.received ?? 0),
      'the restarted plugin receiving deltas',
    );
  },
);

test('plugin_start that never returns is stopped at the bound and counts as a crash until the plugin is given up', async (t) => {
  const dir = await pluginFolder([
    { from: FIXTURES, name: 'spin-on-delta' },
    { from: FIXTURES, name: 'derive-all' },
  ]);
  const { runtime, stop } = await startTestRuntime({
    pluginDirs: [dir],
    callTimeoutMs: 200,
    restart: { baseMs: 100, maxMs: 1000, maxCrashes: 2, stableMs: 60_000 },
  });
  t.teardown(stop);
  const configured = await http(runtime, 'PUT', `/plugins/${SPIN}/config`, { configuration: { spinIn: 'start' } });
  t.is(configured.status, 200);
  const failed = await stateOf(runtime, SPIN, 'failed');
  t.is(
    failed.errorMessage,
    'failed: crashed 2 times, last error: plugin_start did not return within 200 ms (plugins.callTimeoutMs) and was stopped',
  );
  t.is(failed.restarts, 1);

  publish(runtime, [{ path: 'environment.water.temperature', value: 290 }]);
  await waitFor(() => runtime.model.valueAt('vessels.self', 'bench.derived')?.value === 580, 'derive-all answering');
});

test('a module whose start code never returns is stopped while loading; it is an error, the others run', async (t) => {
  const dir = await pluginFolder([
    { from: FIXTURES, name: 'spin-on-load' },
    { from: FIXTURES, name: 'derive-all' },
  ]);
  const { runtime, stop } = await startTestRuntime({ pluginDirs: [dir], callTimeoutMs: 200 });
  t.teardown(stop);
  const status = await stateOf(runtime, '_signalk-edge-fixture_spin-on-load', 'error');
  t.is(status.errorMessage, 'loading the module did not return within 200 ms (plugins.callTimeoutMs) and was stopped');
  publish(runtime, [{ path: 'environment.water.temperature', value: 290 }]);
  await waitFor(() => runtime.model.valueAt('vessels.self', 'bench.derived')?.value === 580, 'derive-all answering');
});

test('poll that never returns is stopped at the bound and the plugin restarted', async (t) => {
  const runtime = await spinOnDelta(t);
  await http(runtime, 'PUT', `/plugins/${SPIN}/config`, { configuration: { spinIn: 'poll' } });
  const crashed = await waitFor(async () => {
    const s = await pluginStatus(runtime, SPIN);
    return (s.crashes ?? 0) >= 1 ? s : undefined;
  }, 'the poll runaway');
  t.regex(crashed.errorMessage ?? '', /poll did not return within 200 ms \(plugins\.callTimeoutMs\) and was stopped/);
  await waitFor(async () => ((await pluginStatus(runtime, SPIN)).restarts ?? 0) >= 1, 'a restart');
});

test('a PUT handler that never returns answers 500 naming the bound, and the plugin is restarted', async (t) => {
  const runtime = await spinOnDelta(t);
  const r = await http(runtime, 'PUT', '/signalk/v1/api/vessels/self/test/spin', { value: 1 });
  t.is(r.status, 500);
  t.like(r.body, {
    state: 'FAILED',
    message: `plugin ${SPIN} crashed handling the PUT: crashed: PUT handler did not return within 200 ms (plugins.callTimeoutMs) and was stopped`,
  });
  await waitFor(async () => ((await pluginStatus(runtime, SPIN)).restarts ?? 0) >= 1, 'a restart');
  await stateOf(runtime, SPIN, 'running');
});

test('plugin_stop that never returns does not hang disabling the plugin or shutting down', async (t) => {
  const dir = await pluginFolder([{ from: FIXTURES, name: 'spin-on-delta' }]);
  const { runtime, stop } = await startTestRuntime({ pluginDirs: [dir], callTimeoutMs: 200 });
  t.teardown(stop);
  await stateOf(runtime, SPIN, 'running');
  await http(runtime, 'PUT', `/plugins/${SPIN}/config`, { configuration: { spinIn: 'stop' } });
  await stateOf(runtime, SPIN, 'running');
  const disabled = await http(runtime, 'POST', `/plugins/${SPIN}/disable`);
  t.like(disabled, { status: 200, body: { state: 'disabled', enabled: false } });
  const events = ((disabled.body as PluginView).events ?? []).map((e) => e.event);
  t.true(
    events.includes(
      'plugin_stop failed: plugin_stop did not return within 200 ms (plugins.callTimeoutMs) and was stopped',
    ),
    events.join('; '),
  );

  // Once more through shutdown: enabled again (the configuration still spins in plugin_stop), then stopped.
  t.like(await http(runtime, 'POST', `/plugins/${SPIN}/enable`), { status: 200, body: { state: 'running' } });
  await stop();
  t.is(runtime.plugins.runner(SPIN)?.currentState, 'stopped');
});

test.serial(
  "plugins re-emitting each other's outputs are bounded per incoming delta; counts and memory stay bounded",
  async (t) => {
    const copies = ['a', 'b', 'c'];
    const dir = await pluginFolder(copies.map((c) => ({ from: FIXTURES, name: 'derive-all', as: c })));
    for (const c of copies) renamePackage(dir, c, `derive-all-${c}`);
    const { runtime, stop } = await startTestRuntime({ pluginDirs: [dir] });
    t.teardown(stop);
    let outputs = 0;
    runtime.bus.subscribe((m) => {
      if (m.delta.updates[0]?.$source?.startsWith('derive-all-')) outputs++;
    });
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;

    // Each copy answers every delta it did not emit: 3 answers, then 6, 12, ... without a bound
    // 3·(2^16 − 1) ≈ 196,000 deltas within the 16-generation cutoff, per incoming delta.
    const inputs = 20;
    for (let i = 1; i <= inputs; i++) publish(runtime, [{ path: 'environment.water.temperature', value: i }]);
    await waitFor(() => outputs >= inputs * MAX_DERIVED, 'the derived deltas');
    // Quiet: no more outputs trickle in once every chain has hit the budget.
    let seen = -1;
    await waitFor(
      () => {
        const settled = seen === outputs;
        seen = outputs;
        return settled;
      },
      'the plugins to go quiet',
      20_000,
      300,
    );
    t.is(outputs, inputs * MAX_DERIVED, 'exactly the budget of derived deltas per incoming delta');

    const statuses = await Promise.all(copies.map((c) => pluginStatus(runtime, `derive-all-${c}`)));
    const sum = (f: (s: PluginView) => number) => statuses.reduce((n, s) => n + f(s), 0);
    const emitted = sum((s) => s.deltas?.emitted ?? 0);
    const cut = sum((s) => (s.deltas as { feedbackDropped?: number } | undefined)?.feedbackDropped ?? 0);
    t.true(
      statuses.every(
        (s) => s.state === 'running' && ((s.deltas as { feedbackDropped?: number }).feedbackDropped ?? 0) > 0,
      ),
      JSON.stringify(statuses.map((s) => s.deltas)),
    );
    t.is(emitted - cut, outputs, 'every emitted delta was either published or counted as cut');
    t.is(
      sum((s) => s.deltas?.dropped ?? 0),
      0,
      'no inbox overflowed',
    );
    const rssGrowthMB = (process.memoryUsage().rss - rssBefore) / 1048576;
    t.log(`${outputs} derived deltas published, ${cut} cut; RSS growth ${rssGrowthMB.toFixed(1)} MB`);
    t.true(rssGrowthMB < 100, `RSS grew ${rssGrowthMB.toFixed(1)} MB`);

    // A delta from outside still gets its full answer from every copy.
    const before = outputs;
    publish(runtime, [{ path: 'environment.water.temperature', value: 1000 }]);
    await waitFor(() => outputs >= before + MAX_DERIVED, 'answers to a new delta');
  },
);

test('a plugin that cannot keep up keeps the newest 10,000 deltas, in order, and counts what it dropped', async (t) => {
  const dir = await pluginFolder([{ from: FIXTURES, name: 'derive-all' }]);
  const { runtime, stop } = await startTestRuntime({ pluginDirs: [dir] });
  t.teardown(stop);
  await stateOf(runtime, IDS.deriveAll, 'running');
  const outputs: number[] = [];
  runtime.bus.subscribe((m) => {
    const u = m.delta.updates[0];
    if (u?.$source === IDS.deriveAll) outputs.push(u.values?.[0]?.value as number);
  });
  // Published in one go, faster than any plugin can take them: the inbox holds 10,000.
  const sent = 12_000;
  for (let i = 1; i <= sent; i++) publish(runtime, [{ path: 'environment.water.temperature', value: i }]);
  await waitFor(() => outputs.length >= 10_000, 'the queued deltas answered');
  const status = await pluginStatus(runtime, IDS.deriveAll);
  t.like(status.deltas, { received: 10_000, dropped: 2000 });
  t.deepEqual(
    outputs,
    Array.from({ length: 10_000 }, (_, i) => 2 * (i + 2001)),
    'the oldest were dropped, the rest answered in order',
  );
});
