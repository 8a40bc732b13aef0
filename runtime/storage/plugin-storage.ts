// Per-plugin folders as upstream lays them out:
// <dataDir>/plugin-config-data/<id>/<id>.json and <dataDir>/plugin-config-data/<id>/vfs/{data,config,tmp}.
// The vfs folder is the plugin's WASI `/`; nothing else on the host is visible to it.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const SAFE_ID = /^[A-Za-z0-9_@.-]{1,214}$/;

/** Refuses ids that could leave plugin-config-data (`..`, slashes) before any path is built. */
export function assertSafePluginId(id: string): void {
  if (!SAFE_ID.test(id) || id === '.' || id === '..') {
    throw new Error(`unsafe plugin id ${JSON.stringify(id)}: use letters, digits, _ @ . - only`);
  }
}

export function pluginDir(dataDir: string, id: string): string {
  assertSafePluginId(id);
  return join(dataDir, 'plugin-config-data', id);
}

/** The host folder mapped to `/` inside the plugin's WASI. */
export function vfsRoot(dataDir: string, id: string): string {
  return join(pluginDir(dataDir, id), 'vfs');
}

/** Server-managed settings of the plugin (`enabled`, `configuration`, ...). */
export function configFile(dataDir: string, id: string): string {
  return join(pluginDir(dataDir, id), `${id}.json`);
}

/** Creates `vfs/{data,config,tmp}` for the plugin (idempotent) and returns the VFS root. */
export function ensurePluginStorage(dataDir: string, id: string): string {
  const root = vfsRoot(dataDir, id);
  for (const sub of ['data', 'config', 'tmp']) mkdirSync(join(root, sub), { recursive: true });
  return root;
}
