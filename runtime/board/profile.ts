// Board profiles (boards/<id>.json): memory budgets, Node flags, device aliases and install paths
// for one kind of boat computer. Parsed from untrusted JSON like the settings file.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../config/settings.js';
import { Reader, SettingsError } from '../../core/settings-reader.js';
import { parseLimits, type PartialLimits } from '../security/limits.js';
import { TARGET_IDS, type TargetId } from '../release/targets.js';

export const BOARDS_DIR = join(PROJECT_ROOT, 'boards');

/** The profile used when nothing else matches (x86-64 or an unknown board). */
export const FALLBACK_BOARD = 'generic';

export interface BoardDetectRules {
  /** Regular expressions tried against the device-tree model (and cpuinfo's `Model` line). */
  model: string[];
  /** Raspberry Pi new-style revision code types (bits 4–11 of cpuinfo's `Revision`). */
  revisionTypes: number[];
}

export interface BoardProfile {
  id: string;
  name: string;
  /** Absent for the fallback profile. */
  detect?: BoardDetectRules;
  memory: { perPluginMB: number; totalMB: number };
  nodeFlags: string[];
  /** Alias → serial device path (`/dev/...`) or CAN interface name (`can0`, `vecan0`). */
  devices: Record<string, string>;
  /** data, cache, and where the program goes (`/opt/signalk-edge`; under /data on Venus OS, whose root is replaced by updates). */
  paths: { data: string; cache: string; program: string };
  /** The boot service manager: systemd, or daemontools (Venus OS on the Cerbo GX). */
  service: 'systemd' | 'daemontools';
  /** Bounds for this board over the built-in defaults (runtime/security/limits.ts); settings override them. */
  limits?: PartialLimits;
  /** Release targets its OS comes as (release.sh --target); empty: any. */
  targets: TargetId[];
}

export interface DeviceAlias {
  alias: string;
  kind: 'serial' | 'can';
  /** A device path for serial, an interface name for CAN. */
  target: string;
}

const ID = /^[a-z0-9][a-z0-9-]{0,31}$/;
const CAN_IFACE = /^[a-z][a-z0-9_]{0,14}$/;

export function parseProfile(input: unknown, file: string): BoardProfile {
  const r = new Reader(file);
  const o = r.obj(input, '');
  r.known(o, '', ['id', 'name', 'detect', 'memory', 'nodeFlags', 'devices', 'paths', 'service', 'limits', 'targets']);
  const id = r.str(o.id, 'id');
  if (!ID.test(id)) r.fail('id', 'must be lower-case letters, digits and -');
  const mem = r.obj(o.memory, 'memory');
  r.known(mem, 'memory', ['perPluginMB', 'totalMB']);
  const totalMB = r.int(mem.totalMB, 'memory.totalMB', 64, 65536);
  const profile: BoardProfile = {
    id,
    name: r.str(o.name, 'name'),
    memory: { perPluginMB: r.int(mem.perPluginMB, 'memory.perPluginMB', 1, totalMB), totalMB },
    nodeFlags: [],
    devices: {},
    paths: { data: '', cache: '', program: '/opt/signalk-edge' },
    service: o.service === undefined ? 'systemd' : r.oneOf(o.service, 'service', ['systemd', 'daemontools'] as const),
    targets: arrayOf(r, o.targets ?? [], 'targets').map((v, i) => r.oneOf(v, `targets[${i}]`, TARGET_IDS)),
  };
  if (o.limits !== undefined) profile.limits = parseLimits(r, o.limits, 'limits');
  if (o.detect !== undefined) {
    const d = r.obj(o.detect, 'detect');
    r.known(d, 'detect', ['model', 'revisionTypes']);
    const model = d.model === undefined ? [] : arrayOf(r, d.model, 'detect.model');
    const revisionTypes = d.revisionTypes === undefined ? [] : arrayOf(r, d.revisionTypes, 'detect.revisionTypes');
    profile.detect = {
      model: model.map((v, i) => {
        const pattern = r.str(v, `detect.model[${i}]`);
        try {
          new RegExp(pattern);
        } catch (err) {
          r.fail(`detect.model[${i}]`, `not a regular expression: ${(err as Error).message}`);
        }
        return pattern;
      }),
      revisionTypes: revisionTypes.map((v, i) => r.int(v, `detect.revisionTypes[${i}]`, 0, 255)),
    };
  }
  profile.nodeFlags = arrayOf(r, o.nodeFlags ?? [], 'nodeFlags').map((v, i) => {
    const flag = r.str(v, `nodeFlags[${i}]`);
    if (!/^--[a-z0-9-]+(=[A-Za-z0-9_.,:/-]+)?$/.test(flag))
      r.fail(`nodeFlags[${i}]`, `must look like --flag or --flag=value, got ${JSON.stringify(flag)}`);
    return flag;
  });
  const devices = r.obj(o.devices ?? {}, 'devices');
  for (const [alias, v] of Object.entries(devices)) {
    const key = `devices.${alias}`;
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(alias)) r.fail(key, 'alias must be 1-32 letters, digits, _ or -');
    const target = r.str(v, key);
    if (!target.startsWith('/dev/') && !CAN_IFACE.test(target))
      r.fail(key, `must be a /dev/ path or a CAN interface name, got ${JSON.stringify(target)}`);
    profile.devices[alias] = target;
  }
  const paths = r.obj(o.paths, 'paths');
  r.known(paths, 'paths', ['data', 'cache', 'program']);
  for (const k of ['data', 'cache', 'program'] as const) {
    if (k === 'program' && paths[k] === undefined) continue;
    const p = r.str(paths[k], `paths.${k}`);
    if (!p.startsWith('/') || /\s/.test(p))
      r.fail(`paths.${k}`, `must be an absolute path without spaces, got ${JSON.stringify(p)}`);
    profile.paths[k] = p;
  }
  return profile;
}

function arrayOf(r: Reader, v: unknown, key: string): unknown[] {
  if (!Array.isArray(v)) r.fail(key, 'must be an array');
  return v;
}

export function deviceAliases(profile: BoardProfile): DeviceAlias[] {
  return Object.entries(profile.devices).map(([alias, target]) => ({
    alias,
    kind: target.startsWith('/dev/') ? 'serial' : 'can',
    target,
  }));
}

export function loadProfile(id: string, dir = BOARDS_DIR): BoardProfile {
  if (!ID.test(id))
    throw new SettingsError(
      '--board',
      '',
      `not a board id: ${JSON.stringify(id)} (known: ${profileIds(dir).join(', ')})`,
    );
  const file = join(dir, `${id}.json`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new SettingsError(
      '--board',
      '',
      `unknown board ${JSON.stringify(id)} (known: ${profileIds(dir).join(', ')})`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SettingsError(file, '', `not valid JSON: ${(err as Error).message}`);
  }
  const profile = parseProfile(json, file);
  if (profile.id !== id) throw new SettingsError(file, 'id', `must equal the file name (${id})`);
  return profile;
}

export function profileIds(dir = BOARDS_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5))
    .sort();
}

export function loadAllProfiles(dir = BOARDS_DIR): BoardProfile[] {
  return profileIds(dir).map((id) => loadProfile(id, dir));
}
