// The runtime's one settings file: parsed from unknown JSON and validated, every error naming
// the key that is wrong (`sources[1].baudRate: ...`).

import { readFileSync, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GrantsFileError, parseGrantLists, type GrantLists } from '../capabilities/store.js';
import { discoverPlugins } from '../plugins/discovery.js';
import { parseMqttSettings, parseNetSource, type MqttSettings, type TcpSourceSettings, type UdpSourceSettings } from '../../hal/net/settings.js';
import { parseCanSource, type CanSourceSettings } from '../../hal/can/settings.js';
import { parseSecuritySettings, type SecuritySettings } from '../security/settings.js';
import { parseLimits, type PartialLimits } from '../security/limits.js';

export interface SerialSourceSettings {
  id: string;
  type: 'serial';
  device: string;
  baudRate: number;
}

export interface ReplaySourceSettings {
  id: string;
  type: 'replay';
  file: string;
  /** `realtime` paces lines by the timestamps/sentences in the log, `fast` plays as fast as possible. */
  rate: 'realtime' | 'fast';
  /** Lines per second when pacing a log without timestamps in realtime mode. */
  linesPerSecond: number;
  loop: boolean;
}

export type SourceSettings = SerialSourceSettings | ReplaySourceSettings | UdpSourceSettings | TcpSourceSettings | CanSourceSettings;
export type { CanSourceSettings };

/** Crash recovery: restart after baseMs, doubling up to maxMs; give up at the maxCrashes-th crash. */
export interface PluginRestartSettings {
  baseMs: number;
  maxMs: number;
  maxCrashes: number;
  /** A plugin that has run this long since its last start has its crash count reset. */
  stableMs: number;
}

/** Upstream's policy: 1 s doubling, give up after 3 crashes. */
export const DEFAULT_PLUGIN_RESTART: PluginRestartSettings = { baseMs: 1000, maxMs: 30_000, maxCrashes: 3, stableMs: 30_000 };

/** A call into a plugin running longer than this is stopped and counts as a crash. */
export const DEFAULT_CALL_TIMEOUT_MS = 1000;

export interface PluginSettings {
  /** Folders searched for plugin packages (npm layout). */
  dirs: string[];
  /** Reload a plugin when its .wasm file changes (default true). */
  watch?: boolean;
  restart?: PluginRestartSettings;
  /** Bound on one call (or batch of deliveries) into a plugin; DEFAULT_CALL_TIMEOUT_MS when absent. */
  callTimeoutMs?: number;
}

export interface Settings {
  port: number;
  host: string;
  dataDir: string;
  selfUrn?: string;
  sources: SourceSettings[];
  plugins: PluginSettings;
  /** Board profile id (boards/<id>.json); detected when absent. */
  board?: string;
  /** AOT cache folder; `<dataDir>/cache` when absent. */
  cacheDir?: string;
  /** Operator grants by plugin id (`*` = every plugin); DEFAULT_GRANTS when absent. */
  grants?: GrantLists;
  /** MQTT broker connection and bridge rules (hal/net/settings.ts). */
  mqtt?: MqttSettings;
  /** Users, tokens, origins, host names, ACLs (runtime/security/settings.ts); absent = off, loopback only. */
  security?: SecuritySettings;
  /** Bounds on clients and plugins over the board profile's (runtime/security/limits.ts). */
  limits?: PartialLimits;
  /** Upstream's setting: the default provider (plugin id) per resource type (runtime/plugins/resource-defaults.ts). */
  resourcesApi?: { defaultProviders: Record<string, string> };
}

export class SettingsError extends Error {
  constructor(
    readonly file: string,
    readonly key: string,
    detail: string,
  ) {
    super(`${file}: ${key ? `${key}: ` : ''}${detail}`);
    this.name = 'SettingsError';
  }
}

/** The project root (where package.json lives), from this compiled file in dist/runtime/config. */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export const DEMO_LOG = join(PROJECT_ROOT, 'examples', 'data', 'demo-passage.nmea');

export function defaultDataDir(): string {
  return process.env.SIGNALK_EDGE_DATA ?? join(homedir(), '.signalk-edge');
}

export const VALID_BAUD_RATES = [4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800];

/**
 * The built-in default: replay the bundled demo passage in real time, load the example library
 * plugins. The command-plugin example is left out: it reads a serial port the demo does not have,
 * and its Wasmer sandbox would cost about 90 MB to sit idle.
 */
