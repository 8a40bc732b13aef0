// `signalk-edge selftest`: hardware-in-the-loop checks for a real board (docs/hil.md). Each check
// prints pass/fail/skip with its figure; the JSON report (--report) holds the same and the counts.
// Exit 0 when every check that ran passed, 1 when one failed, 2 when nothing could be tested.

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createDevices } from '../../hal/devices.js';
import type { ResolvedBoard } from '../board/resolve.js';
import type { Settings } from '../config/settings.js';
import { checkCan } from '../selftest/can.js';
import { checkPlugin } from '../selftest/plugin.js';
import { formatCheck, formatSummary, summarize, type CheckResult, type SelftestReport } from '../selftest/report.js';
import { checkSerial } from '../selftest/serial.js';
import { CommandError } from './command-error.js';
import { SELFTEST_USAGE } from './selftest-usage.js';

export class SelftestUsageError extends CommandError {}

interface Parsed {
  serial?: { tx: string; rx: string };
  baud?: number;
  lines: number;
  can?: { iface: string; twin: boolean };
  rounds: number;
  plugin?: string;
  report?: string;
}

function positive(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0)
    throw new SelftestUsageError(`--${name} needs a positive whole number, got ${JSON.stringify(text)}`);
  return n;
}

export function parseSelftestArgs(values: Record<string, string | boolean | undefined>): Parsed {
  const out: Parsed = {
    lines: positive(values.lines as string | undefined, 'lines', 40),
    rounds: positive(values['frames-rounds'] as string | undefined, 'frames-rounds', 20),
  };
  if (typeof values.serial === 'string') {
    const ports = values.serial.split(',').map((p) => p.trim());
    if (ports.length > 2 || ports.some((p) => p === ''))
      throw new SelftestUsageError(
        `--serial takes one port (TX↔RX loopback) or two wired to each other: --serial A,B; got ${JSON.stringify(values.serial)}`,
      );
    out.serial = { tx: ports[0]!, rx: ports[1] ?? ports[0]! };
  }
  if (values.baud !== undefined) out.baud = positive(values.baud as string, 'baud', 4800);
  if (typeof values.can === 'string' && values['can-twin'])
    throw new SelftestUsageError('--can and --can-twin exclude each other');
  if (typeof values.can === 'string') out.can = { iface: values.can, twin: false };
  if (values['can-twin']) out.can = { iface: 'twin0', twin: true };
  if (typeof values.plugin === 'string') out.plugin = values.plugin;
  if (typeof values.report === 'string') out.report = values.report;
  if (!out.serial && !out.can && !out.plugin)
    throw new SelftestUsageError('selftest needs something to test: --serial, --can/--can-twin and/or --plugin');
  if (out.plugin && !out.serial && !out.can)
    throw new SelftestUsageError('--plugin needs the devices to run it against: --serial and/or --can/--can-twin');
  return out;
}

export const SELFTEST_OPTIONS = {
  serial: { type: 'string' },
  baud: { type: 'string' },
  lines: { type: 'string' },
  can: { type: 'string' },
  'can-twin': { type: 'boolean' },
  'frames-rounds': { type: 'string' },
  plugin: { type: 'string' },
  report: { type: 'string' },
} as const;

/** A port's rate: --baud, else the rate a source in settings gives that port (aliases resolved), else 4800. */
function baudFor(port: string, parsed: Parsed, settings: Settings, board: ResolvedBoard): number {
  if (parsed.baud !== undefined) return parsed.baud;
  const real = (p: string) => board.profile.devices[p] ?? p;
  const source = settings.sources.find((s) => s.type === 'serial' && real(s.device) === real(port));
  return source && source.type === 'serial' ? source.baudRate : 4800;
}

export async function runSelftest(args: string[], settings: Settings, board: ResolvedBoard): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        ...SELFTEST_OPTIONS,
        settings: { type: 'string' },
        data: { type: 'string' },
        board: { type: 'string' },
      },
    }));
  } catch (err) {
    throw new SelftestUsageError(`${(err as Error).message}\nusage:\n${SELFTEST_USAGE}`);
  }
  const parsed = parseSelftestArgs(values);
  const startedAt = new Date().toISOString();
  const alias = (p: string) => board.profile.devices[p] ?? p;
  const checks: CheckResult[] = [];
  const report = (c: CheckResult) => {
    checks.push(c);
    console.log(formatCheck(c));
  };
  const serial = parsed.serial && {
    tx: alias(parsed.serial.tx),
    rx: alias(parsed.serial.rx),
    baudRate: baudFor(parsed.serial.tx, parsed, settings, board),
    lines: parsed.lines,
  };
  const can = parsed.can && { iface: alias(parsed.can.iface), twin: parsed.can.twin, rounds: parsed.rounds };
  if (serial) report(await checkSerial({ ...serial, devices: createDevices() }));
  if (can) report(await checkCan({ ...can, devices: createDevices() }));
  if (parsed.plugin) {
    // Only against devices that passed: a plugin on a dead line tells nothing.
    const ok = (name: string) => checks.find((c) => c.check === name)?.outcome === 'pass';
    const usable = { ...(serial && ok('serial') ? { serial } : {}), ...(can && ok('can') ? { can } : {}) };
    if (!usable.serial && !usable.can) {
      report({
        check: 'plugin',
        outcome: 'skip',
        message: `${parsed.plugin} not started: none of its devices passed its own check`,
        devices: [],
        figures: {},
      });
    } else {
      report(await checkPlugin({ id: parsed.plugin, settings, ...usable, watchMs: 3_000 }));
    }
  }
  const { summary, exitCode } = summarize(checks);
  const result: SelftestReport = {
    command: ['signalk-edge', 'selftest', ...args].join(' '),
    startedAt,
    finishedAt: new Date().toISOString(),
    node: process.versions.node,
    board: board.profile.id,
    checks,
    summary,
    exitCode,
  };
  console.log(formatSummary(result));
  if (parsed.report) {
    writeFileSync(parsed.report, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`report: ${parsed.report}`);
  }
  return exitCode;
}
