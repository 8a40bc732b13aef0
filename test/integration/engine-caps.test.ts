// Memory caps and the AOT cache: every linear memory is bounded by the plugin's budget whatever the
// module declares; a plugin that allocates without end is stopped at its cap, restarted, and the
// runtime's RSS stays bounded; prepared modules are cached and a damaged entry is rebuilt.

import test from 'ava';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareCached } from '../../runtime/engine/aot-cache.js';
import { loadPluginBytes, PluginLoadError } from '../../runtime/engine/index.js';
import { capPages, prepareModule } from '../../runtime/engine/prepare.js';
import { validateModule } from '../../runtime/engine/validate.js';
import { ensurePluginsBuilt, fixtureWasm } from '../helpers/plugin-wasm.js';
import { FIXTURES, pluginFolder, pluginStatus, publish } from '../helpers/plugins.js';
import { startTestRuntime } from '../helpers/runtime.js';
import { waitFor } from '../helpers/wait.js';
import { RecordingHost } from '../helpers/recording-host.js';

const MB = 1024 * 1024;
const ALLOC_ID = '_signalk-edge-fixture_alloc-on-delta';

/** A minimal module that defines and exports one memory with the given limits (pages). */
function memoryModule(min: number, max?: number, imported = false): Uint8Array {
  const limits = max === undefined ? [0x00, min] : [0x01, min, max];
  const name = [...Buffer.from('memory')];
  const head = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  if (imported) {
    const entry = [0x01, 0x03, ...Buffer.from('env'), name.length, ...name, 0x02, ...limits];
    return Uint8Array.from([...head, 0x02, entry.length, ...entry]);
  }
  const memory = [0x01, ...limits];
  const exports = [0x01, name.length, ...name, 0x02, 0x00];
  return Uint8Array.from([...head, 0x05, memory.length, ...memory, 0x07, exports.length, ...exports]);
}

/** How many pages the prepared module's memory can reach. */
function reachablePages(bytes: Uint8Array): number {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
  const mem = instance.exports.memory as WebAssembly.Memory;
  for (;;) {
    try {
      mem.grow(1);
    } catch {
      return mem.buffer.byteLength / 65536;
    }
  }
}

/** The declared maximum of an imported memory, read back from the module's import type. */
function importedMaximum(bytes: Uint8Array, maximum: number): boolean {
  const module = new WebAssembly.Module(bytes);
  const fits = (max: number): boolean => {
    try {
      new WebAssembly.Instance(module, { env: { memory: new WebAssembly.Memory({ initial: 1, maximum: max }) } });
      return true;
    } catch {
      return false;
    }
  };
  // An imported memory with a larger maximum than the import declares is refused (link error).
  return fits(maximum) && !fits(maximum + 1);
}

test('memories get maximum = min(declared, cap), also when none is declared', (t) => {
  const cap = capPages(2); // 2 MB = 32 pages
  t.is(cap, 32);
  t.is(reachablePages(prepareModule('t', memoryModule(1), { memoryLimitMB: 2 }).bytes), 32, 'no maximum declared');
  t.is(
    reachablePages(prepareModule('t', memoryModule(1, 100), { memoryLimitMB: 2 }).bytes),
    32,
    'larger maximum declared',
  );
  t.is(reachablePages(prepareModule('t', memoryModule(1, 10), { memoryLimitMB: 2 }).bytes), 10, 'smaller maximum kept');
  t.true(
    importedMaximum(prepareModule('t', memoryModule(1, undefined, true), { memoryLimitMB: 2 }).bytes, 32),
    'imported memory capped',
  );
  const err = t.throws(() => prepareModule('big', memoryModule(40), { memoryLimitMB: 2 }), {
    instanceOf: PluginLoadError,
  });
  t.regex(err?.message ?? '', /plugin big: needs 2\.5 MB of initial memory, over its 2 MB cap/);
  for (const b of [memoryModule(1), memoryModule(1, 100)])
    t.notThrows(() => validateModule('t', prepareModule('t', b, { memoryLimitMB: 2 }).bytes));
});

test('an AssemblyScript plugin that allocates past its cap traps inside the plugin', async (t) => {
  await ensurePluginsBuilt();
  const host = new RecordingHost();
  const plugin = await loadPluginBytes({
    id: 'alloc',
    vfsRoot: mkdtempSync(join(tmpdir(), 'ske-vfs-')),
    host,
    bytes: readFileSync(fixtureWasm('alloc-on-delta')),
    memoryLimitMB: 16,
  });
  t.teardown(() => plugin.close());
  t.is(plugin.start('{}'), 0);
  let delivered = 0;
  const error = t.throws(() => {
    for (; delivered < 100; delivered++) plugin.deliverDelta('{}');
  });
  t.true(error instanceof WebAssembly.RuntimeError, String(error));
  // 4 MB blocks in a 16 MB memory (some of it the plugin's own data and heap): at most 3 fit.
  t.true(delivered >= 1 && delivered <= 3, `${delivered} deltas before the trap`);
});

