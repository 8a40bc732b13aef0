// The CAN self-test: NMEA 2000 traffic (single-frame and fast-packet PGNs) sent on an interface and
// received through the path a `can` data source uses (CanInterfaces → N2K codec with fast-packet
// reassembly → bus) and the one a plugin granted some PGNs uses (signalk_hal can_open/can_read
// behind the grant's PGN filter). On a board the frames go out through a second SocketCAN socket,
// so the interface must loop them back (loopback mode, vcan) or another node must acknowledge
// them. The twin (`--can-twin`) plays the same frames from a candump log through the replay
// driver instead, and says so.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pgnOf } from '../../hal/can/frame.js';
import type { HalDevices } from '../../hal/devices.js';
import { SocketCanDriver, type SocketCanOptions } from '../../hal/can/socketcan.js';
import { createSource } from '../../hal/sources/table.js';
import type { CanSourceSettings } from '../../hal/can/settings.js';
import { candumpLog, DEPTH_PGN, GNSS_PGN, HEADING_PGN, selftestMessages } from './n2k-frames.js';
import { DENIED, PluginDevices } from './plugin-devices.js';
import { reason, selftestBus, waitUntil } from './waiting.js';
import type { CheckResult, DeviceUsed } from './report.js';

export interface CanCheckOptions {
  iface: string;
  /** Play the frames from a candump log instead of sending them on a SocketCAN interface. */
  twin: boolean;
  rounds: number;
  devices: HalDevices;
  /** The SocketCAN driver's seams (sysfs folder, socket binding); the real ones on a board. */
  socketcan?: Omit<SocketCanOptions, 'iface'>;
  openTimeoutMs?: number;
  /** How long to wait for the frames to come back; by default 5 s plus 5 ms a frame. */
  receiveTimeoutMs?: number;
}

/** The PGNs the stand-in plugin is granted: one single-frame and the fast-packet one. */
const GRANTED_PGNS = [DEPTH_PGN, GNSS_PGN];

