// Builds the tests' pseudo-terminal addon (test/native: posix_openpt in raw mode, see
// test/helpers/pty.ts) with node-gyp, when its build is missing or older than its sources. npm
// puts node-gyp on its scripts' PATH and passes its `nodedir` setting along, so this runs offline
// against the installed Node headers. Run as `node dist/scripts/build-native.js`.

import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../runtime/config/settings.js';

export const NATIVE_DIR = join(PROJECT_ROOT, 'test', 'native');
export const PTY_ADDON = join(NATIVE_DIR, 'build', 'Release', 'pty.node');
const SOURCES = ['pty.c', 'binding.gyp'].map((f) => join(NATIVE_DIR, f));

function upToDate(): boolean {
  if (!existsSync(PTY_ADDON)) return false;
  const built = statSync(PTY_ADDON).mtimeMs;
  return SOURCES.every((s) => statSync(s).mtimeMs <= built);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href && !upToDate()) {
  // npm sets npm_config_node_gyp to its bundled node-gyp; outside npm, one on PATH is used.
  const gyp = process.env.npm_config_node_gyp;
  const [cmd, args] = gyp ? [process.execPath, [gyp]] : ['node-gyp', []];
  const nodedir = process.env.npm_config_nodedir;
  const r = spawnSync(cmd, [...args, 'rebuild', '--loglevel=warn', ...(nodedir ? [`--nodedir=${nodedir}`] : [])], {
    cwd: NATIVE_DIR,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (r.status !== 0) {
    console.error(
      `build-native: node-gyp failed building ${NATIVE_DIR} (${r.error?.message ?? `exit ${r.status}`}); run it through npm (npm run build), which provides node-gyp; it needs python3, make, a C compiler and Node's headers`,
    );
    process.exit(1);
  }
  console.log(`build-native: built ${PTY_ADDON}`);
}
