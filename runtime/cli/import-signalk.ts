// `signalk-edge import-signalk-config <dir>`: moves the WASM plugins of a signalk-server config
// folder (~/.signalk) here. Read from 2.32.0's layout:
//   <dir>/package.json                      dependencies = what the operator installed
//   <dir>/node_modules/<package>            installed packages (a WASM plugin has `wasmManifest`)
//   <dir>/plugin-config-data/<id>.json      {enabled, enableDebug, configuration} (flat, as for Node
//                                           plugins); a WASM plugin without it is disabled there
//   <dir>/plugin-config-data/<id>/vfs/      the plugin's files ({data,config,tmp})
// Each WASM plugin package is copied into the plugin folder, its config file and VFS files into
// signalk-edge's data folder. Nothing here is overwritten, nothing is granted (upstream grants what
// a manifest declares; here the operator does): the report lists what was taken, what was left
// and why, and the grant commands each plugin needs.

import { cpSync, existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import type { Settings } from '../config/settings.js';
import { isRecord, type JsonValue } from '../../core/json.js';
import { GrantTable } from '../capabilities/store.js';
import { discoverPlugins, type PluginManifest } from '../plugins/discovery.js';
import { writePluginConfig } from '../plugins/plugin-config.js';
import { configFile, ensurePluginStorage } from '../storage/plugin-storage.js';
import { CommandError } from './command-error.js';

export class ImportError extends CommandError {}

export interface ImportReport {
  took: string[];
  left: string[];
  /** Grant commands the imported plugins need for what their manifests declare. */
  toGrant: string[];
}

/** Capabilities upstream grants from the manifest and signalk-edge grants by default to every plugin. */
const DEFAULT_FLAGS = new Set(['dataRead', 'dataWrite', 'putHandlers']);

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** Copies a folder without symlinks (they could point anywhere on the old machine) and never over an existing file. */
function copyTree(from: string, to: string, skipped: string[], skip: (path: string) => boolean = () => false): void {
  cpSync(from, to, {
    recursive: true,
    force: false,
    errorOnExist: false,
    filter: (src) => {
      if (src !== from && skip(src)) return false;
      if (lstatSync(src).isSymbolicLink()) {
        skipped.push(src);
        return false;
      }
      return true;
    },
  });
}

/** The upstream config file as {enabled, enableDebug, configuration}, or why it cannot be used. */
function readUpstreamConfig(
  file: string,
): { enabled: boolean; enableDebug: boolean; configuration: JsonValue } | string {
  let parsed: unknown;
  try {
    parsed = readJson(file);
  } catch (err) {
    return `not JSON (${(err as Error).message})`;
  }
  if (!isRecord(parsed)) return 'not a JSON object';
  const configuration = parsed.configuration ?? {};
  if (!isRecord(configuration)) return '"configuration" is not an object';
  return {
    enabled: parsed.enabled === true,
    enableDebug: parsed.enableDebug === true,
    configuration: configuration as JsonValue,
  };
}

export interface ImportOptions {
  /** The signalk-server config folder. */
  from: string;
  /** Where plugin packages go (a plugin folder of the settings). */
  pluginDir: string;
  settings: Settings;
}

export function importSignalkConfig(opts: ImportOptions): ImportReport {
  const from = resolve(opts.from);
  if (!existsSync(from) || !statSync(from).isDirectory()) throw new ImportError(`${opts.from} is not a folder`);
  const configData = join(from, 'plugin-config-data');
  const modules = join(from, 'node_modules');
  if (!existsSync(configData) && !existsSync(modules)) {
    throw new ImportError(
      `${opts.from} does not look like a signalk-server config folder (no plugin-config-data/, no node_modules/)`,
    );
  }
  const report: ImportReport = { took: [], left: [], toGrant: [] };
  const dataDir = opts.settings.dataDir;
  const grants = new GrantTable(opts.settings.grants, dataDir);

  const found = existsSync(modules) ? discoverPlugins([modules]) : [];
  const wasmPlugins: PluginManifest[] = [];
  for (const p of found) {
    if (!p.ok) report.left.push(`package at ${relative(from, p.broken.dir)}: ${p.broken.error}`);
    else if (!existsSync(p.manifest.wasmPath))
      report.left.push(
        `${p.manifest.packageName}: its ${relative(p.manifest.dir, p.manifest.wasmPath)} is missing (not built?)`,
      );
    else wasmPlugins.push(p.manifest);
  }
  const imported = new Set<string>();
  for (const m of wasmPlugins) {
    const target = join(opts.pluginDir, relative(modules, m.dir));
    if (!target.startsWith(resolve(opts.pluginDir) + sep)) {
      report.left.push(`${m.packageName}: unexpected package folder ${m.dir}`);
      continue;
    }
    if (existsSync(target)) {
      report.left.push(`${m.packageName} ${m.version}: ${target} exists already (not overwritten)`);
    } else {
      const links: string[] = [];
      // The package's own node_modules are build-time dependencies: a WASM plugin runs without them.
      copyTree(m.dir, target, links, (src) => src === join(m.dir, 'node_modules'));
      report.took.push(`${m.packageName} ${m.version} (plugin ${m.id}) → ${target}`);
      for (const l of links) report.left.push(`${m.packageName}: symlink ${relative(m.dir, l)} not copied`);
    }
    imported.add(m.id);
    try {
      importState(m, from, dataDir, report);
    } catch (err) {
      report.left.push(`${m.id}: configuration and files not imported: ${(err as Error).message}`);
    }
    const granted = new Set<string>(grants.grantsFor(m.id).flatMap((g) => (g.kind === 'flag' ? [g.name] : [])));
    const missing = Object.entries(m.requested)
      .filter(([name, wanted]) => wanted && !granted.has(name) && !DEFAULT_FLAGS.has(name))
      .map(([name]) => name);
    if (missing.length > 0) report.toGrant.push(`signalk-edge grant ${m.id} ${missing.join(' ')}`);
    if (m.requested.network || m.requested.rawSockets)
      report.toGrant.push(`signalk-edge grant ${m.id} net:<host>:<port>   (each host it talks to)`);
  }
  // What else the operator had installed or configured.
  const installedNames = dependencyNames(join(from, 'package.json'));
  // WASM packages were reported above, imported or not.
  const wasmDirs = new Set(found.map((p) => (p.ok ? p.manifest.dir : p.broken.dir)));
  for (const name of installedNames) {
    if (!wasmDirs.has(join(modules, name)))
      report.left.push(`${name}: not a WASM plugin (a Node.js plugin or webapp does not run on signalk-edge)`);
  }
  if (existsSync(configData)) {
    for (const entry of readdirSync(configData)) {
      const id = entry.endsWith('.json') ? entry.slice(0, -'.json'.length) : undefined;
      if (id !== undefined && !imported.has(id))
        report.left.push(`plugin-config-data/${entry}: configuration of ${id}, which is not an imported WASM plugin`);
    }
  }
  for (const file of ['settings.json', 'security.json', 'defaults.json', 'baseDeltas.json']) {
    if (existsSync(join(from, file)))
      report.left.push(
        `${file}: server settings are not imported (sources, vessel and security are configured in signalk-edge's settings)`,
      );
  }
  return report;
}

/** The plugin's config file and VFS files, from signalk-server's layout into ours. */
function importState(m: PluginManifest, from: string, dataDir: string, report: ImportReport): void {
  const configData = join(from, 'plugin-config-data');
  const ourVfs = ensurePluginStorage(dataDir, m.id);
  const ourConfig = configFile(dataDir, m.id);
  const theirConfig = join(configData, `${m.id}.json`);
  if (existsSync(ourConfig)) {
    report.left.push(`${m.id}: configuration not imported, ${ourConfig} exists already`);
  } else if (!existsSync(theirConfig)) {
    // Upstream starts a WASM plugin without a config file disabled; so does the imported one.
    writePluginConfig(ourConfig, { enabled: false });
    report.took.push(`${m.id}: no configuration there (it was disabled): imported disabled`);
  } else {
    const config = readUpstreamConfig(theirConfig);
    if (typeof config === 'string') {
      report.left.push(`${m.id}: configuration ${relative(from, theirConfig)} is ${config}; not imported`);
    } else {
      writePluginConfig(ourConfig, config);
      report.took.push(
        `${m.id}: configuration (${config.enabled ? 'enabled' : 'disabled'}${config.enableDebug ? ', debug on' : ''})`,
      );
    }
  }

  const theirVfs = join(configData, m.id, 'vfs');
  if (!existsSync(theirVfs)) return;
  const links: string[] = [];
  const before = new Set(listFiles(ourVfs));
  copyTree(theirVfs, ourVfs, links);
  const files = listFiles(theirVfs).filter((f) => !lstatSync(join(theirVfs, f)).isSymbolicLink());
  const kept = files.filter((f) => before.has(f));
  report.took.push(`${m.id}: ${files.length - kept.length} VFS file(s)`);
  if (kept.length > 0)
    report.left.push(`${m.id}: ${kept.length} VFS file(s) exist here already, kept ours: ${kept.join(', ')}`);
  for (const l of links) report.left.push(`${m.id}: VFS symlink ${relative(theirVfs, l)} not copied`);
}

function dependencyNames(pkgFile: string): string[] {
  if (!existsSync(pkgFile)) return [];
  try {
    const pkg = readJson(pkgFile);
    return isRecord(pkg) && isRecord(pkg.dependencies) ? Object.keys(pkg.dependencies).sort() : [];
  } catch {
    return [];
  }
}

/** Files and symlinks under dir, relative to it. */
function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => !lstatSync(join(dir, f)).isDirectory());
}

export function formatImportReport(r: ImportReport, from: string): string {
  const lines = [`signalk-edge import-signalk-config ${from}`];
  lines.push(`took (${r.took.length}):`, ...r.took.map((l) => `  ${l}`));
  lines.push(`left (${r.left.length}):`, ...r.left.map((l) => `  ${l}`));
  if (r.toGrant.length > 0)
    lines.push(
      'to grant what the manifests declare (signalk-server grants it, signalk-edge asks you):',
      ...r.toGrant.map((l) => `  ${l}`),
    );
  return lines.join('\n');
}
