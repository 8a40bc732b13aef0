// Command-plugin benchmark: NMEA lines from a pty through examples/nmea-command (a WASI
// program in a @wasmer/sdk sandbox, in a worker thread: stdin → stdout) against its library-plugin
// twin test/fixtures/plugins/nmea-current-lib (the same current.ts, on Node WebAssembly: HAL serial
// handle → hal_data → sk_handle_message). Both run in a PluginManager, granted the pty. Measured:
// start (startAll until the first derived delta is in the model), lines/s (batches of lines written
// into the pty, each waited for), RSS (each plugin in a fresh child process, so one's garbage does
// not count for the other), and how long a runaway command plugin takes to be stopped.

import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { SerialPort } from 'serialport';
import { setLogLevel } from '../core/log.js';
import type { DeltaBus } from '../runtime/bus/bus.js';
import { commandPluginsClosed } from '../runtime/engine/command.js';
import { PluginManager } from '../runtime/plugins/manager.js';
import { writePluginConfig } from '../runtime/plugins/plugin-config.js';
import type { PluginRunner } from '../runtime/plugins/runner.js';
import { configFile } from '../runtime/storage/plugin-storage.js';
import { PROJECT_ROOT, type Settings } from '../runtime/config/settings.js';
import { modelAndBus } from './wiring.js';
import type { JsonValue } from '../core/json.js';
import { buildAll } from '../scripts/build-examples.js';
import { withPtyPair } from './pty.js';
import type { PtyPair } from '../test/helpers/pty.js';

const COMMAND = '_signalk-edge_nmea-command';
const LIBRARY = '_signalk-edge-fixture_nmea-current-lib';
const PROBE = '_signalk-edge-fixture_command-probe';
const LINES = 100_000;
/** Lines written at a time, each batch waited for: below the 10,000-line queue of a serial handle. */
const BATCH = 5_000;

function sentence(body: string): string {
  let sum = 0;
  for (const c of body) sum ^= c.charCodeAt(0);
  return `$${body}*${sum.toString(16).toUpperCase().padStart(2, '0')}\r\n`;
}

/** Alternating $IIVHW and $GPRMC with varying speeds: every line after the first yields a delta. */
function passage(lines: number): Buffer {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const knots = (4 + (i % 40) / 10).toFixed(1);
    out.push(
      i % 2 === 0
        ? sentence(`IIVHW,${i % 360}.0,T,,M,${knots},N,,K`)
        : sentence(`GPRMC,123519,A,4807.038,N,01131.000,E,${knots},${(i * 7) % 360}.0,230394,003.1,W`),
    );
  }
  return Buffer.from(out.join(''), 'latin1');
}

const mb = (bytes: number): string => (bytes / 1048576).toFixed(1);

function rss(): number {
  global.gc?.();
  return process.memoryUsage().rss;
}

async function until(done: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!done()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function openWriter(path: string): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate: 460800 });
  await new Promise<void>((resolve, reject) => port.once('open', resolve).once('error', reject));
  return port;
}

function write(port: SerialPort, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) =>
    port.write(data, (err) => (err ? reject(err) : port.drain((e) => (e ? reject(e) : resolve())))),
  );
}

interface Harness {
  manager: PluginManager;
  bus: DeltaBus;
  runner: PluginRunner;
  close(): Promise<void>;
}

