// How to stop a runaway plugin: the vm timeout guard on the main thread (runtime/plugins/call-guard.ts)
// against worker_threads isolation. Measures per-call cost (direct, vm without and with timeout),
// how fast each stops an infinite loop, RSS of idle workers and of a worker running a plugin, the
// cost of a synchronous host call from a worker to the main thread (what sk_get_path would pay),
// and deltas/s through a plugin in a worker. Worker RSS is measured in fresh child processes
// (`node --expose-gc isolation.js rss idle|plugin <n>` prints one JSON line).

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import vm from 'node:vm';
import { Worker } from 'node:worker_threads';
import { PROJECT_ROOT } from '../runtime/config/settings.js';
import { CallGuard, CallTimeoutError } from '../runtime/plugins/call-guard.js';
import { ensurePluginStorage } from '../runtime/storage/plugin-storage.js';
import { buildAll } from '../scripts/build-examples.js';
import { median } from './stats.js';

const WORKER = new URL('./isolation-worker.js', import.meta.url);
const DERIVE_ALL = join(PROJECT_ROOT, 'test', 'fixtures', 'plugins', 'derive-all', 'plugin.wasm');

/** (module (func (export "spin") (loop (br 0))) (func (export "nop") (result i32) (i32.const 1))) */
const SPIN_WASM = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 8, 2, 96, 0, 0, 96, 0, 1, 127, 3, 3, 2, 0, 1, 7, 14, 2, 4, 115, 112, 105, 110, 0, 0,
  3, 110, 111, 112, 0, 1, 10, 14, 2, 7, 0, 3, 64, 12, 0, 11, 11, 4, 0, 65, 1, 11,
]);

const mb = (bytes: number): string => (bytes / 1048576).toFixed(1);
const us = (n: number): string => (n < 1 ? n.toFixed(3) : n.toFixed(1));

function rss(): number {
  global.gc?.();
  return process.memoryUsage().rss;
}

/** µs per call of `fn`, median of 5 rounds of n calls. */
function perCall(fn: () => unknown, n: number): number {
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    rounds.push(((performance.now() - t0) * 1000) / n);
  }
  return median(rounds);
}

function startWorker(data: Record<string, unknown>): Promise<Worker> {
  const worker = new Worker(WORKER, { workerData: data, execArgv: ['--no-warnings'] });
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', (m) => (m === 'ready' ? resolve(worker) : reject(new Error(`worker said ${String(m)}`))));
  });
}

async function settle(): Promise<void> {
  await sleep(300);
  global.gc?.();
}

async function guardFigures(lines: string[]): Promise<void> {
  const instance = await WebAssembly.instantiate(await WebAssembly.compile(SPIN_WASM));
  const nop = instance.exports.nop as () => number;
  const spin = instance.exports.spin as () => void;
  const ctx = vm.createContext({ job: nop });
  const bare = new vm.Script('job()');
  const guard = new CallGuard(1000);
  const direct = perCall(nop, 1_000_000);
  const unguarded = perCall(() => bare.runInContext(ctx), 20_000);
  const guarded = perCall(() => guard.run(nop, 'nop'), 5_000);
  lines.push(
    `isolation       per call: direct wasm export ${us(direct)} µs, vm.runInContext without timeout ${us(unguarded)} µs, CallGuard (vm timeout) ${us(guarded)} µs; guarded/direct ${Math.round(guarded / direct).toLocaleString('en')}×`,
  );
  const stops: number[] = [];
  for (let i = 0; i < 3; i++) {
    const short = new CallGuard(200);
    const t0 = performance.now();
    try {
      short.run(spin, 'spin');
    } catch (err) {
      if (!(err instanceof CallTimeoutError)) throw err;
    }
    stops.push(performance.now() - t0);
  }
  lines.push(
    `isolation       CallGuard stops an infinite wasm loop after ${median(stops).toFixed(1)} ms with a 200 ms bound (median of 3)`,
  );
}

