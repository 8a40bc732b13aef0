// signalk-server 2.32, the anchor of the comparisons (`npm run bench -- --vs-signalk-server`):
// found in SIGNALK_EDGE_ANCHOR (a folder holding node_modules/signalk-server, for development), or
// installed by npm into a cache folder outside the repository on first use and reused after. Its
// @signalk/streams dependency is pinned to 6.0.0 (the release it asks for is not on the registry).
// It runs as a child process with a config folder of our making: a file replay as fast as
// possible (no throttle), optionally one WASM plugin, nothing else.

import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { startChild, untilServing, type Child } from './proc.js';

export const ANCHOR_VERSION = '2.32.0';

export interface Anchor {
  /** The signalk-server package folder. */
  serverDir: string;
  version: string;
}

function cacheDir(): string {
  return join(
    process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'),
    'signalk-edge',
    `signalk-server-${ANCHOR_VERSION}`,
  );
}

function installed(root: string): Anchor | undefined {
  const serverDir = join(root, 'node_modules', 'signalk-server');
  const pkg = join(serverDir, 'package.json');
  if (!existsSync(pkg)) return undefined;
  const { version } = JSON.parse(readFileSync(pkg, 'utf8')) as { version: string };
  return { serverDir, version };
}

/** The anchor, installed first when missing (minutes; npm prints its progress). */
export function findAnchor(log: (line: string) => void): Anchor {
  const given = process.env.SIGNALK_EDGE_ANCHOR;
  if (given) {
    const a = installed(given);
    if (!a) throw new Error(`SIGNALK_EDGE_ANCHOR=${given} holds no node_modules/signalk-server`);
    return a;
  }
  const root = cacheDir();
  const have = installed(root);
  if (have) return have;
  log(`installing signalk-server ${ANCHOR_VERSION} into ${root} (once; later runs reuse it) ...`);
  mkdirSync(root, { recursive: true });
  writeFileSync(
    join(root, 'package.json'),
    JSON.stringify(
      {
        name: 'signalk-edge-bench-anchor',
        private: true,
        dependencies: { 'signalk-server': ANCHOR_VERSION },
        overrides: { '@signalk/streams': '6.0.0' },
      },
      null,
      2,
    ),
  );
  execFileSync('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--loglevel=http'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const done = installed(root);
  if (!done) throw new Error(`npm install in ${root} did not install signalk-server`);
  return done;
}

export type AnchorInput = { kind: 'nmea0183'; file: string } | { kind: 'n2k'; file: string };

/** A plugin package folder (package.json + plugin.wasm) and the id signalk-server derives from its name. */
export interface AnchorPlugin {
  dir: string;
  packageName: string;
}

function pipeElements(input: AnchorInput): unknown[] {
  const file = { type: 'providers/filestream', options: { filename: input.file, keepRunning: false } };
  if (input.kind === 'nmea0183') return [file, { type: 'providers/liner' }, { type: 'providers/nmea0183-signalk' }];
  return [file, { type: 'providers/liner' }, { type: 'providers/canboatjs' }, { type: 'providers/n2k-signalk' }];
}

/** signalk-server on `port` with its config in `configDir`, replaying `input` when given. */
export async function startAnchor(
  anchor: Anchor,
  configDir: string,
  port: number,
  input?: AnchorInput,
  plugin?: AnchorPlugin,
): Promise<Child> {
  mkdirSync(configDir, { recursive: true });
  const settings = {
    vessel: { uuid: 'urn:mrn:signalk:uuid:c0d79334-4e25-4245-8892-54e8ccc8021d' },
    port,
    mdns: false,
    pipedProviders: input ? [{ id: 'replay', enabled: true, pipeElements: pipeElements(input) }] : [],
    interfaces: {},
  };
  writeFileSync(join(configDir, 'settings.json'), JSON.stringify(settings, null, 2));
  writeFileSync(
    join(configDir, 'package.json'),
    JSON.stringify({ name: 'signalk-server-config', version: '0.0.1', private: true }),
  );
  if (plugin) {
    cpSync(plugin.dir, join(configDir, 'node_modules', ...plugin.packageName.split('/')), { recursive: true });
    // signalk-server keeps a plugin's switch in a flat file and leaves a plugin without one disabled.
    const id = plugin.packageName.replace(/[@/]/g, '_');
    mkdirSync(join(configDir, 'plugin-config-data'), { recursive: true });
    writeFileSync(
      join(configDir, 'plugin-config-data', `${id}.json`),
      JSON.stringify({ enabled: true, configuration: {} }),
    );
  }
  // As its installer (bin/signalk-server-setup) starts it: plain node, NODE_ENV=production, no memory bound.
  const child = startChild(process.execPath, [join(anchor.serverDir, 'bin', 'signalk-server')], {
    env: { ...process.env, NODE_ENV: 'production', SIGNALK_NODE_CONFIG_DIR: configDir, PORT: String(port), DEBUG: '' },
  });
  await untilServing(child, `http://127.0.0.1:${port}/signalk`);
  return child;
}
