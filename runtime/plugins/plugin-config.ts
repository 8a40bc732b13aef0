// The server-managed `<id>.json` of a plugin (`enabled`, `enableDebug`, `configuration`, plus any
// keys upstream wrote, which are kept), read and written atomically, as compact JSON within bounds: pretty
// printing grew an 8 KB request of deep nesting into a 33 MB file (indentation grows with depth
// squared), and a configuration too deep to serialise must fail loudly, not be reported saved.

import { readFileSync } from 'node:fs';
import type { JsonValue } from '../../core/json.js';
import { writeFileAtomic } from '../storage/atomic.js';
import { HttpError } from '../api/http.js';
import { DEFAULT_LIMITS, type ConfigBounds } from '../security/limits.js';

/** A configuration over limits.config: a client's mistake (400 on the API, -1 to sk_save_config). */
export class ConfigBoundsError extends HttpError {
  constructor(message: string) {
    super(400, message);
    this.name = 'ConfigBoundsError';
  }
}

/** Nesting depth of objects and arrays, walked without recursion (the value may be deeper than the stack). */
function depthOf(value: JsonValue): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    const depth = d + 1;
    if (depth > max) max = depth;
    for (const child of Array.isArray(v) ? v : Object.values(v))
      if (typeof child === 'object' && child !== null) stack.push([child, depth]);
  }
  return max;
}

/** Throws ConfigBoundsError when `configuration` nests deeper than allowed or its compact JSON is too big; returns that JSON. */
export function checkConfigBounds(configuration: JsonValue, bounds: ConfigBounds = DEFAULT_LIMITS.config): string {
  const depth = depthOf(configuration);
  if (depth > bounds.maxDepth)
    throw new ConfigBoundsError(
      `configuration nests ${depth} levels deep; at most ${bounds.maxDepth} (limits.config.maxDepth)`,
    );
  const text = JSON.stringify(configuration);
  if (text.length > bounds.maxBytes)
    throw new ConfigBoundsError(
      `configuration is ${text.length} bytes of JSON; at most ${bounds.maxBytes} (limits.config.maxBytes)`,
    );
  return text;
}

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
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error(`${file} must hold a JSON object`);
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

/**
 * Writes the given keys over the file's current content; throws (nothing written) when the
 * configuration is out of `bounds` or the write fails. `bounds` null: the configuration is the one
 * already stored (enabling or disabling must work whatever an older version let through).
 */
export function writePluginConfig(
  file: string,
  update: Partial<StoredPluginConfig>,
  bounds: ConfigBounds | null = DEFAULT_LIMITS.config,
): void {
  if (update.configuration !== undefined && bounds !== null) checkConfigBounds(update.configuration, bounds);
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
  writeFileAtomic(file, JSON.stringify(next) + '\n');
}