export async function checkCan(options: CanCheckOptions): Promise<CheckResult> {
  const { iface, twin, rounds, devices } = options;
  const socketcan = options.socketcan ?? {};
  const sysfs = socketcan.sysfs ?? '/sys/class/net';
  const messages = selftestMessages(rounds);
  const frames = messages.flatMap((m) => m.frames);
  const tmp = twin ? mkdtempSync(join(tmpdir(), 'ske-selftest-can-')) : undefined;
  const log = tmp ? join(tmp, 'selftest.candump') : undefined;
  // A virtual interface (vcan) has no `device` link in sysfs: it is a twin too, not hardware.
  const device: DeviceUsed = log
    ? { name: iface, kind: 'twin', twin: `candump replay of ${log}, no CAN hardware` }
    : existsSync(join(sysfs, iface)) && !existsSync(join(sysfs, iface, 'device'))
      ? { name: iface, kind: 'twin', twin: 'virtual CAN interface (no controller behind it), no CAN hardware' }
      : { name: iface, kind: 'hardware' };
  const failed = (message: string, figures: CheckResult['figures'] = {}): CheckResult => ({
    check: 'can',
    outcome: 'fail',
    message,
    devices: [device],
    figures,
  });
  if (!log && !existsSync(join(sysfs, iface))) {
    return {
      check: 'can',
      outcome: 'skip',
      message: `hardware absent: no CAN interface ${iface} (${join(sysfs, iface)} does not exist)`,
      devices: [device],
      figures: {},
    };
  }
  if (!log) {
    // ARPHRD_CAN (280): CAN controllers and vcan alike; anything else is some other network interface.
    const type = existsSync(join(sysfs, iface, 'type'))
      ? readFileSync(join(sysfs, iface, 'type'), 'utf8').trim()
      : '280';
    if (type !== '280') return failed(`${iface} is not a CAN interface (link type ${type})`);
    const state = readFileSync(join(sysfs, iface, 'operstate'), 'utf8').trim();
    if (state === 'down')
      return failed(
        `${iface} is down: ip link set ${iface} up type can bitrate 250000 (add "loopback on" with no other node)`,
      );
  }
  if (log) writeFileSync(log, candumpLog(frames, iface));

  const bus = selftestBus();
  const byPgn = new Map<number, number>();
  const unsubscribe = bus.subscribe((m) => {
    for (const u of m.delta.updates) {
      const pgn = (u.source as { pgn?: unknown } | undefined)?.pgn;
      if (typeof pgn === 'number') byPgn.set(pgn, (byPgn.get(pgn) ?? 0) + 1);
    }
  });
  const settings: CanSourceSettings = log
    ? { id: 'selftest-can', type: 'can', interface: iface, driver: 'candump', file: log, rate: 'fast', loop: false }
    : { id: 'selftest-can', type: 'can', interface: iface, driver: 'socketcan' };
  // SocketCAN with the check's seams (sysfs, binding) instead of the devices' default driver.
  if (!log) devices.can.define(iface, (i) => new SocketCanDriver({ ...socketcan, iface: i }));
  const source = await createSource(settings, bus, devices);
  const plugin = new PluginDevices(devices, [`can:${iface}`], [`can:${iface}:${GRANTED_PGNS.join(',')}`]);
  const sender = log ? undefined : new SocketCanDriver({ ...socketcan, iface });
  try {
    // The plugin's handle first: the replay twin starts playing as soon as the interface opens.
    const handle = plugin.openCan(iface);
    if (typeof handle !== 'number') return failed(`the granted plugin path could not open ${iface}: ${handle.message}`);
    const refused = plugin.openCan(iface, [HEADING_PGN]);
    const filterEnforced = typeof refused !== 'number' && refused.code === DENIED;
    source.start();
    const started = performance.now();
    if (sender) {
      sender.open();
      const opened = await waitUntil(
        () => sender.state === 'open' && source.status().state === 'open',
        options.openTimeoutMs ?? 5_000,
      );
      if (!opened)
        return failed(
          `cannot open ${iface}: ${reason(sender.lastError ?? source.status().lastError, 'still connecting')}`,
        );
      for (const f of frames) {
        await sender.send(f);
        // 250 kbit/s carries ~1,800 frames/s: a short pause keeps the transmit queue from overflowing.
        await sleep(1);
      }
    }
    const received: ReturnType<PluginDevices['readFrames']> = [];
    const wantedByPlugin = frames.filter((f) => GRANTED_PGNS.includes(pgnOf(f.id))).length;
    await waitUntil(
      () => {
        received.push(...plugin.readFrames(handle));
        return source.status().lines >= frames.length && received.length >= wantedByPlugin;
      },
      options.receiveTimeoutMs ?? 5_000 + frames.length * 5,
    );
    received.push(...plugin.readFrames(handle));
    const seconds = Math.max((performance.now() - started) / 1000, 1e-3);
    const status = source.status();
    const errors = Object.values(status.errors).reduce((a, b) => a + b, 0);
    const outsideGrant = received.filter((f) => !GRANTED_PGNS.includes(pgnOf(f.id))).length;
    const figures = {
      framesSent: frames.length,
      messagesSent: messages.length,
      fastPacketMessagesSent: rounds,
      sourceFramesReceived: status.lines,
      sourceDeltas: status.deltas,
      sourceErrors: errors,
      fastPacketDeltas: byPgn.get(GNSS_PGN) ?? 0,
      pluginGrantedPgns: GRANTED_PGNS.join(','),
      pluginFramesExpected: wantedByPlugin,
      pluginFramesReceived: received.length,
      pluginFramesOutsideGrant: outsideGrant,
      filterEnforced,
      seconds: Number(seconds.toFixed(3)),
      framesPerSecond: Math.round(status.lines / seconds),
    };
    const problems: string[] = [];
    if (status.lines !== frames.length) problems.push(`source read ${status.lines}/${frames.length} frames`);
    if (errors > 0)
      problems.push(
        `${errors} errors (${Object.entries(status.errors)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')})`,
      );
    if (status.deltas !== messages.length) problems.push(`${status.deltas}/${messages.length} messages decoded`);
    if ((byPgn.get(GNSS_PGN) ?? 0) !== rounds)
      problems.push(`${byPgn.get(GNSS_PGN) ?? 0}/${rounds} fast-packet messages reassembled`);
    if (received.length !== wantedByPlugin)
      problems.push(`plugin read ${received.length}/${wantedByPlugin} frames of its granted PGNs`);
    if (outsideGrant > 0) problems.push(`plugin got ${outsideGrant} frames outside its grant`);
    if (!filterEnforced)
      problems.push(
        `asking for an ungranted PGN was not refused (${typeof refused === 'number' ? 'opened' : refused.message})`,
      );
    const summary = `${frames.length} frames (${messages.length} messages, ${rounds} fast-packet) ${log ? 'replayed' : 'sent'}; source ${status.lines} received, ${status.deltas} decoded, ${errors} errors; plugin (PGNs ${GRANTED_PGNS.join(',')}) ${received.length}/${wantedByPlugin}; ${figures.framesPerSecond} frames/s`;
    if (problems.length === 0) return { check: 'can', outcome: 'pass', message: summary, devices: [device], figures };
    const hint =
      status.lines === 0 && sender
        ? ` — nothing came back: put ${iface} in loopback mode (ip link set ${iface} type can loopback on) or connect a second node`
        : '';
    return failed(`${problems.join('; ')}${hint} (${summary})`, figures);
  } finally {
    unsubscribe();
    await plugin.close();
    await source.stop();
    await sender?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}
