// Turns a plugin's manifest into an instance: a command plugin (its own WASI process, fed on
// stdin) or a library plugin (every call bounded by the CallGuard), with its storage folder, host
// functions and start configuration.

import type { JsonValue } from '../../core/json.js';
import type { DeviceHost } from '../abi/devices/index.js';
import type { CommandEvents } from '../engine/command.js';
import type { HostServices, PluginInstance } from '../engine/types.js';
import { ensurePluginStorage } from '../storage/plugin-storage.js';
import type { CallGuard } from './call-guard.js';
import { commandStdin } from './command-stdin.js';
import { validateConfig } from './config-schema.js';
import type { PluginManifest } from './discovery.js';
import type { EngineOptions } from './engine-options.js';

/** What stays the same for every instance of one plugin. */
export interface InstanceSource {
  manifest: PluginManifest;
  dataDir: string;
  engine: EngineOptions;
  guard: CallGuard;
  /** limits.plugins.storageMB: the plugin's VFS quota. */
  storageMB: number;
  host: HostServices;
  hal: DeviceHost;
  /** A command plugin's output, rejections and end. */
  commandEvents: CommandEvents;
}

/** Loads a new instance; `configuration` goes to a command plugin's stdin (a library plugin gets it in plugin_start). */
export async function loadInstance(src: InstanceSource, configuration: JsonValue | undefined): Promise<PluginInstance> {
  const { manifest, host, hal } = src;
  const vfsRoot = ensurePluginStorage(src.dataDir, manifest.id);
  const command = manifest.command;
  if (command) {
    const stdin = commandStdin(command, configuration);
    const { loadCommandPlugin } = await import('../engine/command.js');
    return loadCommandPlugin({
      id: manifest.id,
      wasmPath: manifest.wasmPath,
      vfsRoot,
      host,
      hal,
      stdin,
      runawayMs: src.guard.timeoutMs,
      events: src.commandEvents,
      ...src.engine,
    });
  }
  const guard = <T>(fn: () => T, what: string): T => src.guard.run(fn, what);
  const storageQuotaBytes = src.storageMB * 1024 * 1024;
  const { loadPlugin } = await import('../engine/index.js');
  return loadPlugin({
    id: manifest.id,
    wasmPath: manifest.wasmPath,
    vfsRoot,
    host,
    hal,
    guard,
    storageQuotaBytes,
    ...src.engine,
  });
}

/**
 * Configuration JSON for plugin_start: the saved configuration with schema defaults filled in,
 * and `enableDebug` at its root as upstream passes it.
 */
export function startConfig(
  schema: JsonValue | undefined,
  configuration: JsonValue | undefined,
  enableDebug: boolean,
): string {
  const saved = configuration ?? {};
  const checked = validateConfig(schema, saved);
  const value = checked.ok ? checked.value : saved;
  return JSON.stringify(
    typeof value === 'object' && value !== null && !Array.isArray(value) ? { ...value, enableDebug } : value,
  );
}
