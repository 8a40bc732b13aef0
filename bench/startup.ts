// Startup benchmark: cold (AOT cache empty) vs warm (cache full) start of 1 and 10 plugins, RSS of
// the runtime with 0, 1 and 10 plugins (each figure from a fresh child process, see
// startup-child.ts), and deltas/s into 10 plugins at once against 1. The plugins are copies of the
// derive-all fixture under distinct package names, each with a distinct custom section so every
// copy has its own content hash and cache entry, as 10 different plugins would.

import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PluginManager } from '../runtime/plugins/manager.js';
import { PROJECT_ROOT } from '../runtime/config/settings.js';
import { modelAndBus, pluginSettings } from './wiring.js';
import { buildAll } from '../scripts/build-examples.js';
import { median } from './stats.js';

const run = promisify(execFile);
const FIXTURE = join(PROJECT_ROOT, 'test', 'fixtures', 'plugins', 'derive-all');
const CHILD = fileURLToPath(new URL('./startup-child.js', import.meta.url));
const BENCH_SCOPE = '_signalk-edge-bench_';
/** Deltas published per event-loop turn in the throughput run. */
const FEED_CHUNK = 1000;

const mb = (bytes: number): string => (bytes / 1048576).toFixed(1);

function uleb128(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** `wasm` with a custom section appended: same code, different content hash. */
function withCustomSection(wasm: Buffer, name: string, payload: string): Buffer {
  const body = [...uleb128(Buffer.byteLength(name)), ...Buffer.from(name), ...Buffer.from(payload)];
  return Buffer.concat([wasm, Buffer.from([0, ...uleb128(body.length), ...body])]);
}

/** A plugin folder holding `count` derive-all copies named @signalk-edge-bench/derive-all-<i>, subscribed to `subscribePath`. */
function pluginDirWith(count: number, subscribePath = '*'): string {
  const dir = mkdtempSync(join(tmpdir(), `ske-bench-startup-${count}-`));
  const pkg = JSON.parse(readFileSync(join(FIXTURE, 'package.json'), 'utf8')) as Record<string, unknown>;
  const wasm = readFileSync(join(FIXTURE, 'plugin.wasm'));
  for (let i = 0; i < count; i++) {
    const copy = join(dir, `derive-all-${i}`);
    mkdirSync(copy);
    writeFileSync(
      join(copy, 'package.json'),
      JSON.stringify({
        ...pkg,
        name: `@signalk-edge-bench/derive-all-${i}`,
        signalkEdge: { subscriptions: [{ context: '*', path: subscribePath }] },
      }),
    );
    writeFileSync(join(copy, 'plugin.wasm'), withCustomSection(wasm, 'signalk-edge-bench', `copy ${i}`));
  }
  return dir;
}

async function child(args: string[], flags: string[] = []): Promise<Record<string, number>> {
  const { stdout } = await run(process.execPath, [...flags, CHILD, ...args], { timeout: 120_000 });
  const parsed: unknown = JSON.parse(stdout.trim().split('\n').pop() ?? '');
  if (typeof parsed !== 'object' || parsed === null) throw new Error(`child printed ${stdout}`);
  return parsed as Record<string, number>;
}

/** name → mtime of each cache entry: unchanged after a warm start means every load was a hit. */
function cacheEntries(cacheDir: string): Map<string, number> {
  return new Map(readdirSync(cacheDir).map((f) => [f, statSync(join(cacheDir, f)).mtimeMs]));
}

/** Median cold and warm start in ms; each cold run starts from an empty cache, the warm run after it reuses it. */
async function coldWarm(pluginDir: string, plugins: number, reps: number): Promise<{ cold: number; warm: number }> {
  const cacheDir = mkdtempSync(join(tmpdir(), 'ske-bench-cache-'));
  const cold: number[] = [];
  const warm: number[] = [];
  try {
    for (let i = 0; i < reps; i++) {
      rmSync(cacheDir, { recursive: true, force: true });
      mkdirSync(cacheDir);
      cold.push((await child(['start', pluginDir, cacheDir])).ms);
      const filled = cacheEntries(cacheDir);
      if (filled.size !== plugins)
        throw new Error(`cold start of ${plugins} plugins left ${filled.size} cache entries`);
      warm.push((await child(['start', pluginDir, cacheDir])).ms);
      const after = cacheEntries(cacheDir);
      if (after.size !== plugins || [...filled].some(([f, mtime]) => after.get(f) !== mtime))
        throw new Error('warm start rewrote cache entries (a miss)');
    }
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
  return { cold: median(cold), warm: median(warm) };
}

async function medianRss(pluginDir: string, plugins: number, cacheDir: string, reps: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < reps; i++)
    samples.push((await child(['rss', pluginDir, cacheDir, String(plugins)], ['--expose-gc'])).rss);
  return median(samples);
}

/** Deltas/s published on the bus while every plugin (each subscribed `*`) emits one output per input. */
async function deltasPerSecond(pluginDir: string, plugins: number, deltas: number): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ske-bench-data-'));
  const { model, bus } = modelAndBus();
  const manager = await PluginManager.create({ settings: pluginSettings(pluginDir, dataDir), bus, model });
  try {
    await manager.startAll();
    const running = manager.list().filter((p) => p.state === 'running').length;
    if (running !== plugins)
      throw new Error(`${running} of ${plugins} plugins running: ${JSON.stringify(manager.list())}`);
    let outputs = 0;
    bus.subscribe((m) => {
      if (m.delta.updates[0]?.$source?.startsWith(BENCH_SCOPE)) outputs++;
    });
    const input = (i: number) => ({
      updates: [{ source: { label: 'bench' }, values: [{ path: 'environment.wind.speedApparent', value: i % 30 }] }],
    });
    // Deliveries are queued (each plugin's inbox holds 10,000) and run in guarded batches between
    // event-loop turns: publish a chunk per turn, as a source does, and wait for every answer.
    const feed = async (count: number, deadline: number): Promise<void> => {
      const target = outputs + plugins * count;
      for (let i = 0; i < count; i += FEED_CHUNK) {
        for (let j = i; j < Math.min(i + FEED_CHUNK, count); j++) bus.publish(input(j), 'bench');
        await new Promise((r) => setImmediate(r));
      }
      while (outputs < target && performance.now() < deadline) await new Promise((r) => setImmediate(r));
    };
    await feed(1000, performance.now() + 60_000); // warm-up
    outputs = 0;
    const t0 = performance.now();
    await feed(deltas, t0 + 60_000);
    const seconds = (performance.now() - t0) / 1000;
    if (outputs !== plugins * deltas)
      throw new Error(`${plugins} plugins emitted ${outputs} values for ${deltas} deltas`);
    return deltas / seconds;
  } finally {
    await manager.stopAll();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
const rate = (n: number): string => Math.round(n).toLocaleString('en');

/** Runs all measurements; returns the lines to print. */
export async function benchStartup(reps = 5, rssReps = 3, deltas = 10_000): Promise<string[]> {
  await buildAll(() => undefined);
  const dirs = {
    0: pluginDirWith(0),
    1: pluginDirWith(1),
    10: pluginDirWith(10),
    feed1: pluginDirWith(1, 'environment.*'),
    feed10: pluginDirWith(10, 'environment.*'),
  };
  const rssCache = mkdtempSync(join(tmpdir(), 'ske-bench-cache-'));
  try {
    const lines: string[] = [];
    for (const n of [1, 10] as const) {
      const { cold, warm } = await coldWarm(dirs[n], n, reps);
      lines.push(
        `startup         ${n} plugin(s): cold (cache empty) ${cold.toFixed(1)} ms, warm (cache full) ${warm.toFixed(1)} ms, warm/cold ${ratio(warm, cold)} (median of ${reps}, PluginManager.create → all running, fresh process each)`,
      );
    }

    await child(['start', dirs[10], rssCache]); // fill the cache: RSS is of a warm start
    const rss: Record<number, number> = {};
    for (const n of [0, 1, 10] as const) rss[n] = await medianRss(dirs[n], n, rssCache, rssReps);
    lines.push(
      `startup         runtime RSS (startRuntime, no sources, API up, after gc) 0 plugins ${mb(rss[0]!)} MB, 1 plugin ${mb(rss[1]!)} MB, 10 plugins ${mb(rss[10]!)} MB (median of ${rssReps} processes)`,
    );
    lines.push(
      `startup         RSS per plugin ≈ ${mb(rss[1]! - rss[0]!)} MB (1 vs 0), ${mb((rss[10]! - rss[0]!) / 10)} MB (10 vs 0, averaged); 10/0 plugins ${ratio(rss[10]!, rss[0]!)}`,
    );

    lines.push(
      'startup         call overhead host→plugin: see the `engine` bench (bare export call, delta_handler round trip)',
    );

    // Copies subscribed `*` would feed on each other's bench.derived outputs without end, so here
    // each takes every context's environment.* (all the bench publishes) and not the others' outputs.
    const one = await deltasPerSecond(dirs.feed1, 1, deltas);
    const ten = await deltasPerSecond(dirs.feed10, 10, deltas);
    lines.push(
      `startup         deltas/s into 10 plugins at once (each subscribed environment.*, one output each, runaway guard on) ${rate(ten)} deltas/s = ${rate(ten * 10)} plugin outputs/s; into 1 plugin ${rate(one)} deltas/s; 10/1 ${ratio(ten, one)} (${deltas} deltas)`,
    );
    return lines;
  } finally {
    for (const dir of Object.values(dirs)) rmSync(dir, { recursive: true, force: true });
    rmSync(rssCache, { recursive: true, force: true });
  }
}
