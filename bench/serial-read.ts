// Serial reading at a boat's rate: the CPU a process spends reading four ports at 38,400 baud
// (NMEA lines paced as the soak writes them, 20 writes a second per port), through the HAL's
// SerialDriver (serialport opens the device, Node's tty stream reads it) against serialport reading
// by itself (its thread-pool reads). The readers run in a child process, so the pty relay
// (test/helpers/pty.ts, in this process) is not in the figure. Decision 0107.

import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SerialPort } from 'serialport';
import { SerialDriver } from '../hal/serial/serial-port.js';
import { DEMO_LOG } from '../runtime/config/settings.js';
import { PacedLines } from '../test/helpers/paced-lines.js';
import { startPtyPair, type PtyPair } from '../test/helpers/pty.js';

const PORTS = 4;
const BAUD = 38_400;
/** 10 bits a byte on the wire. */
const BYTES_PER_SECOND = BAUD / 10;
const TICK_MS = 50;
const WARM_UP_MS = 3000;
const MEASURE_MS = 20_000;

type Reader = 'driver' | 'serialport';

interface ChildResult {
  cpuPercent: number;
  bytesPerSecond: number;
}

/** In the child: reads `paths` with `reader`, prints its CPU over MEASURE_MS as JSON. */
async function child(reader: Reader, paths: string[]): Promise<void> {
  let bytes = 0;
  const count = (chunk: Buffer): void => {
    bytes += chunk.length;
  };
  for (const path of paths) {
    if (reader === 'driver') {
      const driver = new SerialDriver({ path, baudRate: BAUD });
      driver.onData(count);
      driver.open();
    } else {
      const port = new SerialPort({ path, baudRate: BAUD });
      port.on('data', count);
      port.on('error', (err: Error) => console.error(err.message));
    }
  }
  await new Promise((r) => setTimeout(r, WARM_UP_MS));
  const cpu = process.cpuUsage();
  const from = bytes;
  const start = performance.now();
  await new Promise((r) => setTimeout(r, MEASURE_MS));
  const used = process.cpuUsage(cpu);
  const seconds = (performance.now() - start) / 1000;
  const result: ChildResult = {
    cpuPercent: ((used.user + used.system) / 1e6 / seconds) * 100,
    bytesPerSecond: (bytes - from) / seconds,
  };
  process.stdout.write(JSON.stringify(result));
  process.exit(0);
}

function runChild(reader: Reader, paths: string[]): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const proc = fork(fileURLToPath(import.meta.url), ['child', reader, ...paths], { stdio: 'pipe' });
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('error', reject);
    proc.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as ChildResult) : reject(new Error(`${reader} reader exited ${code}`)),
    );
  });
}

export async function benchSerialRead(rounds = 2): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'ske-bench-serial-'));
  const pairs: PtyPair[] = [];
  const writers: SerialPort[] = [];
  let timer: NodeJS.Timeout | undefined;
  try {
    for (let i = 0; i < PORTS; i++) pairs.push(await startPtyPair(join(dir, `w${i}`), join(dir, `r${i}`)));
    for (const pair of pairs) {
      const port = new SerialPort({ path: pair.a, baudRate: BAUD });
      await new Promise<void>((resolve, reject) => port.once('open', resolve).once('error', reject));
      port.on('error', () => undefined);
      writers.push(port);
    }
    const lines = readFileSync(DEMO_LOG, 'latin1')
      .split(/\r?\n/)
      .filter((l) => l.startsWith('$') || l.startsWith('!'));
    const paced = new PacedLines(lines, BYTES_PER_SECOND);
    timer = setInterval(() => {
      const out = paced.due(TICK_MS).join('');
      for (const w of writers) w.write(out);
    }, TICK_MS);
    const paths = pairs.map((p) => p.b);
    const figures: Record<Reader, ChildResult[]> = { driver: [], serialport: [] };
    // Alternated, so both carry the same share of whatever else the machine runs.
    for (let i = 0; i < rounds; i++) {
      for (const reader of ['serialport', 'driver'] as const) figures[reader].push(await runChild(reader, paths));
    }
    const mean = (rs: ChildResult[], k: keyof ChildResult): number => rs.reduce((s, r) => s + r[k], 0) / rs.length;
    const show = (reader: Reader): string =>
      `${figures[reader].map((r) => r.cpuPercent.toFixed(2)).join(' / ')} % of a core (${(mean(figures[reader], 'bytesPerSecond') / 1000).toFixed(1)} kB/s read)`;
    return [
      `${PORTS} ports at ${BAUD} baud, ${(MEASURE_MS / 1000).toFixed(0)} s per run, runs alternated:`,
      `  HAL SerialDriver (serialport opens, tty stream reads): ${show('driver')}`,
      `  serialport reading by itself (thread-pool reads):       ${show('serialport')}`,
      `  ratio driver / serialport: ${(mean(figures.driver, 'cpuPercent') / mean(figures.serialport, 'cpuPercent')).toFixed(2)}`,
    ];
  } finally {
    clearInterval(timer);
    await Promise.all(writers.map((w) => new Promise<void>((r) => (w.isOpen ? w.close(() => r()) : r()))));
    await Promise.all(pairs.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'child') {
  await child(process.argv[3] as Reader, process.argv.slice(4));
}
