// `signalk-edge import-signalk-config <dir>` on a signalk-server config folder the test lays out
// as 2.32 does (flat plugin-config-data/<id>.json, packages in node_modules, VFS under
// plugin-config-data/<id>/vfs), run as the real CLI; then a runtime on the result.

import test from 'ava';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';
import { configFile, vfsRoot } from '../../runtime/storage/plugin-storage.js';
import { EXAMPLES, FIXTURES, IDS, pluginStatus } from '../helpers/plugins.js';
import { ensurePluginsBuilt } from '../helpers/plugin-wasm.js';
import { startTestRuntime } from '../helpers/runtime.js';
import { tempDir } from '../helpers/temp.js';

const CLI = join(PROJECT_ROOT, 'dist', 'runtime', 'cli', 'main.js');
const BUFFER_FFI = '_signalk-edge-fixture_buffer-ffi';

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const json = (file: string, value: unknown): void => {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, JSON.stringify(value));
};

/** A signalk-server config folder: two WASM plugins, one unbuilt WASM package, a Node plugin, VFS files. */
async function signalkFolder(t: { teardown(fn: () => void): void }): Promise<string> {
  await ensurePluginsBuilt();
  const dir = tempDir(t, 'ske-signalk-');
  const modules = join(dir, 'node_modules');
  json(join(dir, 'package.json'), {
    name: 'signalk-server-config',
    dependencies: {
      '@signalk-edge/trip-log': '0.1.0',
      '@signalk-edge-fixture/buffer-ffi': '0.0.1',
      'signalk-to-nmea0183': '1.0.0',
      'unbuilt-wasm': '1.0.0',
    },
  });
  json(join(dir, 'settings.json'), { interfaces: {}, pipedProviders: [] });
  cpSync(join(EXAMPLES, 'trip-log'), join(modules, '@signalk-edge', 'trip-log'), { recursive: true });
  cpSync(join(FIXTURES, 'buffer-ffi'), join(modules, '@signalk-edge-fixture', 'buffer-ffi'), { recursive: true });
  mkdirSync(join(modules, '@signalk-edge-fixture', 'buffer-ffi', 'node_modules', 'dev-only'), { recursive: true });
  json(join(modules, 'signalk-to-nmea0183', 'package.json'), {
    name: 'signalk-to-nmea0183',
    version: '1.0.0',
    keywords: ['signalk-node-server-plugin'],
  });
  json(join(modules, 'unbuilt-wasm', 'package.json'), {
    name: 'unbuilt-wasm',
    version: '1.0.0',
    wasmManifest: 'build/plugin.wasm',
    keywords: ['signalk-wasm-plugin'],
  });
  const data = join(dir, 'plugin-config-data');
  json(join(data, `${IDS.tripLog}.json`), { enabled: true, enableDebug: true, configuration: {} });
  json(join(data, 'signalk-to-nmea0183.json'), { enabled: true, configuration: { sentences: ['RMC'] } });
  json(join(data, IDS.tripLog, 'vfs', 'data', 'state.json'), { deltas: 7, distance: 3704 });
  mkdirSync(join(data, IDS.tripLog, 'vfs', 'config'), { recursive: true });
  symlinkSync('/etc/passwd', join(data, IDS.tripLog, 'vfs', 'config', 'planted'));
  // buffer-ffi has no config file: it was disabled on signalk-server.
  return dir;
}

