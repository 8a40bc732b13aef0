// Engine benchmark: Node WebAssembly + node:wasi (library plugins, the upstream env ABI) against
// @wasmer/sdk (WASI commands: `_start`, stdin/stdout, no custom host imports).
// Measures cold load, call round trip and memory per instance. `node dist/bench/engine.js`.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPluginBytes, type PluginInstance } from '../runtime/engine/index.js';
import { ensurePluginStorage } from '../runtime/storage/plugin-storage.js';
import { PROJECT_ROOT } from '../runtime/config/settings.js';
import type { HostServices } from '../runtime/engine/types.js';
import { buildAll } from '../scripts/build-examples.js';
import { median } from './stats.js';

const fixture = (name: string): string => join(PROJECT_ROOT, 'test', 'fixtures', 'plugins', name, 'plugin.wasm');

const mb = (bytes: number): string => (bytes / 1048576).toFixed(1);

/** A host that does nothing but hand each emitted delta to `onEmit`: the engine's cost alone. */
export function benchHost(pluginId: string, onEmit: (json: string) => void): HostServices {
  return {
    pluginId,
    debug: () => undefined,
    setStatus: () => undefined,
    setError: () => undefined,
    emitDelta: (json) => {
      onEmit(json);
      return undefined;
    },
    getPath: () => undefined,
    readConfig: () => undefined,
    saveConfig: () => true,
    hasCapability: () => false,
    allowsNet: () => false,
    publishNotification: () => true,
    registerPutHandler: () => true,
    registerResourceProvider: () => false,
    registerWeatherProvider: () => false,
    registerRadarProvider: () => false,
    emitBinaryStream: () => false,
  };
}

async function benchNode(lines: string[]): Promise<void> {
  const bytes = readFileSync(fixture('derive-all'));
  const dataDir = mkdtempSync(join(tmpdir(), 'ske-bench-engine-'));
  try {
    const counter = { emitted: 0 };
    const loadMs: number[] = [];
    let plugin: PluginInstance | undefined;
    for (let i = 0; i < 15; i++) {
      plugin?.close();
      const t0 = performance.now();
      plugin = await loadPluginBytes({
        id: `derive-${i}`,
        bytes,
        vfsRoot: ensurePluginStorage(dataDir, `derive-${i}`),
        host: benchHost(`derive-${i}`, () => counter.emitted++),
      });
      loadMs.push(performance.now() - t0);
    }
    const p = plugin!;
    p.start('{}');
    const delta = JSON.stringify({
      context: 'vessels.self',
      updates: [{ source: { label: 'bench' }, values: [{ path: 'environment.depth.belowTransducer', value: 12.3 }] }],
    });
    const n = 50_000;
    for (let i = 0; i < 2000; i++) p.deliverDelta(delta); // warm-up
    let t0 = performance.now();
    for (let i = 0; i < n; i++) p.deliverDelta(delta);
    const deltaUs = ((performance.now() - t0) * 1000) / n;
    t0 = performance.now();
    for (let i = 0; i < n; i++) p.stop();
    const callUs = ((performance.now() - t0) * 1000) / n;
    p.close();

    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    const many: PluginInstance[] = [];
    for (let i = 0; i < 20; i++) {
      many.push(
        await loadPluginBytes({
          id: `mem-${i}`,
          bytes,
          vfsRoot: ensurePluginStorage(dataDir, `mem-${i}`),
          host: benchHost(`mem-${i}`, () => counter.emitted++),
        }),
      );
    }
    const perInstance = (process.memoryUsage().rss - rss0) / many.length;
    for (const m of many) m.close();

    lines.push(
      `node wasm+wasi  load (validate+compile+instantiate) median ${median(loadMs).toFixed(2)} ms, first ${loadMs[0]!.toFixed(2)} ms (derive-all, ${bytes.length} B)`,
    );
    lines.push(
      `node wasm+wasi  delta_handler round trip (parse delta, emit one) ${deltaUs.toFixed(2)} µs/delta = ${Math.round(1e6 / deltaUs)} deltas/s`,
    );
    lines.push(`node wasm+wasi  bare export call (plugin_stop) ${callUs.toFixed(3)} µs/call`);
    lines.push(`node wasm+wasi  memory ≈ ${mb(perInstance)} MB RSS per instance (20 instances)`);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function benchWasmer(lines: string[]): Promise<void> {
  const bytes = readFileSync(fixture('wasi-echo'));
  const rss0 = process.memoryUsage().rss;
  let t0 = performance.now();
  // The node entry point initialises from the wasm bundled in node_modules: no network needed.
  const { Wasmer } = await import('@wasmer/sdk/node');
  const wasmer = await Wasmer.create({ cache: false });
  const initMs = performance.now() - t0;
  t0 = performance.now();
  const pkg = await wasmer.packages.load(bytes);
  const sandbox = await wasmer.sandboxes.create({ packages: [pkg], network: { mode: 'disabled' } });
  const sandboxMs = performance.now() - t0;
  const runMs: number[] = [];
  let echoed = '';
  for (let i = 0; i < 20; i++) {
    t0 = performance.now();
    const out = await sandbox.command(pkg).run({ stdin: '{"updates":[]}\n' });
    runMs.push(performance.now() - t0);
    echoed = out.text();
  }
  const rss = process.memoryUsage().rss - rss0;
  await sandbox.close();
  await wasmer.close();
  if (echoed !== '{"updates":[]}\n') throw new Error(`wasi-echo returned ${JSON.stringify(echoed)}`);
  lines.push(
    `@wasmer/sdk     init (Wasmer.create, bundled wasm) ${initMs.toFixed(0)} ms; package load + sandbox ${sandboxMs.toFixed(0)} ms`,
  );
  lines.push(
    `@wasmer/sdk     run of a WASI command (stdin line → stdout) median ${median(runMs).toFixed(1)} ms, first ${runMs[0]!.toFixed(1)} ms`,
  );
  lines.push(`@wasmer/sdk     memory ≈ ${mb(rss)} MB RSS for the runtime and one sandbox`);
}

/** Runs both measurements; returns the lines to print. */
export async function benchEngine(): Promise<string[]> {
  await buildAll(() => undefined);
  const lines: string[] = [];
  await benchNode(lines);
  await benchWasmer(lines);
  return lines;
}