export function demoSettings(dataDir = defaultDataDir()): Settings {
  // Examples not built are left out too (the Rust one, where Debian's Rust toolchain is missing).
  const examples = discoverPlugins([join(PROJECT_ROOT, 'examples')]).flatMap((p) => (p.ok && !p.manifest.command && existsSync(p.manifest.wasmPath) ? [p.manifest.dir] : []));
  return {
    port: 3000,
    host: '127.0.0.1',
    dataDir,
    sources: [{ id: 'demo', type: 'replay', file: DEMO_LOG, rate: 'realtime', linesPerSecond: 10, loop: true }],
    plugins: { dirs: examples, watch: true, restart: { ...DEFAULT_PLUGIN_RESTART } },
  };
}

type Obj = Record<string, unknown>;

/** Typed reads of untrusted JSON that fail with a SettingsError naming the key. */
export class Reader {
  constructor(readonly file: string) {}
  fail(key: string, detail: string): never {
    throw new SettingsError(this.file, key, detail);
  }
  obj(v: unknown, key: string): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(key, `must be an object, got ${kind(v)}`);
    return v as Obj;
  }
  known(o: Obj, key: string, allowed: string[]): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) this.fail(key ? `${key}.${k}` : k, `unknown key (allowed: ${allowed.join(', ')})`);
    }
  }
  str(v: unknown, key: string): string {
    if (typeof v !== 'string' || v === '') this.fail(key, `must be a non-empty string, got ${kind(v)}`);
    return v;
  }
  int(v: unknown, key: string, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(key, `must be an integer from ${min} to ${max}, got ${shown(v)}`);
    }
    return v;
  }
  bool(v: unknown, key: string): boolean {
    if (typeof v !== 'boolean') this.fail(key, `must be true or false, got ${kind(v)}`);
    return v;
  }
  oneOf<T extends string | number>(v: unknown, key: string, allowed: readonly T[]): T {
    if (!allowed.includes(v as T)) this.fail(key, `must be one of ${allowed.join(', ')}, got ${shown(v)}`);
    return v as T;
  }
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? JSON.stringify(v) : typeof v;
}

/** A value as an error shows it: scalars as JSON, a list or object by kind only (it may nest deeper than JSON.stringify can go). */
function shown(v: unknown): string {
  return typeof v === 'object' && v !== null ? kind(v) : String(JSON.stringify(v));
}

/**
 * Validates settings from untrusted JSON. Relative paths resolve against the settings file's folder.
 */
