// The serial self-test: NMEA 0183 written at the configured baud on one port and read back on the
// other (a null-modem pair) or on the same port (a TX↔RX loopback plug), through the same path a
// data source uses (SerialPorts → line framing → NMEA 0183 codec → bus) and the one a granted
// plugin uses (signalk_hal serial_open/serial_read on the shared device). It passes when every
// line came back whole through both, none with an error, and an ungranted device was refused.

import { existsSync, realpathSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { withChecksum } from '../../hal/codecs/nmea0183/sentence.js';
import type { HalDevices } from '../../hal/devices.js';
import type { SerialLease } from '../../hal/serial/ports.js';
import { createSource } from '../../hal/sources/table.js';
import { DENIED, PluginDevices } from './plugin-devices.js';
import { reason, selftestBus, waitUntil } from './waiting.js';
import type { CheckResult, DeviceUsed } from './report.js';

export interface SerialCheckOptions {
  /** The port written to, and the one read from (the same one for a loopback plug). */
  tx: string;
  rx: string;
  baudRate: number;
  lines: number;
  devices: HalDevices;
  /** How long a port may take to open. */
  openTimeoutMs?: number;
}

/** Hardware, or a pseudo-terminal (a twin: no UART, no cable, whatever the baud rate). */
export function serialDevice(path: string): DeviceUsed {
  let real = path;
  try {
    real = realpathSync(path);
  } catch {
    // absent: reported by the caller
  }
  return real.startsWith('/dev/pts/')
    ? { name: path, kind: 'twin', twin: `pseudo-terminal ${real}, no serial hardware` }
    : { name: path, kind: 'hardware' };
}

/** Line `i` of the test traffic: position, wind, depth and a Garmin proprietary sentence in turn. */
export function testSentence(i: number): string {
  const minutes = (i % 60).toString().padStart(2, '0');
  switch (i % 4) {
    case 0:
      return withChecksum(
        `$GPRMC,1015${minutes}.00,A,5946.${(1000 + i).toString().slice(-4)},N,02418.0026,E,5.2,090.0,150624,,`,
      );
    case 1:
      return withChecksum(`$IIMWV,${(i % 360).toFixed(1).padStart(5, '0')},R,12.5,N,A`);
    case 2:
      return withChecksum(`$IIDBT,035.53,f,${(10 + (i % 10) / 10).toFixed(2).padStart(6, '0')},M,005.85,F`);
    default:
      return withChecksum(`$PGRME,${(3 + (i % 10) / 10).toFixed(1)},M,4.2,M,5.3,M`);
  }
}

function skip(devices: DeviceUsed[], message: string): CheckResult {
  return { check: 'serial', outcome: 'skip', message, devices, figures: {} };
}

export async function checkSerial(options: SerialCheckOptions): Promise<CheckResult> {
  const { tx, rx, baudRate, lines, devices } = options;
  const used = tx === rx ? [serialDevice(tx)] : [serialDevice(tx), serialDevice(rx)];
  const absent = [...new Set([tx, rx])].filter((p) => !existsSync(p));
  if (absent.length > 0)
    return skip(used, `hardware absent: ${absent.join(', ')} does not exist (plug the adapter in, or check the path)`);
  const notDevice = [...new Set([tx, rx])].filter((p) => !statSync(p).isCharacterDevice());
  const failed = (message: string, figures: CheckResult['figures'] = {}): CheckResult => ({
    check: 'serial',
    outcome: 'fail',
    message,
    devices: used,
    figures,
  });
  if (notDevice.length > 0) return failed(`${notDevice.join(', ')} is not a serial device (not a character device)`);

  const bus = selftestBus();
  const source = await createSource({ id: 'selftest-serial', type: 'serial', device: rx, baudRate }, bus, devices);
  const plugin = new PluginDevices(devices, [`serial:${rx}`], [`serial:${rx}`]);
  let writer: SerialLease | undefined;
  try {
    source.start();
    writer = devices.serial.acquire(tx, baudRate);
    const handle = plugin.openSerialLines(rx, baudRate);
    if (typeof handle !== 'number') return failed(`the granted plugin path could not open ${rx}: ${handle.message}`);
    const txDriver = writer.driver;
    const opened = await waitUntil(
      () => txDriver.state === 'open' && source.status().state === 'open',
      options.openTimeoutMs ?? 5_000,
    );
    if (!opened) {
      const why = reason(txDriver.lastError ?? source.status().lastError, 'still connecting');
      return failed(`cannot open ${txDriver.state === 'open' ? rx : tx} at ${baudRate} baud: ${why}`);
    }
    // The refusal a plugin gets for a device it was not granted.
    const ungranted = tx === rx ? `${rx}.ungranted` : tx;
    const refused = plugin.openSerialLines(ungranted, baudRate);
    const grantEnforced = typeof refused !== 'number' && refused.code === DENIED;

    // What was on the line before (a device's stale buffer, a line cut at open) is not counted.
    await sleep(300);
    plugin.readLines(handle);
    const base = source.status();
    const errorsOf = (s: typeof base) => Object.values(s.errors).reduce((a, b) => a + b, 0);
    const sent = Array.from({ length: lines }, (_, i) => testSentence(i));
    const bytes = sent.reduce((n, l) => n + l.length + 2, 0);
    const received: string[] = [];
    const started = performance.now();
    let lastAt = started;
    const collect = (): void => {
      const got = plugin.readLines(handle);
      if (got.length > 0) lastAt = performance.now();
      received.push(...got);
    };
    for (const line of sent) {
      await txDriver.write(`${line}\r\n`);
      collect();
    }
    // On a UART the bytes take bytes·10/baud s to go out; then a margin for the adapter's buffers.
    const wire = (bytes * 10 * 1000) / baudRate;
    await waitUntil(() => {
      collect();
      return received.length >= lines && source.status().lines - base.lines >= lines;
    }, wire + 3_000);
    collect();
    const now = source.status();
    const sourceLines = now.lines - base.lines;
    const sourceErrors = errorsOf(now) - errorsOf(base);
    const deltas = now.deltas - base.deltas;
    const mismatched = received.filter((l, i) => l !== sent[i]).length;
    const seconds = Math.max((lastAt - started) / 1000, 1e-3);
    const receivedBytes = received.reduce((n, l) => n + l.length + 2, 0);
    const bytesPerSecond = Math.round(receivedBytes / seconds);
    const figures = {
      baudRate,
      linesSent: lines,
      bytesSent: bytes,
      sourceLinesReceived: sourceLines,
      sourceDeltas: deltas,
      sourceErrors,
      pluginLinesReceived: received.length,
      pluginLinesCorrupted: mismatched,
      grantEnforced,
      seconds: Number(seconds.toFixed(3)),
      bytesPerSecond,
      lineCapacityPercent: Math.round((bytesPerSecond / (baudRate / 10)) * 100),
    };
    const problems: string[] = [];
    if (sourceLines !== lines) problems.push(`source read ${sourceLines}/${lines} lines`);
    if (received.length !== lines) problems.push(`plugin read ${received.length}/${lines} lines`);
    if (sourceErrors > 0)
      problems.push(
        `${sourceErrors} bad lines (${Object.entries(now.errors)
          .map(([k, v]) => `${k} ${v - (base.errors[k] ?? 0)}`)
          .join(', ')})`,
      );
    if (mismatched > 0) problems.push(`${mismatched} lines differ from what was sent`);
    if (!grantEnforced)
      problems.push(
        `an ungranted device was not refused (${typeof refused === 'number' ? 'opened' : refused.message})`,
      );
    const summary = `${lines} lines sent at ${baudRate} baud; source ${sourceLines} received, ${sourceErrors} errors, ${deltas} deltas; plugin ${received.length} received; ${bytesPerSecond} B/s`;
    if (problems.length === 0) return { check: 'serial', outcome: 'pass', message: summary, devices: used, figures };
    const nothing = sourceLines === 0 && received.length === 0;
    const hint = nothing
      ? ` — nothing came back: is ${tx === rx ? `${tx}'s TX looped to its RX` : `${tx} wired to ${rx} (null-modem: TX↔RX, GND)`}?`
      : '';
    return failed(`${problems.join('; ')}${hint} (${summary})`, figures);
  } finally {
    await plugin.close();
    await source.stop();
    await writer?.release();
  }
}