test('a plugin allocating in a loop is stopped at its cap and restarted; runtime RSS stays bounded', async (t) => {
  const dir = await pluginFolder([{ from: FIXTURES, name: 'alloc-on-delta' }]);
  // Default cap: 64 MB. Without it the plugin would grow to the 4 GB wasm32 limit.
  const { runtime, stop } = await startTestRuntime({
    pluginDirs: [dir],
    restart: { baseMs: 50, maxMs: 200, maxCrashes: 1000, stableMs: 60_000 },
  });
  t.teardown(stop);
  const rssBefore = process.memoryUsage().rss;
  let peak = rssBefore;
  let sent = 0;
  const feeder = setInterval(() => {
    sent++;
    publish(runtime, [{ path: 'environment.water.temperature', value: 280 + (sent % 10) }]);
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  t.teardown(() => clearInterval(feeder));
  const status = await waitFor(
    async () => {
      const s = await pluginStatus(runtime, ALLOC_ID);
      return (s.restarts ?? 0) >= 4 ? s : undefined;
    },
    'four restarts after hitting the cap',
    60_000,
  );
  clearInterval(feeder);
  // The plugin's own status line after each restart replaces the error (as upstream); the crash is in the events.
  t.true(
    (status.events ?? []).some((e) => /crashed: .*(unreachable|memory)/i.test(e.event)),
    JSON.stringify(status.events),
  );
  t.true(sent > 16 * 4, `${sent} deltas sent`);
  // Four lives of up to 64 MB each; a bound well under what they would take if nothing were freed
  // or capped (4 × 64 MB of touched pages on top of the runtime).
  const grew = (peak - rssBefore) / MB;
  t.log(
    `RSS before ${(rssBefore / MB).toFixed(0)} MB, peak ${(peak / MB).toFixed(0)} MB (+${grew.toFixed(0)} MB) over ${status.restarts} restarts`,
  );
  t.true(grew < 200, `RSS grew by ${grew.toFixed(0)} MB`);
});

test('AOT cache: miss, then hit; flipped or truncated entries are refused and rebuilt', async (t) => {
  await ensurePluginsBuilt();
  const cacheDir = mkdtempSync(join(tmpdir(), 'ske-cache-'));
  const input = readFileSync(fixtureWasm('derive-all'));
  const opts = { memoryLimitMB: 32, cacheDir };
  const first = prepareCached('p', input, opts);
  t.is(first.cache, 'miss');
  const second = prepareCached('p', input, opts);
  t.is(second.cache, 'hit', 'cache hit taken');
  t.deepEqual(Buffer.from(second.bytes), Buffer.from(first.bytes));

  const entries = readdirSync(cacheDir).filter((f) => f.endsWith('.prep'));
  t.is(entries.length, 1);
  const entry = join(cacheDir, entries[0]!);
  const sound = readFileSync(entry);
  const flipped = Buffer.from(sound);
  for (let i = sound.length - 200; i < sound.length - 100; i++) flipped[i] = flipped[i]! ^ 0xff;
  writeFileSync(entry, flipped);
  const rebuilt = prepareCached('p', input, opts);
  t.is(rebuilt.cache, 'rebuilt');
  t.is(rebuilt.refused, 'checksum mismatch');
  t.deepEqual(Buffer.from(rebuilt.bytes), Buffer.from(first.bytes), 'the damaged bytes were never used');
  t.deepEqual(readFileSync(entry), sound, 'the entry was rewritten');

  writeFileSync(entry, sound.subarray(0, sound.length - 10));
  const truncated = prepareCached('p', input, opts);
  t.is(truncated.cache, 'rebuilt');
  t.regex(truncated.refused ?? '', /^truncated/);
  t.is(prepareCached('p', input, opts).cache, 'hit');

  // Another cap is another entry; the cached module still loads and runs.
  t.is(prepareCached('p', input, { ...opts, memoryLimitMB: 16 }).cache, 'miss');
  const plugin = await loadPluginBytes({
    id: 'p',
    vfsRoot: mkdtempSync(join(tmpdir(), 'ske-vfs-')),
    host: new RecordingHost(),
    bytes: input,
    ...opts,
  });
  t.teardown(() => plugin.close());
  t.is(plugin.start('{}'), 0);
});
