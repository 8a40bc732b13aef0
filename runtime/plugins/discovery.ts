// Finds WASM plugin packages in the configured folders (npm layout) and reads their manifests.
// A broken package becomes an entry with an error, never an exception: one bad plugin must not
// keep the others from loading.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve, sep } from 'node:path';
import { FLAG_NAMES, parseGrantList, type Grant } from '../capabilities/grant.js';
import type { Flags } from '../capabilities/policy.js';
import { isRecord } from '../../core/json.js';

/** A delta subscription from `signalkEdge.subscriptions`; no context means the self vessel. */
export interface PluginSubscription {
  context?: string;
  path: string;
}

export interface PluginManifest {
  id: string;
  packageName: string;
  version: string;
  description: string;
  /** The package folder (holds package.json). */
  dir: string;
  wasmPath: string;
  /** The manifest's `wasmCapabilities` booleans. */
  requested: Flags;
  /** Fine-grained requests from `signalkEdge.requests` (serial devices, CAN, MQTT, hosts). */
  requests: Grant[];
  /** Undefined: the plugin receives every delta, as upstream. */
  subscriptions: PluginSubscription[] | undefined;
  /** Set for a command plugin (`signalkEdge.kind: "command"`, a WASI program): what goes to its stdin. */
  command?: CommandStdin;
}

/** `signalkEdge.stdin` of a command plugin. */
export interface CommandStdin {
  /** Serial device (path or board alias) whose NMEA lines go to stdin; the configuration's `serialDevice` overrides it. */
  serial?: string;
  /** Deltas matching the subscriptions go to stdin as JSON lines. */
  deltas: boolean;
}

/** A package that looked like a plugin but could not be read; listed with state `error`. */
export interface BrokenPackage {
  id: string;
  dir: string;
  error: string;
}

export type DiscoveredPackage = { ok: true; manifest: PluginManifest } | { ok: false; broken: BrokenPackage };

/** Upstream's rule (src/pluginid.ts): `@scope/name` → `_scope_name`. */
export function derivePluginId(packageName: string): string {
  return packageName.replace(/@/g, '_').replace(/\//g, '_');
}

const NPM_NAME = /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/i;

function parseCapabilities(raw: unknown): Flags | string {
  const caps = Object.fromEntries(FLAG_NAMES.map((n) => [n, false])) as Flags;
  // Upstream treats data access as granted unless the manifest says false.
  caps.dataRead = true;
  caps.dataWrite = true;
  if (raw === undefined) return caps;
  if (!isRecord(raw)) return 'wasmCapabilities must be an object';
  for (const name of FLAG_NAMES) {
    const v = raw[name];
    if (v === undefined) continue;
    if (typeof v !== 'boolean') return `wasmCapabilities.${name} must be true or false, got ${JSON.stringify(v)}`;
    caps[name] = v;
  }
  if (raw.storage !== undefined && raw.storage !== 'vfs-only') {
    return `wasmCapabilities.storage must be "vfs-only", got ${JSON.stringify(raw.storage)}`;
  }
  return caps;
}

function parseRequests(edge: unknown): Grant[] | string {
  if (!isRecord(edge) || edge.requests === undefined) return [];
  const raw = edge.requests;
  if (!Array.isArray(raw) || raw.some((r) => typeof r !== 'string'))
    return 'signalkEdge.requests must be an array of capability strings';
  const parsed = parseGrantList(raw as string[]);
  return parsed.ok ? parsed.grants : `signalkEdge.requests[${parsed.index}]: ${parsed.reason}`;
}

function parseSubscriptions(edge: unknown): PluginSubscription[] | undefined | string {
  if (edge === undefined) return undefined;
  if (!isRecord(edge)) return 'signalkEdge must be an object';
  const raw = edge.subscriptions;
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw)) return 'signalkEdge.subscriptions must be an array';
  const subs: PluginSubscription[] = [];
  for (let i = 0; i < raw.length; i++) {
    const s: unknown = raw[i];
    const at = `signalkEdge.subscriptions[${i}]`;
    if (!isRecord(s)) return `${at} must be an object`;
    if (typeof s.path !== 'string' || s.path === '') return `${at}.path must be a non-empty string`;
    if (s.context !== undefined && (typeof s.context !== 'string' || s.context === '')) {
      return `${at}.context must be a non-empty string`;
    }
    subs.push(s.context === undefined ? { path: s.path } : { context: s.context, path: s.path });
  }
  return subs;
}

