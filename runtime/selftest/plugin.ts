// The plugin self-test: one installed plugin started in a runtime of its own (the operator's data
// folder, so its configuration and grants are the real ones) whose only sources are the devices
// under test; the self-test's traffic is then sent on them and what the plugin emitted is
// reported: deltas and their paths, HAL handles with what they received, refusals. It passes when
// the plugin ran to the end and emitted at least one delta.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRuntime } from '../app.js';
import type { Settings } from '../config/settings.js';
import type { SourceSettings } from '../../hal/sources/table.js';
import { discoverPlugins } from '../plugins/discovery.js';
import { SocketCanDriver } from '../../hal/can/socketcan.js';
import { candumpLog, selftestMessages } from './n2k-frames.js';
import type { CheckResult, DeviceUsed } from './report.js';
import { serialDevice, testSentence } from './serial.js';
import { waitUntil } from './waiting.js';

export interface PluginCheckOptions {
  id: string;
  settings: Settings;
  serial?: { tx: string; rx: string; baudRate: number; lines: number };
  can?: { iface: string; twin: boolean; rounds: number };
  /** How long to watch the plugin after the traffic was sent. */
  watchMs: number;
}

export async function checkPlugin(options: PluginCheckOptions): Promise<CheckResult> {
  const { id, settings, serial, can } = options;
  const used: DeviceUsed[] = [];
  if (serial) used.push(...[...new Set([serial.tx, serial.rx])].map(serialDevice));
  const fail = (message: string, figures: CheckResult['figures'] = {}): CheckResult => ({
    check: 'plugin',
    outcome: 'fail',
    message,
    devices: used,
    figures,
  });
  const found = discoverPlugins(settings.plugins.dirs).find((p) => (p.ok ? p.manifest.id : p.broken.id) === id);
  if (!found) {
    const ids = discoverPlugins(settings.plugins.dirs).map((p) => (p.ok ? p.manifest.id : p.broken.id));
    return fail(
      `no installed plugin ${id} in ${settings.plugins.dirs.join(', ') || '(no plugin folders)'}; installed: ${ids.join(', ') || 'none'}`,
    );
  }
  if (!found.ok) return fail(`plugin ${id} is broken: ${found.broken.error}`);

  const tmp = mkdtempSync(join(tmpdir(), 'ske-selftest-plugin-'));
  const sources: SourceSettings[] = [];
  if (serial) sources.push({ id: 'selftest-serial', type: 'serial', device: serial.rx, baudRate: serial.baudRate });
  const frames = can ? selftestMessages(can.rounds).flatMap((m) => m.frames) : [];
  if (can?.twin) {
    const file = join(tmp, 'selftest.candump');
    writeFileSync(file, candumpLog(frames, can.iface));
    used.push({ name: can.iface, kind: 'twin', twin: `candump replay of ${file}, no CAN hardware` });
    sources.push({
      id: 'selftest-can',
      type: 'can',
      interface: can.iface,
      driver: 'candump',
      file,
      rate: 'realtime',
      loop: false,
    });
  } else if (can) {
    used.push({ name: can.iface, kind: 'hardware' });
    sources.push({ id: 'selftest-can', type: 'can', interface: can.iface, driver: 'socketcan' });
  }
  // The plugin's own folder only, no file watching, no broker, the API on a free loopback port.
  const { mqtt: _mqtt, ...rest } = settings;
  const rt = await startRuntime({
    ...rest,
    port: 0,
    host: '127.0.0.1',
    sources,
    plugins: { ...settings.plugins, dirs: [found.manifest.dir], watch: false },
  });
  const paths = new Map<string, number>();
  const unsubscribe = rt.bus.subscribe((m) => {
    for (const u of m.delta.updates) {
      if ((u as { $source?: unknown }).$source !== id) continue;
      for (const v of (u as { values?: { path: string }[] }).values ?? [])
        paths.set(v.path, (paths.get(v.path) ?? 0) + 1);
    }
  });
  const sender = can && !can.twin ? new SocketCanDriver({ iface: can.iface }) : undefined;
  try {
    const status = () => rt.plugins.runner(id)?.status();
    const running = await waitUntil(() => status()?.state === 'running', 15_000);
    if (!running) {
      const s = status();
      return fail(
        `plugin ${id} did not start: ${s ? `${s.state}${s.errorMessage ? `: ${s.errorMessage}` : ''}` : 'not loaded'}`,
      );
    }
    const before = status()!.deltas.emitted;
    if (serial) {
      const lease = rt.devices.serial.acquire(serial.tx, serial.baudRate);
      try {
        await waitUntil(() => lease.driver.state === 'open', 5_000);
        for (let i = 0; i < serial.lines && lease.driver.state === 'open'; i++)
          await lease.driver.write(`${testSentence(i)}\r\n`);
      } finally {
        await lease.release();
      }
    }
    if (sender) {
      sender.open();
      await waitUntil(() => sender.state === 'open', 5_000);
      for (const f of frames) {
        if (sender.state !== 'open') break;
        await sender.send(f).catch(() => undefined);
        await sleep(1);
      }
    }
    await sleep(options.watchMs);
    const s = status()!;
    const emitted = s.deltas.emitted - before;
    const handles = s.hal.map((h) => `${h.kind} ${h.target}: ${h.received} received`);
    const denied = s.capabilities.denied.map((d) => d.capability);
    const figures = {
      state: s.state,
      deltasEmitted: emitted,
      paths: [...paths].map(([p, n]) => `${p} ×${n}`).join(', '),
      halHandles: handles.join('; '),
      denied: denied.join(', '),
      statusMessage: s.statusMessage,
      errorMessage: s.errorMessage,
      crashes: s.crashes,
    };
    const summary = `${id} ${s.state}, emitted ${emitted} deltas${paths.size ? ` (${[...paths.keys()].join(', ')})` : ''}; handles: ${handles.join('; ') || 'none'}${denied.length ? `; refused: ${denied.join(', ')}` : ''}`;
    if (s.state !== 'running') return fail(`${summary}: ${s.errorMessage || 'stopped during the test'}`, figures);
    if (emitted === 0)
      return fail(
        `${summary}: emitted nothing in ${options.watchMs} ms after the traffic (status: ${s.statusMessage || 'none'})`,
        figures,
      );
    return { check: 'plugin', outcome: 'pass', message: summary, devices: used, figures };
  } finally {
    unsubscribe();
    await sender?.close();
    await rt.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}