test('import-signalk-config takes the WASM plugins, their configuration and VFS, and reports what it left', async (t) => {
  const from = await signalkFolder(t);
  const dataDir = tempDir(t, 'ske-data-');
  const plugins = tempDir(t, 'ske-plugins-');
  const run = await cli(['import-signalk-config', from, '--data', dataDir, '--plugins', plugins]);
  t.is(run.code, 0, run.stderr);
  const out = run.stdout;
  t.regex(out, /took \(5\):/);
  t.regex(out, /left \(5\):/);
  t.regex(
    out,
    new RegExp(`@signalk-edge/trip-log 0\\.1\\.0 \\(plugin ${IDS.tripLog}\\) → ${plugins}/@signalk-edge/trip-log`),
  );
  t.regex(out, new RegExp(`${IDS.tripLog}: configuration \\(enabled, debug on\\)`));
  t.regex(out, new RegExp(`${IDS.tripLog}: 1 VFS file\\(s\\)`));
  t.regex(out, new RegExp(`${BUFFER_FFI}: no configuration there \\(it was disabled\\): imported disabled`));
  t.regex(out, /unbuilt-wasm: its build\/plugin\.wasm is missing/);
  t.regex(out, /signalk-to-nmea0183: not a WASM plugin/);
  t.regex(
    out,
    /plugin-config-data\/signalk-to-nmea0183\.json: configuration of signalk-to-nmea0183, which is not an imported WASM plugin/,
  );
  t.regex(out, /settings\.json: server settings are not imported/);
  t.regex(out, new RegExp(`${IDS.tripLog}: VFS symlink config/planted not copied`));
  t.regex(out, /add .* there if it is not listed/, 'the plugin folder is not in the (demo) settings');

  t.deepEqual(JSON.parse(readFileSync(configFile(dataDir, IDS.tripLog), 'utf8')), {
    enabled: true,
    enableDebug: true,
    configuration: {},
  });
  t.like(JSON.parse(readFileSync(configFile(dataDir, BUFFER_FFI), 'utf8')), { enabled: false });
  t.false(existsSync(join(vfsRoot(dataDir, IDS.tripLog), 'config', 'planted')));
  t.false(
    existsSync(join(plugins, '@signalk-edge-fixture', 'buffer-ffi', 'node_modules')),
    "the package's node_modules stay behind",
  );

  const { runtime, stop } = await startTestRuntime({ pluginDirs: [plugins], dataDir });
  t.teardown(stop);
  const trip = await pluginStatus(runtime, IDS.tripLog);
  t.like(trip, { state: 'running' });
  t.regex(trip.statusMessage ?? '', /2(\.0)? nm, 7 positions/, 'its state came along in the VFS');
  t.like(await pluginStatus(runtime, BUFFER_FFI), { state: 'disabled', enabled: false });
});

test('a second import overwrites nothing and says so', async (t) => {
  const from = await signalkFolder(t);
  const dataDir = tempDir(t, 'ske-data-');
  const plugins = tempDir(t, 'ske-plugins-');
  t.is((await cli(['import-signalk-config', from, '--data', dataDir, '--plugins', plugins])).code, 0);
  writeFileSync(join(vfsRoot(dataDir, IDS.tripLog), 'data', 'state.json'), '{"deltas":99,"distance":0}');
  const again = await cli(['import-signalk-config', from, '--data', dataDir, '--plugins', plugins]);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, /took \(1\):/);
  t.regex(again.stdout, new RegExp(`${IDS.tripLog}: 0 VFS file\\(s\\)`));
  t.regex(again.stdout, /trip-log 0\.1\.0: .* exists already \(not overwritten\)/);
  t.regex(again.stdout, new RegExp(`${IDS.tripLog}: configuration not imported, .* exists already`));
  t.regex(again.stdout, new RegExp(`${IDS.tripLog}: 1 VFS file\\(s\\) exist here already, kept ours: data/state.json`));
  t.is(readFileSync(join(vfsRoot(dataDir, IDS.tripLog), 'data', 'state.json'), 'utf8'), '{"deltas":99,"distance":0}');
});

test('import-signalk-config refuses what is not a signalk-server config folder, and needs a plugin folder', async (t) => {
  const dataDir = tempDir(t, 'ske-data-');
  const missing = await cli(['import-signalk-config', join(dataDir, 'nope'), '--data', dataDir, '--plugins', dataDir]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /nope is not a folder/);
  const empty = await cli(['import-signalk-config', tempDir(t, 'ske-empty-'), '--data', dataDir, '--plugins', dataDir]);
  t.is(empty.code, 2);
  t.regex(empty.stderr, /does not look like a signalk-server config folder/);
  const noTarget = await cli(['import-signalk-config', await signalkFolder(t), '--data', dataDir]);
  t.is(noTarget.code, 2);
  t.regex(noTarget.stderr, /no plugin folder to install into: pass --plugins DIR/);
  const broken = tempDir(t, 'ske-signalk-');
  json(join(broken, 'plugin-config-data', 'x.json'), {});
  mkdirSync(join(broken, 'node_modules', 'bad'), { recursive: true });
  writeFileSync(join(broken, 'node_modules', 'bad', 'package.json'), '{not json');
  const report = await cli([
    'import-signalk-config',
    broken,
    '--data',
    dataDir,
    '--plugins',
    tempDir(t, 'ske-plugins-'),
  ]);
  t.is(report.code, 0);
  t.regex(report.stdout, /took \(0\):/);
  t.regex(report.stdout, /package at node_modules\/bad: package\.json is not valid JSON/);
});