/** `signalkEdge.kind` and `signalkEdge.stdin`: undefined for a library plugin. */
function parseCommand(edge: unknown): CommandStdin | undefined | string {
  if (!isRecord(edge) || edge.kind === undefined || edge.kind === 'library') {
    return isRecord(edge) && edge.stdin !== undefined ? 'signalkEdge.stdin needs "kind": "command"' : undefined;
  }
  if (edge.kind !== 'command')
    return `signalkEdge.kind must be "library" or "command", got ${JSON.stringify(edge.kind)}`;
  const stdin = edge.stdin ?? {};
  if (!isRecord(stdin)) return 'signalkEdge.stdin must be an object';
  if (stdin.serial !== undefined && (typeof stdin.serial !== 'string' || stdin.serial === ''))
    return 'signalkEdge.stdin.serial must name a serial device or board alias';
  if (stdin.deltas !== undefined && typeof stdin.deltas !== 'boolean')
    return `signalkEdge.stdin.deltas must be true or false, got ${JSON.stringify(stdin.deltas)}`;
  return stdin.serial === undefined
    ? { deltas: stdin.deltas === true }
    : { serial: stdin.serial, deltas: stdin.deltas === true };
}

/**
 * Reads one package folder. Undefined when the folder is not a WASM plugin package at all
 * (no package.json, or a package.json without `wasmManifest` and without the wasm keyword).
 */
function readPluginPackage(dir: string): DiscoveredPackage | undefined {
  const pkgFile = join(dir, 'package.json');
  if (!existsSync(pkgFile)) return undefined;
  const fallbackId = derivePluginId(basename(dir));
  const broken = (error: string, id = fallbackId): DiscoveredPackage => ({ ok: false, broken: { id, dir, error } });
  let pkg: unknown;
  try {
    pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
  } catch (err) {
    return broken(`package.json is not valid JSON: ${(err as Error).message}`);
  }
  if (!isRecord(pkg)) return broken('package.json must hold an object');
  const keywords = Array.isArray(pkg.keywords) ? pkg.keywords : [];
  if (pkg.wasmManifest === undefined) {
    return keywords.includes('signalk-wasm-plugin')
      ? broken('package.json has the signalk-wasm-plugin keyword but no wasmManifest')
      : undefined;
  }
  if (typeof pkg.name !== 'string' || !NPM_NAME.test(pkg.name)) {
    return broken(`package.json name must be an npm package name, got ${JSON.stringify(pkg.name)}`);
  }
  const id = derivePluginId(pkg.name);
  if (typeof pkg.wasmManifest !== 'string' || pkg.wasmManifest === '') {
    return broken(`wasmManifest must name the .wasm file, got ${JSON.stringify(pkg.wasmManifest)}`, id);
  }
  const wasmPath = resolve(dir, pkg.wasmManifest);
  if (!wasmPath.startsWith(resolve(dir) + sep)) {
    return broken(`wasmManifest ${JSON.stringify(pkg.wasmManifest)} points outside the package folder`, id);
  }
  const requested = parseCapabilities(pkg.wasmCapabilities);
  if (typeof requested === 'string') return broken(requested, id);
  const subscriptions = parseSubscriptions(pkg.signalkEdge);
  if (typeof subscriptions === 'string') return broken(subscriptions, id);
  const requests = parseRequests(pkg.signalkEdge);
  if (typeof requests === 'string') return broken(requests, id);
  const command = parseCommand(pkg.signalkEdge);
  if (typeof command === 'string') return broken(command, id);
  return {
    ok: true,
    manifest: {
      id,
      packageName: pkg.name,
      version: typeof pkg.version === 'string' ? pkg.version : '0.0.0',
      description: typeof pkg.description === 'string' ? pkg.description : '',
      dir,
      wasmPath,
      requested,
      requests,
      subscriptions,
      ...(command ? { command } : {}),
    },
  };
}

function subfolders(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter(
        (e) =>
          e.isDirectory() ||
          (e.isSymbolicLink() && statSync(join(dir, e.name), { throwIfNoEntry: false })?.isDirectory()),
      )
      .map((e) => join(dir, e.name))
      .sort();
  } catch {
    return [];
  }
}

/** Package folders under one plugin dir: the dir itself, `<dir>/*`, `@scope/*`, and the same under node_modules. */
export function candidateFolders(dir: string): string[] {
  const out = [dir];
  for (const base of [dir, join(dir, 'node_modules')]) {
    for (const sub of subfolders(base)) {
      if (basename(sub).startsWith('@')) out.push(...subfolders(sub));
      else if (basename(sub) !== 'node_modules') out.push(sub);
    }
  }
  return out;
}

/** Every plugin package in the folders, in a stable order; a second package with the same id is an error entry. */
export function discoverPlugins(dirs: string[]): DiscoveredPackage[] {
  const found: DiscoveredPackage[] = [];
  const seen = new Map<string, string>();
  const visited = new Set<string>();
  for (const dir of dirs) {
    for (const folder of candidateFolders(resolve(dir))) {
      if (visited.has(folder)) continue;
      visited.add(folder);
      const pkg = readPluginPackage(folder);
      if (!pkg) continue;
      const id = pkg.ok ? pkg.manifest.id : pkg.broken.id;
      const first = seen.get(id);
      if (first !== undefined) {
        const error = `duplicate plugin id ${id} (first found in ${first}); ignored`;
        found.push({ ok: false, broken: { id: `${id}~duplicate${found.length}`, dir: folder, error } });
        continue;
      }
      seen.set(id, folder);
      found.push(pkg);
    }
  }
  return found;
}