async function harness(
  id: string,
  from: string,
  configuration: JsonValue,
  grants: string[],
  callTimeoutMs?: number,
): Promise<Harness> {
  const pluginDir = mkdtempSync(join(tmpdir(), 'ske-bench-command-'));
  const dataDir = mkdtempSync(join(tmpdir(), 'ske-bench-command-data-'));
  cpSync(from, join(pluginDir, 'plugin'), { recursive: true });
  writePluginConfig(configFile(dataDir, id), { enabled: true, configuration });
  const settings: Settings = {
    port: 0,
    host: '127.0.0.1',
    dataDir,
    sources: [],
    plugins: { dirs: [pluginDir], watch: false, ...(callTimeoutMs === undefined ? {} : { callTimeoutMs }) },
    grants: { [id]: ['dataRead', 'dataWrite', ...grants] },
    // The bench measures throughput: its batches of 5,000 lines make the plugin's deltas come faster
    // than the default 1 MB/s publish quota, which refused them (decision 0100), so the quota is raised to its bound.
    limits: { plugins: { publishBytesPerSecond: 1024 * 1024 * 1024 } },
  };
  const { model, bus } = modelAndBus();
  const manager = await PluginManager.create({ settings, bus, model });
  return {
    manager,
    bus,
    runner: manager.runner(id)!,
    async close() {
      await manager.stopAll();
      rmSync(pluginDir, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

interface Figures {
  startMs: number;
  linesPerSecond: number;
  rssMB: string;
}

/** Starts the plugin on the pty (writer end `a`, plugin end `b`), times the first delta, then LINES lines in batches. */
async function measure(
  pty: { a: string; b: string },
  id: string,
  from: string,
  configuration: JsonValue,
): Promise<Figures> {
  const h = await harness(id, from, configuration, [`serial:${pty.b}`]);
  const writer = await openWriter(pty.a);
  try {
    const emitted = (): number => h.runner.status().deltas.emitted;
    const received = (): number => h.runner.status().hal[0]?.received ?? 0;
    rss();
    await new Promise((r) => setTimeout(r, 200));
    const before = rss();
    const t0 = performance.now();
    await h.manager.startAll();
    await until(() => h.runner.status().hal.length > 0, 'the pty to be opened');
    // A pair every 5 ms until one comes out: the device may not be open yet.
    const first = passage(2);
    while (emitted() === 0) {
      if (performance.now() - t0 > 60_000) throw new Error(`${id}: no delta within 60 s of the start`);
      await write(writer, first);
      await new Promise((r) => setTimeout(r, 5));
    }
    const startMs = performance.now() - t0;
    const rssMB = mb(rss() - before);
    const data = passage(LINES);
    const lines = data.toString('latin1').split('\r\n');
    const base = { lines: received(), deltas: emitted() };
    const t1 = performance.now();
    for (let i = 0; i < LINES; i += BATCH) {
      await write(writer, Buffer.from(lines.slice(i, i + BATCH).join('\r\n') + '\r\n', 'latin1'));
      const target = base.deltas + Math.min(i + BATCH, LINES) - 1;
      await until(() => emitted() >= target, `${target} deltas`).catch((err: unknown) => {
        const st = h.runner.status();
        throw new Error(
          `${(err as Error).message}: ${st.state}, ${st.deltas.emitted} emitted, ${st.deltas.rejected} rejected, ${st.deltas.feedbackDropped} cut, hal ${JSON.stringify(st.hal)}, error ${st.errorMessage}`,
        );
      });
    }
    const seconds = (performance.now() - t1) / 1000;
    const dropped = h.runner.status().hal[0]?.dropped ?? 0;
    if (dropped > 0) throw new Error(`${id}: the serial queue dropped ${dropped} lines`);
    if (received() - base.lines < LINES)
      throw new Error(`${id}: received ${received() - base.lines} of ${LINES} lines`);
    return { startMs, linesPerSecond: LINES / seconds, rssMB };
  } finally {
    await new Promise<void>((r) => writer.close(() => r()));
    await h.close();
  }
}

/** A command plugin spinning without reading stdin: time until it is stopped, and its CPU use after. */
async function runaway(boundMs: number): Promise<string> {
  const h = await harness(
    PROBE,
    join(PROJECT_ROOT, 'test', 'fixtures', 'plugins', 'command-probe'),
    { mode: 'spin' },
    [],
    boundMs,
  );
  try {
    await h.manager.startAll();
    // Time for the program to start (about 0.7 s): its stdin is written from then on.
    await new Promise((r) => setTimeout(r, 2000));
    let t0 = 0;
    // Deltas for its stdin until it has been stopped; the first batch alone fills the 64 KB pipe.
    while (h.runner.currentState === 'running') {
      for (let i = 0; i < 1000; i++)
        h.bus.publish(
          { updates: [{ source: { label: 'bench' }, values: [{ path: 'test.input.tick', value: i }] }] },
          'bench',
        );
      if (t0 === 0) t0 = performance.now();
      await new Promise((r) => setTimeout(r, 5));
    }
    const stoppedMs = performance.now() - t0;
    await commandPluginsClosed();
    const goneMs = performance.now() - t0;
    const cpu0 = process.cpuUsage();
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, 500));
    const cpu = process.cpuUsage(cpu0);
    const cpuPct = ((cpu.user + cpu.system) / 1000 / (performance.now() - w0)) * 100;
    return `runaway command plugin (spins, stdin full): crash declared ${stoppedMs.toFixed(0)} ms after its input backed up (bound ${boundMs} ms), worker terminated after ${goneMs.toFixed(0)} ms; process CPU afterwards ${cpuPct.toFixed(0)} %`;
  } finally {
    await h.close();
  }
}

const KINDS = {
  library: {
    id: LIBRARY,
    from: join(PROJECT_ROOT, 'test', 'fixtures', 'plugins', 'nmea-current-lib'),
    config: (device: string): JsonValue => ({ device }),
  },
  command: {
    id: COMMAND,
    from: join(PROJECT_ROOT, 'examples', 'nmea-command'),
    config: (device: string): JsonValue => ({ serialDevice: device }),
  },
};
type Kind = keyof typeof KINDS;

/** Runs measure() for one kind in a fresh process; returns its figures. */
async function inChild(kind: Kind, pty: PtyPair): Promise<Figures> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--expose-gc', fileURLToPath(import.meta.url), 'child', kind, pty.a, pty.b],
    { maxBuffer: 1 << 20 },
  );
  const last = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as Figures;
}

export async function benchCommand(): Promise<string[]> {
  await buildAll(() => undefined);
  return withPtyPair(async (pty) => {
    const lib = await inChild('library', pty);
    const cmd = await inChild('command', pty);
    const stop = await runaway(1000);
    const k = (n: number): string => `${(n / 1000).toFixed(1)}k`;
    return [
      `${LINES} NMEA lines ($IIVHW/$GPRMC → environment.current, one delta per line) over a pty, in batches of ${BATCH}:`,
      `library plugin (Node WebAssembly, HAL serial)    start ${lib.startMs.toFixed(0)} ms, ${k(lib.linesPerSecond)} lines/s, RSS +${lib.rssMB} MB`,
      `command plugin (@wasmer/sdk, stdin/stdout)       start ${cmd.startMs.toFixed(0)} ms, ${k(cmd.linesPerSecond)} lines/s, RSS +${cmd.rssMB} MB`,
      `ratios command/library: start ${(cmd.startMs / lib.startMs).toFixed(1)}×, lines/s ${(cmd.linesPerSecond / lib.linesPerSecond).toFixed(2)}×`,
      stop,
    ];
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href && process.argv[2] === 'child') {
  const kind = process.argv[3] as Kind;
  const [a, b] = [process.argv[4]!, process.argv[5]!];
  setLogLevel('warn');
  const k = KINDS[kind];
  measure({ a, b }, k.id, k.from, k.config(b))
    .then((figures) => process.stdout.write(`${JSON.stringify(figures)}\n`))
    .catch((err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    });
}
