// The board's part of the service: a drop-in (signalk-edge.service.d/10-board.conf) that sets
// what differs per profile — Node flags, paths, MemoryMax, DeviceAllow — on top of the hardened
// systemd/signalk-edge.service, which stays the same on every board.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deviceAliases, type BoardProfile } from '../board/profile.js';
import { PROJECT_ROOT } from '../config/settings.js';

/** The hardened unit every board installs. */
export const UNIT_FILE = join(PROJECT_ROOT, 'systemd', 'signalk-edge.service');

/** The variables a unit's `Environment=NAME=value` lines set. */
export function unitEnvironment(unit: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of unit.matchAll(/^Environment=([A-Za-z_][A-Za-z0-9_]*)=(\S*)\s*$/gm)) env[m[1]!] = m[2]!;
  return env;
}

/** What the service's environment is on every board (systemd's unit; the daemontools `run` exports the same). */
export function serviceEnvironment(): Record<string, string> {
  return unitEnvironment(readFileSync(UNIT_FILE, 'utf8'));
}

export interface DropInOptions {
  /** Install prefix, e.g. /opt/signalk-edge. */
  prefix: string;
  /** Absolute path of node on the target. */
  nodePath: string;
}

/**
 * USB serial adapters come and go and renumber, and systemd resolves a DeviceAllow path only when
 * the service starts: allow their whole driver class. Fixed on-board ports get exactly their path
 * (a class such as ttyS shares its major number with the virtual consoles).
 */
export function deviceAllowFor(path: string): string {
  const hotplug = /^\/dev\/(ttyUSB|ttyACM)\d+$/.exec(path);
  return hotplug ? `char-${hotplug[1]} rw` : `${path} rw`;
}

/** The command that runs the service on the board: node, the profile's flags, `run` on the data folder. */
export function serviceCommand(profile: BoardProfile, opts: DropInOptions): string {
  return [
    opts.nodePath,
    ...profile.nodeFlags,
    `${opts.prefix}/dist/runtime/cli/main.js`,
    'run',
    '--data',
    profile.paths.data,
    '--board',
    profile.id,
  ].join(' ');
}

export function renderBoardDropIn(profile: BoardProfile, opts: DropInOptions): string {
  const { data, cache } = profile.paths;
  const aliases = deviceAliases(profile);
  const allow = [...new Set(aliases.filter((a) => a.kind === 'serial').map((a) => deviceAllowFor(a.target)))];
  const can = aliases.filter((a) => a.kind === 'can').map((a) => `${a.alias}=${a.target}`);
  const lines = [
    `# Board ${profile.id} (${profile.name}), from boards/${profile.id}.json.`,
    '# Written by scripts/install.sh; re-run it (with --board) rather than editing this file.',
    '[Service]',
    'ExecStart=',
    `ExecStart=${serviceCommand(profile, opts)}`,
    `WorkingDirectory=${data}`,
    `MemoryMax=${profile.memory.totalMB}M`,
    'ReadWritePaths=',
    `ReadWritePaths=${data === cache || cache.startsWith(`${data}/`) ? data : `${data} ${cache}`}`,
    'DeviceAllow=',
    ...allow.map((a) => `DeviceAllow=${a}`),
  ];
  if (can.length)
    lines.push(`# CAN (${can.join(', ')}) are network interfaces: reached through AF_CAN, no device node to allow.`);
  return `${lines.join('\n')}\n`;
}
