// `signalk-edge doctor`: is this machine ready to run the service? Board, Node, devices and their
// permissions, devices named by sources and by operator grants, data and cache folders, service
// state (systemd, or daemontools on Venus OS), security against the listen address. Read-only; any `fail` makes the exit status non-zero.

import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync, type Stats } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { PROJECT_ROOT, type Settings } from '../config/settings.js';
import { deviceAliases } from '../board/profile.js';
import type { ResolvedBoard } from '../board/resolve.js';
import { parseGrant } from '../capabilities/grant.js';
import { GrantTable } from '../capabilities/store.js';
import { assertSafeBind } from '../security/settings.js';
import { SecurityStore } from '../security/store.js';
import { checkRelease } from './doctor-release.js';

export type CheckStatus = 'ok' | 'info' | 'warn' | 'fail';

export interface Check {
  status: CheckStatus;
  topic: string;
  message: string;
}

/** Something that needs a device: a serial source or a plugin's grant. */
export interface DeviceRef {
  /** Who needs it, e.g. `source nmea1` or `grant my-plugin`. */
  owner: string;
  device: string;
}

export interface DoctorInput {
  settings: Settings;
  board: ResolvedBoard;
  service?: string;
  /** Exists only when systemd is the init system. */
  systemdRunDir?: string;
  /** Where svscan looks for services (daemontools boards). */
  serviceDir?: string;
  /** The installed program whose release and native addons are checked (default: this one). */
  programDir?: string;
}