export function parseSettings(input: unknown, file: string): Settings {
  const r: Reader = new Reader(file);
  const base = dirname(resolve(file));
  const o = r.obj(input, '');
  r.known(o, '', ['port', 'host', 'dataDir', 'selfUrn', 'sources', 'plugins', 'board', 'cacheDir', 'grants', 'mqtt', 'security', 'limits', 'resourcesApi']);
  const settings: Settings = {
    port: o.port === undefined ? 3000 : r.int(o.port, 'port', 0, 65535),
    host: o.host === undefined ? '127.0.0.1' : r.str(o.host, 'host'),
    dataDir: o.dataDir === undefined ? defaultDataDir() : resolve(base, r.str(o.dataDir, 'dataDir')),
    sources: [],
    plugins: { dirs: [], watch: true, restart: { ...DEFAULT_PLUGIN_RESTART } },
  };
  if (o.board !== undefined) {
    const board = r.str(o.board, 'board');
    if (!/^[a-z0-9][a-z0-9-]{0,31}$/.test(board)) r.fail('board', `must be a board id like rpi4, got ${JSON.stringify(board)}`);
    settings.board = board;
  }
  if (o.cacheDir !== undefined) settings.cacheDir = resolve(base, r.str(o.cacheDir, 'cacheDir'));
  if (o.grants !== undefined) {
    try {
      settings.grants = parseGrantLists(o.grants, 'grants');
    } catch (err) {
      if (!(err instanceof GrantsFileError)) throw err;
      r.fail('', err.message);
    }
  }
  if (o.mqtt !== undefined) settings.mqtt = parseMqttSettings(r, o.mqtt);
  if (o.security !== undefined) settings.security = parseSecuritySettings(r, o.security);
  if (o.limits !== undefined) settings.limits = parseLimits(r, o.limits, 'limits');
  if (o.resourcesApi !== undefined) {
    const api = r.obj(o.resourcesApi, 'resourcesApi');
    r.known(api, 'resourcesApi', ['defaultProviders']);
    const d = r.obj(api.defaultProviders ?? {}, 'resourcesApi.defaultProviders');
    settings.resourcesApi = { defaultProviders: Object.fromEntries(Object.entries(d).map(([type, id]) => [type, r.str(id, `resourcesApi.defaultProviders.${type}`)])) };
  }
  if (o.selfUrn !== undefined) {
    const urn = r.str(o.selfUrn, 'selfUrn');
    if (!/^urn:mrn:(signalk:uuid:[0-9a-fA-F-]{36}|imo:mmsi:\d{9})$/.test(urn)) {
      r.fail('selfUrn', `must look like urn:mrn:signalk:uuid:<uuid> or urn:mrn:imo:mmsi:<9 digits>, got ${JSON.stringify(urn)}`);
    }
    settings.selfUrn = urn;
  }
  if (o.sources !== undefined) {
    if (!Array.isArray(o.sources)) r.fail('sources', `must be an array, got ${kind(o.sources)}`);
    const ids = new Set<string>();
    o.sources.forEach((raw: unknown, i: number) => {
      const key = `sources[${i}]`;
      const s = r.obj(raw, key);
      const id = r.str(s.id, `${key}.id`);
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) r.fail(`${key}.id`, 'must be 1-32 letters, digits, _ or -');
      if (ids.has(id)) r.fail(`${key}.id`, `duplicate source id ${JSON.stringify(id)}`);
      ids.add(id);
      const type = r.oneOf(s.type, `${key}.type`, ['serial', 'replay', 'udp', 'tcp', 'can'] as const);
      if (type === 'serial') {
        r.known(s, key, ['id', 'type', 'device', 'baudRate']);
        settings.sources.push({
          id,
          type,
          device: r.str(s.device, `${key}.device`),
          baudRate: s.baudRate === undefined ? 4800 : r.oneOf(s.baudRate, `${key}.baudRate`, VALID_BAUD_RATES),
        });
      } else if (type === 'udp' || type === 'tcp') {
        settings.sources.push(parseNetSource(r, s, key, id, type));
      } else if (type === 'can') {
        settings.sources.push(parseCanSource(r, s, key, id, base, settings.sources));
      } else {
        r.known(s, key, ['id', 'type', 'file', 'rate', 'linesPerSecond', 'loop']);
        const filePath = resolve(base, r.str(s.file, `${key}.file`));
        if (!existsSync(filePath)) r.fail(`${key}.file`, `no such file: ${filePath}`);
        settings.sources.push({
          id,
          type,
          file: filePath,
          rate: s.rate === undefined ? 'realtime' : r.oneOf(s.rate, `${key}.rate`, ['realtime', 'fast'] as const),
          linesPerSecond: s.linesPerSecond === undefined ? 10 : r.int(s.linesPerSecond, `${key}.linesPerSecond`, 1, 1_000_000),
          loop: s.loop === undefined ? false : r.bool(s.loop, `${key}.loop`),
        });
      }
    });
  }
  if (o.plugins !== undefined) {
    const p = r.obj(o.plugins, 'plugins');
    r.known(p, 'plugins', ['dirs', 'watch', 'restart', 'callTimeoutMs']);
    if (p.dirs !== undefined) {
      if (!Array.isArray(p.dirs)) r.fail('plugins.dirs', `must be an array, got ${kind(p.dirs)}`);
      settings.plugins.dirs = p.dirs.map((d: unknown, i: number) => resolve(base, r.str(d, `plugins.dirs[${i}]`)));
    }
    if (p.watch !== undefined) settings.plugins.watch = r.bool(p.watch, 'plugins.watch');
    if (p.callTimeoutMs !== undefined) settings.plugins.callTimeoutMs = r.int(p.callTimeoutMs, 'plugins.callTimeoutMs', 10, 60_000);
    if (p.restart !== undefined) {
      const rs = r.obj(p.restart, 'plugins.restart');
      r.known(rs, 'plugins.restart', ['baseMs', 'maxMs', 'maxCrashes', 'stableMs']);
      const d = DEFAULT_PLUGIN_RESTART;
      const baseMs = rs.baseMs === undefined ? d.baseMs : r.int(rs.baseMs, 'plugins.restart.baseMs', 1, 3_600_000);
      settings.plugins.restart = {
        baseMs,
        maxMs: rs.maxMs === undefined ? Math.max(d.maxMs, baseMs) : r.int(rs.maxMs, 'plugins.restart.maxMs', baseMs, 3_600_000),
        maxCrashes: rs.maxCrashes === undefined ? d.maxCrashes : r.int(rs.maxCrashes, 'plugins.restart.maxCrashes', 1, 1000),
        stableMs: rs.stableMs === undefined ? d.stableMs : r.int(rs.stableMs, 'plugins.restart.stableMs', 0, 86_400_000),
      };
    }
  }
  return settings;
}

/** Reads and validates a settings file. A missing file at an explicit path is an error. */
export function loadSettings(file: string): Settings {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SettingsError(file, '', `cannot read: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SettingsError(file, '', `not valid JSON: ${(err as Error).message}`);
  }
  return parseSettings(json, file);
}