/** In a fresh process: RSS growth per worker with `n` workers of `mode` running. */
async function rssChild(mode: 'idle' | 'plugin', n: number): Promise<{ perWorker: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ske-bench-isolation-rss-'));
  const workers: Worker[] = [];
  try {
    await settle();
    const base = rss();
    const wasm = readFileSync(DERIVE_ALL);
    for (let i = 0; i < n; i++)
      workers.push(
        await startWorker(mode === 'idle' ? { mode } : { mode, wasm, vfsRoot: ensurePluginStorage(dataDir, `w${i}`) }),
      );
    await settle();
    return { perWorker: (rss() - base) / n };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function workerFigures(lines: string[], dataDir: string): Promise<void> {
  const run = promisify(execFile);
  const child = async (mode: string, n: number) => {
    const { stdout } = await run(
      process.execPath,
      ['--expose-gc', fileURLToPath(import.meta.url), 'rss', mode, String(n)],
      { timeout: 120_000 },
    );
    return JSON.parse(stdout) as { perWorker: number };
  };
  const idle = await child('idle', 10);
  const loaded = await child('plugin', 10);
  lines.push(
    `isolation       worker RSS (10 workers in a fresh process): idle ${mb(idle.perWorker)} MB each, running derive-all with the engine ${mb(loaded.perWorker)} MB each; 10 plugins in workers ≈ ${mb(10 * loaded.perWorker)} MB (in process: the startup bench's RSS per plugin)`,
  );

  // Deltas through one worker in batches of 100, answered with the plugin's outputs.
  const w = await startWorker({
    mode: 'plugin',
    wasm: readFileSync(DERIVE_ALL),
    vfsRoot: ensurePluginStorage(dataDir, 'w'),
  });
  const delta = JSON.stringify({
    context: 'vessels.self',
    updates: [{ source: { label: 'bench' }, values: [{ path: 'environment.depth.belowTransducer', value: 12.3 }] }],
  });
  const batch = Array.from({ length: 100 }, () => delta);
  const roundTrip = () =>
    new Promise<number>((resolve) => {
      w.once('message', (out: string[]) => resolve(out.length));
      w.postMessage(batch);
    });
  for (let i = 0; i < 20; i++) await roundTrip();
  const total = 50_000;
  const t0 = performance.now();
  let outs = 0;
  for (let i = 0; i < total / batch.length; i++) outs += await roundTrip();
  const perSecond = total / ((performance.now() - t0) / 1000);
  if (outs !== total) throw new Error(`worker plugin emitted ${outs} for ${total}`);
  lines.push(
    `isolation       deltas/s into derive-all in a worker (batches of 100, outputs posted back) ${Math.round(perSecond).toLocaleString('en')}`,
  );
  await w.terminate();

  // A synchronous host call answered by the main thread's event loop.
  const flag = new SharedArrayBuffer(4);
  const view = new Int32Array(flag);
  const count = 5000;
  const caller = new Worker(WORKER, { workerData: { mode: 'hostcall', flag, count }, execArgv: ['--no-warnings'] });
  const hostUs = await new Promise<number>((resolve, reject) => {
    caller.once('error', reject);
    caller.on('message', (m: number | { us: number }) => {
      if (typeof m === 'number') {
        Atomics.store(view, 0, 1);
        Atomics.notify(view, 0);
      } else resolve(m.us);
    });
  });
  await caller.terminate();

  const spinner = await startWorker({ mode: 'spin' });
  await sleep(50);
  const t1 = performance.now();
  await spinner.terminate();
  const terminateMs = performance.now() - t1;
  lines.push(
    `isolation       synchronous host call worker → main thread → worker ${us(hostUs)} µs (${count} calls); terminate() of a spinning worker ${terminateMs.toFixed(1)} ms`,
  );
}

export async function benchIsolation(): Promise<string[]> {
  await buildAll(() => undefined);
  const dataDir = mkdtempSync(join(tmpdir(), 'ske-bench-isolation-'));
  try {
    const lines: string[] = [];
    await guardFigures(lines);
    await workerFigures(lines, dataDir);
    return lines;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'rss') {
  const mode = process.argv[3] === 'plugin' ? 'plugin' : 'idle';
  rssChild(mode, Number(process.argv[4] ?? 10)).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