const SERVICE = 'signalk-edge';

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function canReadWrite(path: string): boolean {
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function groupName(gid: number): string {
  try {
    const line = readFileSync('/etc/group', 'utf8')
      .split('\n')
      .find((l) => l.split(':')[2] === String(gid));
    return line?.split(':')[0] ?? String(gid);
  } catch {
    return String(gid);
  }
}

function modeString(st: Stats): string {
  const kind = st.isCharacterDevice() ? 'c' : st.isDirectory() ? 'd' : st.isFile() ? '-' : '?';
  const bits = 'rwxrwxrwx'.split('').map((ch, i) => (st.mode & (1 << (8 - i)) ? ch : '-'));
  return kind + bits.join('');
}

/** A device that must exist and be usable by this user: a missing or unusable one is a failure. */
export function checkDeviceRefs(refs: readonly DeviceRef[]): Check[] {
  return refs.map(({ owner, device }): Check => {
    const st = statOrUndefined(device);
    if (!st) return { status: 'fail', topic: 'device', message: `${owner} needs ${device}, which does not exist` };
    if (!st.isCharacterDevice())
      return { status: 'fail', topic: 'device', message: `${owner} needs ${device}, which is not a character device` };
    const perms = `${modeString(st)} group ${groupName(st.gid)}`;
    if (!canReadWrite(device)) {
      return {
        status: 'fail',
        topic: 'device',
        message: `${owner} needs ${device} (${perms}), which ${userInfo().username} cannot read and write: add the user to group ${groupName(st.gid)}`,
      };
    }
    return { status: 'ok', topic: 'device', message: `${owner}: ${device} present, ${perms}, read/write ok` };
  });
}

/** The profile's aliases: informative only, an adapter that is not plugged in is not an error. */
function checkAliases(board: ResolvedBoard): Check[] {
  return deviceAliases(board.profile).map(({ alias, kind, target }): Check => {
    if (kind === 'can') {
      const dir = `/sys/class/net/${target}`;
      if (!existsSync(dir))
        return { status: 'info', topic: 'device', message: `${alias} → CAN ${target}: no such interface` };
      const state = readFileSync(join(dir, 'operstate'), 'utf8').trim();
      return {
        status: state === 'down' ? 'warn' : 'ok',
        topic: 'device',
        message: `${alias} → CAN ${target}: ${state}`,
      };
    }
    const st = statOrUndefined(target);
    if (!st) return { status: 'info', topic: 'device', message: `${alias} → ${target}: not present` };
    const usable = canReadWrite(target);
    return {
      status: usable ? 'ok' : 'warn',
      topic: 'device',
      message: `${alias} → ${target}: ${modeString(st)} group ${groupName(st.gid)}${usable ? ', read/write ok' : `, not usable by ${userInfo().username}`}`,
    };
  });
}

function checkNode(): Check {
  const pkg: unknown = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8'));
  const range = (pkg as { engines?: { node?: unknown } }).engines?.node;
  const min = typeof range === 'string' ? /^>=\s*(\d+)\.(\d+)/.exec(range) : null;
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  if (!min) return { status: 'info', topic: 'node', message: `Node ${process.versions.node}` };
  const ok = major > Number(min[1]) || (major === Number(min[1]) && minor >= Number(min[2]));
  return { status: ok ? 'ok' : 'fail', topic: 'node', message: `Node ${process.versions.node} (needs ${range})` };
}

function checkFolder(topic: string, dir: string, missing: string): Check {
  const st = statOrUndefined(dir);
  if (!st) return { status: 'warn', topic, message: `${dir} missing: ${missing}` };
  if (!st.isDirectory()) return { status: 'fail', topic, message: `${dir} is not a folder` };
  if (!canReadWrite(dir)) return { status: 'fail', topic, message: `${dir} is not writable by ${userInfo().username}` };
  const entries = readdirSync(dir).length;
  return { status: 'ok', topic, message: `${dir} writable, ${entries} entr${entries === 1 ? 'y' : 'ies'}` };
}

/** Serial devices that grants name (aliases resolved); a grants file that does not parse is a failure. */
function grantedDevices(settings: Settings, board: ResolvedBoard): { refs: DeviceRef[]; checks: Check[] } {
  const table = new GrantTable(settings.grants, settings.dataDir);
  const checks: Check[] = table.error
    ? [
        {
          status: 'fail',
          topic: 'grants',
          message: `${table.error} (the runtime ignores it and keeps the previous grants)`,
        },
      ]
    : [];
  const refs: DeviceRef[] = [];
  for (const { pluginId, grant } of table.all()) {
    const parsed = parseGrant(grant);
    if (!parsed.ok || parsed.grant.kind !== 'serial' || parsed.grant.device === '*') continue;
    const device = board.profile.devices[parsed.grant.device] ?? parsed.grant.device;
    refs.push({ owner: `grant ${grant} to ${pluginId}`, device });
  }
  return { refs, checks };
}

function checkDaemontools(name: string, serviceDir: string): Check {
  const link = join(serviceDir, name);
  if (!existsSync(link))
    return {
      status: 'warn',
      topic: 'service',
      message: `${link} missing: not started at boot (run scripts/install.sh; /data/rc.local links it)`,
    };
  const r = spawnSync('svstat', [link], { encoding: 'utf8', timeout: 10_000 });
  if (r.error)
    return { status: 'info', topic: 'service', message: `${link} present (svstat unavailable: ${r.error.message})` };
  const text = r.stdout.trim();
  return {
    status: /: up /.test(text) ? 'ok' : 'warn',
    topic: 'service',
    message: text || `${link}: svstat said nothing`,
  };
}

function checkService(name: string, runDir: string): Check {
  if (!existsSync(runDir)) return { status: 'info', topic: 'service', message: `not under systemd (no ${runDir})` };
  const r = spawnSync('systemctl', ['is-active', `${name}.service`], { encoding: 'utf8', timeout: 10_000 });
  if (r.error) return { status: 'warn', topic: 'service', message: `systemctl failed: ${r.error.message}` };
  const state = r.stdout.trim() || 'unknown';
  const status: CheckStatus =
    state === 'active' || state === 'activating' || state === 'reloading' ? 'ok' : state === 'failed' ? 'fail' : 'warn';
  return { status, topic: 'service', message: `${name}.service is ${state}` };
}

/** Security against the bind address, and whether anyone can administer it. */
export function checkSecurity(settings: Settings): Check {
  try {
    assertSafeBind(settings.host, settings.security);
  } catch (err) {
    return { status: 'fail', topic: 'auth', message: (err as Error).message };
  }
  if (!settings.security?.enabled)
    return {
      status: 'info',
      topic: 'auth',
      message: `off: the API on ${settings.host} serves this machine only, without logins`,
    };
  const store = new SecurityStore(settings.dataDir);
  try {
    const users = store.listUsers();
    const admins = users.filter((u) => u.permission === 'admin').length;
    const pending = store.listRequests().filter((r) => r.state === 'PENDING').length;
    const summary = `on: ${users.length} user(s), ${admins} admin(s), ${store.listDevices().length} approved device(s), ${pending} pending access request(s)${settings.security.allowReadOnly ? '; reading without a login allowed' : ''}`;
    if (admins === 0)
      return {
        status: 'warn',
        topic: 'auth',
        message: `${summary}; no admin: signalk-edge user add <name> --permission admin --data ${settings.dataDir}`,
      };
    return { status: 'ok', topic: 'auth', message: summary };
  } catch (err) {
    return { status: 'fail', topic: 'auth', message: (err as Error).message };
  }
}

export function runDoctor(input: DoctorInput): Check[] {
  const { settings, board } = input;
  const sources: DeviceRef[] = settings.sources.flatMap((s) =>
    s.type === 'serial' ? [{ owner: `source ${s.id}`, device: s.device }] : [],
  );
  const how = board.how === 'detected' ? `detected: ${board.reason}` : `from ${board.reason}`;
  const grants = grantedDevices(settings, board);
  const name = input.service ?? SERVICE;
  return [
    {
      status: 'info',
      topic: 'board',
      message: `${board.profile.id} — ${board.profile.name} (${how}); memory ${board.profile.memory.totalMB} MB total, ${board.profile.memory.perPluginMB} MB per plugin`,
    },
    checkNode(),
    ...checkRelease(input.programDir ?? PROJECT_ROOT, board.profile),
    ...checkAliases(board),
    ...grants.checks,
    ...checkDeviceRefs([...sources, ...grants.refs]),
    checkFolder('data', settings.dataDir, 'created at first start'),
    checkSecurity(settings),
    checkFolder(
      'cache',
      settings.cacheDir ?? join(settings.dataDir, 'cache'),
      'scripts/install.sh creates it; `signalk-edge compile` fills it',
    ),
    board.profile.service === 'daemontools'
      ? checkDaemontools(name, input.serviceDir ?? '/service')
      : checkService(name, input.systemdRunDir ?? '/run/systemd/system'),
  ];
}

export function formatReport(checks: readonly Check[]): string {
  const lines = checks.map((c) => `${c.status.padEnd(4)}  ${c.topic.padEnd(7)} ${c.message}`);
  const failed = checks.filter((c) => c.status === 'fail').length;
  const warned = checks.filter((c) => c.status === 'warn').length;
  lines.push(
    failed
      ? `${failed} problem(s) found${warned ? `, ${warned} warning(s)` : ''}`
      : `no problems found${warned ? ` (${warned} warning(s))` : ''}`,
  );
  return lines.join('\n');
}
