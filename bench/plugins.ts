// Plugin benchmark: deltas per second through a WASM plugin and back onto the bus (the derive-all
// fixture subscribes to `*` and emits one derived value per delta), and plugin start time
// (load + plugin_start, median of several cold starts).

import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeltaBus } from '../runtime/bus/bus.js';
import { SignalKModel } from '../runtime/model/model.js';
import { PluginManager } from '../runtime/plugins/manager.js';
import { PROJECT_ROOT, type Settings } from '../runtime/config/settings.js';
import { buildAll } from '../scripts/build-examples.js';
import { median } from './stats.js';

const FIXTURE = join(PROJECT_ROOT, 'test', 'fixtures', 'plugins', 'derive-all');
const PLUGIN_ID = '_signalk-edge-fixture_derive-all';

function settingsFor(pluginDir: string, dataDir: string): Settings {
  return { port: 0, host: '127.0.0.1', dataDir, sources: [], plugins: { dirs: [pluginDir], watch: false } };
}

async function startManager(pluginDir: string): Promise<{ manager: PluginManager; bus: DeltaBus; dataDir: string; startMs: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ske-bench-data-'));
  const model = new SignalKModel('urn:mrn:imo:mmsi:123456789');
  const bus = new DeltaBus(model.selfContext);
  bus.subscribe((m) => model.apply(m.delta));
  const manager = await PluginManager.create({ settings: settingsFor(pluginDir, dataDir), bus, model });
  const t0 = performance.now();
  await manager.startAll();
  const startMs = performance.now() - t0;
  if (manager.runner(PLUGIN_ID)?.currentState !== 'running') throw new Error(`derive-all did not start: ${JSON.stringify(manager.list())}`);
  return { manager, bus, dataDir, startMs };
}

/** Runs both measurements; returns the lines to print. */
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
    for (let i = 0; i < 2000; i++) bus.publish(input(i), 'bench'); // warm-up
    outputs = 0;
    const t0 = performance.now();
    for (let i = 0; i < deltas; i++) bus.publish(input(i), 'bench');
    const seconds = (performance.now() - t0) / 1000;
    await manager.stopAll();
    rmSync(dataDir, { recursive: true, force: true });
    if (outputs !== deltas) throw new Error(`derive-all emitted ${outputs} values for ${deltas} deltas`);
    const perSecond = Math.round(deltas / seconds).toLocaleString('en');
    return [
      `plugins         ${perSecond} deltas/s bus → derive-all (wasm, subscribes *) → bus, one output per input (${deltas} deltas)`,
      `plugins         start (load + plugin_start) median ${median(startMsSamples).toFixed(1)} ms of ${starts}, first ${startMsSamples[0]!.toFixed(1)} ms`,
    ];
  } finally {
    rmSync(pluginDir, { recursive: true, force: true });
  }
}
