// The server-managed `<id>.json` of a plugin (`enabled`, `enableDebug`, `configuration`, plus any
// keys upstream wrote, which are kept), read and written atomically.

import { readFileSync } from 'node:fs';
import type { JsonValue } from '../bus/delta.js';
import { writeFileAtomic } from '../storage/atomic.js';

export interface StoredPluginConfig {
  enabled: boolean;
  /** Upstream's per-plugin debug switch: the plugin's debug lines are logged, and plugin_start gets it. */
  enableDebug: boolean;
  /** Undefined until the plugin is configured (upstream's "Configure" state). */
  configuration: JsonValue | undefined;
}

type JsonObject = { [key: string]: JsonValue };

function readObject(file: string): JsonObject | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${file} must hold a JSON object`);
  return parsed as JsonObject;
}

/**
 * Reads the plugin's config file. A plugin without one is enabled: placing a package in a plugin
 * folder is the operator's decision to run it (upstream starts disabled because its app store
 * installs packages on a user's click). Throws with the file name when the file is corrupt.
 */
export function readPluginConfig(file: string): StoredPluginConfig {
  const o = readObject(file);
  return {
    enabled: typeof o?.enabled === 'boolean' ? o.enabled : true,
    enableDebug: o?.enableDebug === true,
    configuration: o?.configuration,
  };
}

/** Writes the given keys over the file's current content. */
export function writePluginConfig(file: string, update: Partial<StoredPluginConfig>): void {
  let current: JsonObject = {};
  try {
    current = readObject(file) ?? {};
  } catch {
    // a corrupt file is replaced by the values we know
  }
  const next: JsonObject = { ...current };
  if (update.enabled !== undefined) next.enabled = update.enabled;
  if (update.enableDebug !== undefined) next.enableDebug = update.enableDebug;
  if (update.configuration !== undefined) next.configuration = update.configuration;
  if (next.enabled === undefined) next.enabled = true;
  if (next.configuration === undefined) next.configuration = {};
  writeFileAtomic(file, JSON.stringify(next, null, 2) + '\n');
}
