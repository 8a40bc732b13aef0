// Child process of the startup benchmark, so each figure comes from a fresh Node (no V8 or module
// caches left by earlier runs, no RSS from the bench itself). Prints one JSON line on stdout.
//   node startup-child.js start <pluginDir> <cacheDir>   ms from PluginManager.create to all plugins running
//   node --expose-gc startup-child.js rss <pluginDir> <cacheDir> <plugins>   RSS of a started runtime

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRuntime } from '../runtime/app.js';
import { PluginManager } from '../runtime/plugins/manager.js';
import type { Settings } from '../runtime/config/settings.js';
import { modelAndBus, pluginSettings } from './wiring.js';
import { setLogLevel } from '../core/log.js';

/** Time left for timers and lazy allocations to settle before RSS is read. */
const SETTLE_MS = 1000;

function settingsFor(pluginDir: string, cacheDir: string, dataDir: string): Settings {
  return pluginSettings(pluginDir, dataDir, { cacheDir });
}

function assertAllRunning(manager: PluginManager, expected: number): void {
  const list = manager.list();
  const running = list.filter((p) => p.state === 'running').length;
  if (running !== expected || list.length !== expected)
    throw new Error(`${running} of ${expected} plugins running: ${JSON.stringify(list)}`);
}

async function measureStart(pluginDir: string, cacheDir: string, dataDir: string): Promise<Record<string, number>> {
  const { model, bus } = modelAndBus();
  const t0 = performance.now();
  const manager = await PluginManager.create({ settings: settingsFor(pluginDir, cacheDir, dataDir), bus, model });
  await manager.startAll();
  const ms = performance.now() - t0;
  const plugins = manager.list().length;
  assertAllRunning(manager, plugins);
  await manager.stopAll();
  return { ms, plugins };
}

async function measureRss(
  pluginDir: string,
  cacheDir: string,
  dataDir: string,
  expected: number,
): Promise<Record<string, number>> {
  const runtime = await startRuntime(settingsFor(pluginDir, cacheDir, dataDir));
  try {
    assertAllRunning(runtime.plugins, expected);
    await sleep(SETTLE_MS);
    global.gc?.();
    return { rss: process.memoryUsage().rss, plugins: expected };
  } finally {
    await runtime.stop();
  }
}

async function main(): Promise<void> {
  setLogLevel('warn');
  const [mode, pluginDir, cacheDir, count] = process.argv.slice(2);
  if ((mode !== 'start' && mode !== 'rss') || !pluginDir || !cacheDir)
    throw new Error('usage: startup-child.js start|rss <pluginDir> <cacheDir> [plugins]');
  const dataDir = mkdtempSync(join(tmpdir(), 'ske-bench-child-'));
  try {
    const result =
      mode === 'start'
        ? await measureStart(pluginDir, cacheDir, dataDir)
        : await measureRss(pluginDir, cacheDir, dataDir, Number(count ?? 0));
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
