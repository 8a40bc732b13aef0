// Paths of the AssemblyScript plugins built from source in this repo, built on demand (cached by stamp).

import { join } from 'node:path';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';
import { buildAll } from '../../scripts/build-examples.js';

export const exampleWasm = (name: string): string => join(PROJECT_ROOT, 'examples', name, 'plugin.wasm');
export const fixtureWasm = (name: string): string =>
  join(PROJECT_ROOT, 'test', 'fixtures', 'plugins', name, 'plugin.wasm');

let built: Promise<void> | undefined;
/** Builds every plugin once per test process (a no-op when `npm run build` already did). */
export function ensurePluginsBuilt(): Promise<void> {
  built ??= buildAll(() => undefined);
  return built;
}
