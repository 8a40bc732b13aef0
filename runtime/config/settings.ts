// The runtime's one settings file: parsed from unknown JSON and validated, every error naming
// the key that is wrong (`sources[1].baudRate: ...`).

import { readFileSync, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Reader, SettingsError } from '../../core/settings-reader.js';
import { GrantsFileError, parseGrantLists, type GrantLists } from '../capabilities/store.js';
import { discoverPlugins } from '../plugins/discovery.js';
import { parseMqttSettings, type MqttSettings } from '../mqtt/settings.js';
import { parseSources, type SourceSettings } from '../../hal/sources/table.js';
import { parseSecuritySettings, type SecuritySettings } from '../security/settings.js';
import { parseLimits, type PartialLimits } from '../security/limits.js';

/** Crash recovery: restart after baseMs, doubling up to maxMs; give up at the maxCrashes-th crash. */
export interface PluginRestartSettings {
  baseMs: number;
  maxMs: number;
  maxCrashes: number;
  /** A plugin that has run this long since its last start has its crash count reset. */
  stableMs: number;
}

/** Upstream's policy: 1 s doubling, give up after 3 crashes. */
export const DEFAULT_PLUGIN_RESTART: PluginRestartSettings = {
  baseMs: 1000,
  maxMs: 30_000,
  maxCrashes: 3,
  stableMs: 30_000,
};

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
  /** MQTT broker connection and bridge rules (runtime/mqtt/settings.ts). */
  mqtt?: MqttSettings;
  /** Users, tokens, origins, host names, ACLs (runtime/security/settings.ts); absent = off, loopback only. */
  security?: SecuritySettings;
  /** Bounds on clients and plugins over the board profile's (runtime/security/limits.ts). */
  limits?: PartialLimits;
  /** Upstream's setting: the default provider (plugin id) per resource type (runtime/plugins/resource-defaults.ts). */
  resourcesApi?: { defaultProviders: Record<string, string> };
}

/** The project root (where package.json lives), from this compiled file in dist/runtime/config. */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export const DEMO_LOG = join(PROJECT_ROOT, 'examples', 'data', 'demo-passage.nmea');

export function defaultDataDir(): string {
  return process.env.SIGNALK_EDGE_DATA ?? join(homedir(), '.signalk-edge');
}

/**
 * The built-in default: replay the bundled demo passage in real time, load the example library
 * plugins. The command-plugin example is left out: it reads a serial port the demo does not have,
 * and its Wasmer sandbox would cost about 90 MB to sit idle.
 */
export function demoSettings(dataDir = defaultDataDir()): Settings {
  // Examples not built are left out too (the Rust one, where Debian's Rust toolchain is missing).
  const examples = discoverPlugins([join(PROJECT_ROOT, 'examples')]).flatMap((p) =>
    p.ok && !p.manifest.command && existsSync(p.manifest.wasmPath) ? [p.manifest.dir] : [],
  );
  return {
    port: 3000,
    host: '127.0.0.1',
    dataDir,
    sources: [{ id: 'demo', type: 'replay', file: DEMO_LOG, rate: 'realtime', linesPerSecond: 10, loop: true }],
    plugins: { dirs: examples, watch: true, restart: { ...DEFAULT_PLUGIN_RESTART } },
  };
}

/** The top-level keys of a settings file (the fuzz target builds documents from them too). */
export const SETTINGS_KEYS = [
  'port',
  'host',
  'dataDir',
  'selfUrn',
  'sources',
  'plugins',
  'board',
  'cacheDir',
  'grants',
  'mqtt',
  'security',
  'limits',
  'resourcesApi',
] as const;

/**
 * Validates settings from untrusted JSON. Relative paths resolve against the settings file's folder.
 */
export function parseSettings(input: unknown, file: string): Settings {
  const r: Reader = new Reader(file);
  const base = dirname(resolve(file));
  const o = r.obj(input, '');
  r.known(o, '', SETTINGS_KEYS);
  const settings: Settings = {
    port: o.port === undefined ? 3000 : r.int(o.port, 'port', 0, 65535),
    host: o.host === undefined ? '127.0.0.1' : r.str(o.host, 'host'),
    dataDir: o.dataDir === undefined ? defaultDataDir() : resolve(base, r.str(o.dataDir, 'dataDir')),
    sources: [],
    plugins: { dirs: [], watch: true, restart: { ...DEFAULT_PLUGIN_RESTART } },
  };
  if (o.board !== undefined) {
    const board = r.str(o.board, 'board');
    if (!/^[a-z0-9][a-z0-9-]{0,31}$/.test(board))
      r.fail('board', `must be a board id like rpi4, got ${JSON.stringify(board)}`);
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
    settings.resourcesApi = {
      defaultProviders: Object.fromEntries(
        Object.entries(d).map(([type, id]) => [type, r.str(id, `resourcesApi.defaultProviders.${type}`)]),
      ),
    };
  }
  if (o.selfUrn !== undefined) {
    const urn = r.str(o.selfUrn, 'selfUrn');
    if (!/^urn:mrn:(signalk:uuid:[0-9a-fA-F-]{36}|imo:mmsi:\d{9})$/.test(urn)) {
      r.fail(
        'selfUrn',
        `must look like urn:mrn:signalk:uuid:<uuid> or urn:mrn:imo:mmsi:<9 digits>, got ${JSON.stringify(urn)}`,
      );
    }
    settings.selfUrn = urn;
  }
  if (o.sources !== undefined) settings.sources = parseSources(r, o.sources, base);
  if (o.plugins !== undefined) {
    const p = r.obj(o.plugins, 'plugins');
    r.known(p, 'plugins', ['dirs', 'watch', 'restart', 'callTimeoutMs']);
    if (p.dirs !== undefined) {
      settings.plugins.dirs = r
        .list(p.dirs, 'plugins.dirs')
        .map((d: unknown, i: number) => resolve(base, r.str(d, `plugins.dirs[${i}]`)));
    }
    if (p.watch !== undefined) settings.plugins.watch = r.bool(p.watch, 'plugins.watch');
    if (p.callTimeoutMs !== undefined)
      settings.plugins.callTimeoutMs = r.int(p.callTimeoutMs, 'plugins.callTimeoutMs', 10, 60_000);
    if (p.restart !== undefined) {
      const rs = r.obj(p.restart, 'plugins.restart');
      r.known(rs, 'plugins.restart', ['baseMs', 'maxMs', 'maxCrashes', 'stableMs']);
      const d = DEFAULT_PLUGIN_RESTART;
      const baseMs = rs.baseMs === undefined ? d.baseMs : r.int(rs.baseMs, 'plugins.restart.baseMs', 1, 3_600_000);
      settings.plugins.restart = {
        baseMs,
        maxMs:
          rs.maxMs === undefined
            ? Math.max(d.maxMs, baseMs)
            : r.int(rs.maxMs, 'plugins.restart.maxMs', baseMs, 3_600_000),
        maxCrashes:
          rs.maxCrashes === undefined ? d.maxCrashes : r.int(rs.maxCrashes, 'plugins.restart.maxCrashes', 1, 1000),
        stableMs:
          rs.stableMs === undefined ? d.stableMs : r.int(rs.stableMs, 'plugins.restart.stableMs', 0, 86_400_000),
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
