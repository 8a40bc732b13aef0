// HAL benchmark: serial bytes per second into a WASM plugin through `signalk_hal`, over a real
// pseudo-terminal pair (test/helpers/pty.ts), in raw mode (plugin reads 4 KB chunks) and NMEA-lines mode (one
// line per read), the probe emitting one delta per batch of reads, against the same bytes read by a serial data
// source (framing + NMEA 0183 codec + bus) and by a bare serialport reader (the pty's own ceiling).

import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { PluginManager } from '../runtime/plugins/manager.js';
import { writePluginConfig } from '../runtime/plugins/plugin-config.js';
import { configFile } from '../runtime/storage/plugin-storage.js';
import { DEMO_LOG, PROJECT_ROOT } from '../runtime/config/settings.js';
import { modelAndBus, pluginSettings } from './wiring.js';
import { createDevices } from '../hal/devices.js';
import { createSource } from '../hal/sources/table.js';
import { buildAll } from '../scripts/build-examples.js';
import { withPtyPair } from './pty.js';
import type { PtyPair } from '../test/helpers/pty.js';

const PROBE = '_signalk-edge-fixture_hal-serial-probe';

/** `bytes` of NMEA text: the demo passage repeated. */
function payload(bytes: number): Buffer {
  const text = readFileSync(DEMO_LOG, 'latin1')
    .split(/\r?\n/)
    .filter((l) => l.startsWith('$') || l.startsWith('!'))
    .join('\r\n');
  const unit = Buffer.from(`${text}\r\n`, 'latin1');
  return Buffer.concat(Array.from({ length: Math.ceil(bytes / unit.length) }, () => unit)).subarray(0, bytes);
}

async function openWriter(path: string): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate: 460800 });
  await new Promise<void>((resolve, reject) => port.once('open', resolve).once('error', reject));
  return port;
}

function pump(port: SerialPort, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) =>
    port.write(data, (err) => (err ? reject(err) : port.drain((e) => (e ? reject(e) : resolve())))),
  );
}

async function until(done: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!done()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** MB/s of `data` from the writer end into the plugin (mode 0 raw, 1 lines). */
async function intoPlugin(pty: PtyPair, data: Buffer, mode: number, lines: number): Promise<number> {
  const pluginDir = mkdtempSync(join(tmpdir(), 'ske-bench-hal-'));
  const dataDir = mkdtempSync(join(tmpdir(), 'ske-bench-hal-data-'));
  cpSync(join(PROJECT_ROOT, 'test', 'fixtures', 'plugins', 'hal-serial-probe'), join(pluginDir, 'probe'), {
    recursive: true,
  });
  writePluginConfig(configFile(dataDir, PROBE), {
    enabled: true,
    configuration: { device: pty.b, mode, baudRate: 460800 },
  });
  const settings = pluginSettings(pluginDir, dataDir, {
    grants: { [PROBE]: ['dataRead', 'dataWrite', `serial:${pty.b}`] },
  });
  const { model, bus } = modelAndBus();
  const manager = await PluginManager.create({ settings, bus, model });
  const writer = await openWriter(pty.a);
  try {
    await manager.startAll();
    const runner = manager.runner(PROBE)!;
    const handle = () => runner.status().hal[0];
    await until(() => handle() !== undefined, 'the probe to open the pty');
    await new Promise((r) => setTimeout(r, 100));
    const target = mode === 0 ? data.length : lines;
    const t0 = performance.now();
    await pump(writer, data);
    await until(() => (handle()?.received ?? 0) >= target, 'the plugin to receive everything');
    const seconds = (performance.now() - t0) / 1000;
    const h = handle()!;
    if (h.dropped > 0) throw new Error(`the plugin's queue dropped ${h.dropped}`);
    return data.length / seconds / 1e6;
  } finally {
    await manager.stopAll();
    await new Promise<void>((r) => writer.close(() => r()));
    rmSync(pluginDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** MB/s of `data` read by a bare serialport reader: the ceiling the pty pair itself sets. */
async function ptyAlone(pty: PtyPair, data: Buffer): Promise<number> {
  const reader = await openWriter(pty.b);
  const writer = await openWriter(pty.a);
  let received = 0;
  reader.on('data', (c: Buffer) => (received += c.length));
  try {
    const t0 = performance.now();
    await pump(writer, data);
    await until(() => received >= data.length, 'the reader to get everything');
    return data.length / ((performance.now() - t0) / 1000) / 1e6;
  } finally {
    await new Promise<void>((r) => writer.close(() => r()));
    await new Promise<void>((r) => reader.close(() => r()));
  }
}

/** MB/s of `data` through a serial data source (framing, codec, bus, model). */
async function intoSource(pty: PtyPair, data: Buffer, lines: number): Promise<number> {
  const { bus } = modelAndBus();
  const source = await createSource(
    { id: 'bench', type: 'serial', device: pty.b, baudRate: 460800 },
    bus,
    createDevices(),
  );
  const writer = await openWriter(pty.a);
  try {
    source.start();
    await until(() => source.status().state === 'open', 'the source to open the pty');
    const t0 = performance.now();
    await pump(writer, data);
    await until(() => source.status().lines >= lines, 'the source to read every line');
    return data.length / ((performance.now() - t0) / 1000) / 1e6;
  } finally {
    await source.stop();
    await new Promise<void>((r) => writer.close(() => r()));
  }
}

export async function benchHal(bytes = 8 * 1024 * 1024): Promise<string[]> {
  await buildAll(() => undefined);
  return withPtyPair(async (pty) => {
    const data = payload(bytes);
    const lines = data.toString('latin1').split('\r\n').length - 1;
    const raw = await intoPlugin(pty, data, 0, lines);
    const framed = await intoPlugin(pty, data, 1, lines);
    const source = await intoSource(pty, data, lines);
    const ceiling = await ptyAlone(pty, data);
    const mb = (bytes / 1e6).toFixed(1);
    return [
      `serial → plugin, raw mode:          ${raw.toFixed(1)} MB/s (${mb} MB over a pty)`,
      `serial → plugin, NMEA-lines mode:   ${framed.toFixed(1)} MB/s (${Math.round((framed * 1e6 * lines) / bytes / 1000)}k lines/s)`,
      `serial → data source (codec → bus): ${source.toFixed(1)} MB/s (reference)`,
      `pty pair alone (serialport reader):  ${ceiling.toFixed(1)} MB/s (ceiling)`,
      `ratios: raw/source ${(raw / source).toFixed(2)}, lines/source ${(framed / source).toFixed(2)}, raw/pty ${(raw / ceiling).toFixed(2)}`,
    ];
  });
}
