// Plugin benchmark: deltas per second through a WASM plugin and back onto the bus (the derive-all
// fixture subscribes to `*` and emits one derived value per delta), plugin start time (load +
// plugin_start, median of several cold starts), and what the runaway guard costs per delivery:
// direct, one guarded run per delta, one guarded run per batch (what the runner does).

import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeltaBus } from '../runtime/bus/bus.js';
import { PluginManager } from '../runtime/plugins/manager.js';
import { PROJECT_ROOT } from '../runtime/config/settings.js';
import { modelAndBus, pluginSettings } from './wiring.js';
import { buildAll } from '../scripts/build-examples.js';
import { loadPluginBytes } from '../runtime/engine/index.js';
import { CallGuard } from '../runtime/plugins/call-guard.js';
import { ensurePluginStorage } from '../runtime/storage/plugin-storage.js';
import { benchHost } from './engine.js';
import { median } from './stats.js';

const FIXTURE = join(PROJECT_ROOT, 'test', 'fixtures', 'plugins', 'derive-all');
const PLUGIN_ID = '_signalk-edge-fixture_derive-all';
/** Deltas published per event-loop turn: well under the plugin's inbox (10,000). */
const CHUNK = 1000;

async function startManager(
  pluginDir: string,
): Promise<{ manager: PluginManager; bus: DeltaBus; dataDir: string; startMs: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ske-bench-data-'));
  const { model, bus } = modelAndBus();
  const manager = await PluginManager.create({ settings: pluginSettings(pluginDir, dataDir), bus, model });
  const t0 = performance.now();
  await manager.startAll();
  const startMs = performance.now() - t0;
  if (manager.runner(PLUGIN_ID)?.currentState !== 'running')
    throw new Error(`derive-all did not start: ${JSON.stringify(manager.list())}`);
  return { manager, bus, dataDir, startMs };
}

/** µs per delta into derive-all: direct calls, one guarded run per delta, one guarded run per 100 deltas. */
async function guardCost(dataDir: string, n = 20_000): Promise<string[]> {
  const counter = { emitted: 0 };
  const bytes = readFileSync(join(FIXTURE, 'plugin.wasm'));
  const plugin = await loadPluginBytes({
    id: 'guard-bench',
    bytes,
    vfsRoot: ensurePluginStorage(dataDir, 'guard-bench'),
    host: benchHost('guard-bench', () => counter.emitted++),
  });
  try {
    plugin.start('{}');
    const guard = new CallGuard(1000);
    const delta = JSON.stringify({
      context: 'vessels.self',
      updates: [{ source: { label: 'bench' }, values: [{ path: 'environment.wind.speedApparent', value: 7 }] }],
    });
    const deliver = () => plugin.deliverDelta(delta);
    const usPer = (run: () => void): number => {
      const t0 = performance.now();
      run();
      return ((performance.now() - t0) * 1000) / n;
    };
    usPer(() => {
      for (let i = 0; i < n; i++) deliver(); // warm-up
    });
    const direct = usPer(() => {
      for (let i = 0; i < n; i++) deliver();
    });
    const each = usPer(() => {
      for (let i = 0; i < n; i++) guard.run(deliver, 'delta_handler');
    });
    const batched = usPer(() => {
      for (let i = 0; i < n; i += 100) {
        guard.run(() => {
          for (let j = 0; j < 100; j++) deliver();
        }, 'delta_handler');
      }
    });
    if (counter.emitted !== 4 * n) throw new Error(`derive-all emitted ${counter.emitted} for ${4 * n} deltas`);
    return [
      `plugins         delivery into derive-all: direct ${direct.toFixed(1)} µs/delta, guarded run per delta ${each.toFixed(1)} µs (${(each / direct).toFixed(2)}× direct), guarded run per 100 deltas ${batched.toFixed(1)} µs (${(batched / direct).toFixed(2)}× direct)`,
    ];
  } finally {
    plugin.close();
  }
}

/** Runs the measurements; returns the lines to print. */
export async function benchPlugins(deltas = 100_000, starts = 7): Promise<string[]> {
  await buildAll(() => undefined);
  const pluginDir = mkdtempSync(join(tmpdir(), 'ske-bench-plugins-'));
  cpSync(FIXTURE, join(pluginDir, 'derive-all'), { recursive: true });
  try {
    const startMsSamples: number[] = [];
    for (let i = 0; i < starts; i++) {
      const run = await startManager(pluginDir);
      startMsSamples.push(run.startMs);
      await run.manager.stopAll();
      rmSync(run.dataDir, { recursive: true, force: true });
    }

    const { manager, bus, dataDir } = await startManager(pluginDir);
    let outputs = 0;
    bus.subscribe((m) => {
      if (m.delta.updates[0]?.$source === PLUGIN_ID) outputs++;
    });
    const input = (i: number) => ({
      updates: [{ source: { label: 'bench' }, values: [{ path: 'environment.wind.speedApparent', value: i % 30 }] }],
    });
    // Delivery is queued and runs in guarded batches between event-loop turns: publish in chunks
    // (as a source does, one read at a time) and let the plugin catch up before the next one.
    const feed = async (from: number, count: number): Promise<void> => {
      const target = outputs + count;
      for (let i = from; i < from + count; i += CHUNK) {
        for (let j = i; j < Math.min(i + CHUNK, from + count); j++) bus.publish(input(j), 'bench');
        await new Promise((r) => setImmediate(r));
      }
      while (outputs < target) await new Promise((r) => setImmediate(r));
    };
    await feed(0, 2000); // warm-up
    outputs = 0;
    const t0 = performance.now();
    await feed(0, deltas);
    const seconds = (performance.now() - t0) / 1000;
    await manager.stopAll();
    const guardLines = await guardCost(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
    if (outputs !== deltas) throw new Error(`derive-all emitted ${outputs} values for ${deltas} deltas`);
    const perSecond = Math.round(deltas / seconds).toLocaleString('en');
    return [
      `plugins         ${perSecond} deltas/s bus → derive-all (wasm, subscribes *) → bus, one output per input, guarded batches (${deltas} deltas, published ${CHUNK} per turn)`,
      ...guardLines,
      `plugins         start (load + plugin_start) median ${median(startMsSamples).toFixed(1)} ms of ${starts}, first ${startMsSamples[0]!.toFixed(1)} ms`,
    ];
  } finally {
    rmSync(pluginDir, { recursive: true, force: true });
  }
}
