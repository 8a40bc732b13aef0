// Hot reload: the plugin's .wasm is replaced by rename while deltas flow. Every input still gets
// exactly one derived output; a replacement that does not load leaves the old module in service.

import test from 'ava';
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, IDS, pluginFolder, pluginStatus, publish } from '../helpers/plugins.js';
import { startTestRuntime } from '../helpers/runtime.js';
import { waitFor } from '../helpers/wait.js';

test('replacing the .wasm while deltas flow reloads the plugin without losing a delta', async (t) => {
  const dir = await pluginFolder([{ from: FIXTURES, name: 'derive-all' }]);
  const wasm = join(dir, 'derive-all', 'plugin.wasm');
  const { runtime, stop } = await startTestRuntime({ pluginDirs: [dir], watch: true });
  t.teardown(stop);
  const outputs: number[] = [];
  runtime.bus.subscribe((m) => {
    const u = m.delta.updates[0];
    if (u?.$source === IDS.deriveAll) outputs.push(u.values?.[0]?.value as number);
  });
  let sent = 0;
  const feed = () => publish(runtime, [{ path: 'environment.water.temperature', value: ++sent }]);
  const feeder = setInterval(feed, 3);
  t.teardown(() => clearInterval(feeder));
  await waitFor(() => outputs.length >= 50, 'deltas flowing');

  const replace = (bytes: Buffer) => {
    const tmp = `${wasm}.tmp`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, wasm);
  };
  const good = readFileSync(wasm);
  const reloads = async () =>
    ((await pluginStatus(runtime, IDS.deriveAll)).events ?? []).filter((e) => e.event === 'reloaded').length;

  replace(good); // a rebuilt module: same code, new file
  await waitFor(async () => (await reloads()) === 1, 'the reload');
  await waitFor(() => outputs.length >= sent - 5 && sent > 0 && outputs.length > 100, 'more deltas after the reload');

  replace(good.subarray(0, 100)); // an interrupted copy
  const kept = await waitFor(async () => {
    const s = await pluginStatus(runtime, IDS.deriveAll);
    return /reload failed/.test(s.errorMessage ?? '') ? s : undefined;
  }, 'the failed reload to be reported');
  t.is(kept.state, 'running');
  t.regex(
    kept.errorMessage ?? '',
    /reload failed, still running the previous module: plugin _signalk-edge-fixture_derive-all: truncated module/,
  );
  const afterBad = outputs.length;
  await waitFor(() => outputs.length > afterBad + 20, 'the old module still answering');

  copyFileSync(join(FIXTURES, 'derive-all', 'plugin.wasm'), `${wasm}.new`);
  renameSync(`${wasm}.new`, wasm);
  await waitFor(async () => (await reloads()) === 2, 'the second reload');
  t.is((await pluginStatus(runtime, IDS.deriveAll)).errorMessage, '');

  clearInterval(feeder);
  await waitFor(() => outputs.length >= sent, 'every input answered');
  t.is(outputs.length, sent, 'exactly one output per input');
  // In order, none missing or repeated: output n is input n doubled.
  t.deepEqual(
    outputs,
    Array.from({ length: sent }, (_, i) => 2 * (i + 1)),
  );
  const status = await pluginStatus(runtime, IDS.deriveAll);
  t.like(status, { state: 'running', crashes: 0 });
  t.is(status.deltas?.dropped, 0);
});

test('deltas arriving while a plugin (re)starts are buffered and delivered in order afterwards', async (t) => {
  const dir = await pluginFolder([{ from: FIXTURES, name: 'derive-all' }]);
  const { runtime, stop } = await startTestRuntime({ pluginDirs: [dir] });
  t.teardown(stop);
  const runner = runtime.plugins.runner(IDS.deriveAll);
  if (!runner) throw new Error('derive-all not discovered');
  const outputs: number[] = [];
  runtime.bus.subscribe((m) => {
    const u = m.delta.updates[0];
    if (u?.$source === IDS.deriveAll) outputs.push(u.values?.[0]?.value as number);
  });

  // A new configuration restarts the plugin with a fresh instance; the module compiles
  // asynchronously. Deltas published while it is `starting` must wait for it, not be lost.
  let buffered = 0;
  for (let attempt = 0; attempt < 20 && buffered === 0; attempt++) {
    let done = false;
    const restart = runner.setConfiguration({ attempt }).then(() => (done = true));
    while (!done && runner.currentState !== 'starting') await new Promise((r) => setImmediate(r));
    if (runner.currentState === 'starting') {
      for (let i = 1; i <= 100; i++) publish(runtime, [{ path: 'environment.water.temperature', value: i }]);
      buffered = 100;
      t.is(outputs.length, 0, 'nothing answered before the plugin runs');
    }
    await restart;
  }
  t.is(buffered, 100, 'caught the plugin while starting');
  t.is(runner.currentState, 'running');
  await waitFor(() => outputs.length >= 100, 'the buffered deltas answered');
  t.deepEqual(
    outputs,
    Array.from({ length: 100 }, (_, i) => 2 * (i + 1)),
  );
  t.is(runner.status().deltas.dropped, 0);
});
