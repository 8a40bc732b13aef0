#!/usr/bin/env node
// signalk-edge command line: `run` (default) starts the runtime; `doctor` checks the install;
// `compile` fills the AOT cache; `grant`/`revoke`/`grants` manage what plugins may touch;
// `import-signalk-config` moves WASM plugins over from a signalk-server config folder; `selftest`
// runs hardware-in-the-loop checks on a board.

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { demoSettings, defaultDataDir, loadSettings, type Settings } from '../config/settings.js';
import { SettingsError } from '../../core/settings-reader.js';
import { startRuntime } from '../app.js';
import { resolveBoard } from '../board/resolve.js';
import { GrantsFileError } from '../capabilities/store.js';
import { engineOptions } from '../plugins/engine-options.js';
import { UnsafeStartError } from '../security/settings.js';
import { CommandError } from './command-error.js';
import { SELFTEST_HELP, SELFTEST_USAGE } from './selftest-usage.js';
// Each other command's module is imported when that command runs: `run` (the service) does not
// carry doctor, selftest, compile, import and the rest (docs/decisions/0102).

const USAGE = `usage: signalk-edge [run] [--settings FILE] [--data DIR] [--port N] [--board ID]
       signalk-edge doctor [--settings FILE] [--data DIR] [--board ID] [--capture DIR]
${SELFTEST_USAGE}
       signalk-edge compile [--settings FILE] [--data DIR] [--board ID]
       signalk-edge grant <plugin-id> <capability>... [--settings FILE] [--data DIR]
       signalk-edge revoke <plugin-id> <capability>... [--settings FILE] [--data DIR]
       signalk-edge grants [<plugin-id>] [--settings FILE] [--data DIR]
       signalk-edge user add|passwd|remove|list [<name>] [--permission P] [--settings FILE] [--data DIR]
       signalk-edge access list|approve|deny|revoke [<id>] [--permission P] [--settings FILE] [--data DIR]
       signalk-edge import-signalk-config <dir> [--plugins DIR] [--settings FILE] [--data DIR]
       signalk-edge install-webapp <npm package|tarball.tgz> [--plugins DIR] [--settings FILE] [--data DIR]

  run        start the runtime (default). Without --settings it reads <data>/settings.json,
             and without that file it replays the bundled demo passage and loads the example plugins.
  --settings FILE   settings JSON file
  --data DIR        data folder (default $SIGNALK_EDGE_DATA or ~/.signalk-edge)
  --port N          HTTP port, overrides the settings file
  --board ID        board profile (boards/<ID>.json), overrides the settings and detection
  doctor     check board, Node, devices, data and cache folders, service; exit 1 on a problem.
             --capture DIR copies what board detection reads (device-tree model, cpuinfo, CAN and
             serial device lists) into DIR, for test/fixtures/boards/
  compile    prepare every installed plugin into the AOT cache (progress on stderr, summary on
             stdout); exit 1 when any plugin failed
  grant      let a plugin use a capability: dataRead, dataWrite, putHandlers, rawSockets, ...,
             serial:<device|alias|*>[:write], can:<iface>[:<pgn>,...], can:<iface>:write,
             mqtt:publish:<filter>, mqtt:subscribe:<filter>, net:<host>:<port>. Plugin id * = all.
             Written to <data>/grants.json; a running service applies it within a second.
  revoke     take a grant back (closes the plugin's open handles that relied on it)
  grants     what each plugin requests, is granted (and where) and has in effect
  user       users who log in (POST /signalk/v1/auth/login): add and passwd read the password from
             the terminal (asked twice) or the first line of stdin; --permission readonly (default),
             readwrite or admin
  access     device access requests (POST /signalk/v1/access/requests): list them and the approved
             devices, approve (optionally with another --permission) or deny a request by its id or
             client id, revoke an approved device (its token stops working)
  import-signalk-config  copy the WASM plugins of a signalk-server config folder (e.g. ~/.signalk)
             here: packages into --plugins DIR (default: the first plugins.dirs of the settings),
             plugin-config-data/<id>.json and their VFS files into the data folder. Overwrites
             nothing, grants nothing; reports what it took, what it left, and the grants to give
  install-webapp  put a Signal K webapp (keyword signalk-webapp) into --plugins DIR (default: the
             first plugins.dirs of the settings), served at /<package name>/ without a restart;
             a local .tgz (npm pack output) installs offline, a package name is fetched with npm pack
${SELFTEST_HELP}`;

function resolveSettings(values: { settings?: string; data?: string; port?: string }): {
  settings: Settings;
  from: string;
} {
  const dataDir = values.data ?? defaultDataDir();
  const file = values.settings ?? join(dataDir, 'settings.json');
  let settings: Settings;
  let from: string;
  if (values.settings || existsSync(file)) {
    settings = loadSettings(file);
    if (values.data) settings.dataDir = values.data;
    from = file;
  } else {
    settings = demoSettings(dataDir);
    from = 'built-in demo (no settings file at ' + file + ')';
  }
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new SettingsError('--port', '', `not a port number: ${values.port}`);
    settings.port = port;
  }
  return { settings, from };
}

async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      settings: { type: 'string' },
      data: { type: 'string' },
      port: { type: 'string' },
      board: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const { settings, from } = resolveSettings(values);
  const board = resolveBoard({ override: values.board, settingsBoard: settings.board });
  settings.board = board.profile.id;
  const runtime = await startRuntime(settings);
  const base = runtime.api.url;
  console.log(`signalk-edge running (settings: ${from})
  board:         ${board.profile.id} (${board.how === 'detected' ? `detected: ${board.reason}` : `from ${board.reason}`})
  data folder:   ${settings.dataDir}
  sources:       ${settings.sources.map((s) => `${s.id} (${s.type})`).join(', ') || 'none'}
  plugins:       ${
    runtime.plugins
      .list()
      .map((p) => `${p.id} (${p.state})`)
      .join(', ') || 'none'
  }
  discovery:     ${base}/signalk
  full model:    ${base}/signalk/v1/api/
  self vessel:   ${base}/signalk/v1/api/vessels/self
  stream:        ${base.replace(/^http/, 'ws')}/signalk/v1/stream?subscribe=self
  plugins REST:  ${base}/plugins
Press Ctrl-C to stop.`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping`);
    runtime.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

async function doctor(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      settings: { type: 'string' },
      data: { type: 'string' },
      board: { type: 'string' },
      capture: { type: 'string' },
    },
  });
  if (values.capture !== undefined) {
    const { captureBoard } = await import('./capture.js');
    const { files, board, reason } = captureBoard(values.capture);
    console.log(`captured ${files.join(', ')} into ${values.capture}; detected ${board} (${reason})
to make it a detection fixture: copy the folder to test/fixtures/boards/<name>/ and add <name>: '${board}' to EXPECTED in test/unit/board.test.ts`);
    return;
  }
  const { settings, from } = resolveSettings(values);
  const board = resolveBoard({ override: values.board, settingsBoard: settings.board });
  const { formatReport, runDoctor } = await import('./doctor.js');
  const checks = runDoctor({ settings, board });
  console.log(`signalk-edge doctor (settings: ${from})\n${formatReport(checks)}`);
  process.exitCode = checks.some((c) => c.status === 'fail') ? 1 : 0;
}

/** Same settings and board resolution as `run`, so the cache keys (cap) match what `run` loads. */
async function compile(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { settings: { type: 'string' }, data: { type: 'string' }, board: { type: 'string' } },
  });
  const { settings, from } = resolveSettings(values);
  settings.board = resolveBoard({ override: values.board, settingsBoard: settings.board }).profile.id;
  console.log(`signalk-edge compile (settings: ${from})`);
  const { compilePlugins, formatSummary } = await import('./compile.js');
  const summary = await compilePlugins(settings);
  console.log(formatSummary(summary, engineOptions(settings).cacheDir));
  process.exitCode = summary.failed.length > 0 ? 1 : 0;
}

async function grantCommand(command: 'grant' | 'revoke' | 'grants', args: string[]): Promise<void> {
  const { grant, GrantCommandError, listGrants, revoke } = await import('./grants.js');
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { settings: { type: 'string' }, data: { type: 'string' } },
  });
  const { settings } = resolveSettings(values);
  const [plugin, ...capabilities] = positionals;
  if (command !== 'grants' && plugin === undefined)
    throw new GrantCommandError(`${command} needs a plugin id and a capability\n${USAGE}`);
  const lines =
    command === 'grants'
      ? listGrants(settings, plugin)
      : command === 'grant'
        ? grant(settings, plugin!, capabilities)
        : revoke(settings, plugin!, capabilities);
  console.log(lines.join('\n'));
}

async function securityCommand(command: 'user' | 'access', args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { settings: { type: 'string' }, data: { type: 'string' }, permission: { type: 'string' } },
  });
  const { settings } = resolveSettings(values);
  const { accessCommand, userCommand } = await import('./security.js');
  const lines =
    command === 'user'
      ? await userCommand(settings, positionals, values)
      : await accessCommand(settings, positionals, values);
  console.log(lines.join('\n'));
}

async function importCommand(args: string[]): Promise<void> {
  const { formatImportReport, importSignalkConfig, ImportError } = await import('./import-signalk.js');
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { settings: { type: 'string' }, data: { type: 'string' }, plugins: { type: 'string' } },
  });
  const [from] = positionals;
  if (from === undefined || positionals.length > 1)
    throw new ImportError(`import-signalk-config needs one folder\n${USAGE}`);
  const { settings, from: settingsFrom } = resolveSettings(values);
  // The demo's plugin folders are the bundled examples: never a place to install into.
  const demo = settingsFrom.startsWith('built-in demo');
  const pluginDir = values.plugins ?? (demo ? undefined : settings.plugins.dirs[0]);
  if (pluginDir === undefined)
    throw new ImportError('no plugin folder to install into: pass --plugins DIR, or set plugins.dirs in the settings');
  const report = importSignalkConfig({ from, pluginDir, settings });
  console.log(formatImportReport(report, from));
  if (demo || !settings.plugins.dirs.includes(resolve(pluginDir)))
    console.log(
      `note: the runtime loads plugins from its settings' plugins.dirs; add ${pluginDir} there if it is not listed`,
    );
}

async function webappCommand(args: string[]): Promise<void> {
  const { installWebapp, InstallWebappError } = await import('./install-webapp.js');
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { settings: { type: 'string' }, data: { type: 'string' }, plugins: { type: 'string' } },
  });
  const [spec] = positionals;
  if (spec === undefined || positionals.length > 1)
    throw new InstallWebappError(`install-webapp needs one package name or tarball\n${USAGE}`);
  const { settings, from } = resolveSettings(values);
  const pluginDir = values.plugins ?? (from.startsWith('built-in demo') ? undefined : settings.plugins.dirs[0]);
  if (pluginDir === undefined)
    throw new InstallWebappError(
      'no plugin folder to install into: pass --plugins DIR, or set plugins.dirs in the settings',
    );
  const app = await installWebapp(spec, pluginDir);
  console.log(`installed ${app.name} ${app.version} into ${app.dir}\nserved at /${app.name}/`);
}

async function selftest(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: false,
    options: { settings: { type: 'string' }, data: { type: 'string' }, board: { type: 'string' } },
  });
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const { settings } = resolveSettings({ settings: str(values.settings), data: str(values.data) });
  const board = resolveBoard({ override: str(values.board), settingsBoard: settings.board });
  const { runSelftest } = await import('./selftest.js');
  process.exitCode = await runSelftest(args, settings, board);
}

async function main(argv: string[]): Promise<void> {
  const [first, ...rest] = argv;
  const command = first === undefined || first.startsWith('-') ? 'run' : first;
  const args = command === first ? rest : argv;
  switch (command) {
    case 'run':
      return run(args);
    case 'doctor':
      return doctor(args);
    case 'compile':
      return compile(args);
    case 'selftest':
      return selftest(args);
    case 'grant':
    case 'revoke':
    case 'grants':
      return grantCommand(command, args);
    case 'user':
    case 'access':
      return securityCommand(command, args);
    case 'import-signalk-config':
      return importCommand(args);
    case 'install-webapp':
      return webappCommand(args);
    case 'help':
      console.log(USAGE);
      return;
    default:
      console.error(`unknown command ${JSON.stringify(command)}\n${USAGE}`);
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof SettingsError) {
    console.error(`settings error: ${err.message}`);
    process.exitCode = 2;
    return;
  }
  if (err instanceof UnsafeStartError) {
    console.error(`signalk-edge: ${err.message}`);
    process.exitCode = 2;
    return;
  }
  if (err instanceof CommandError || err instanceof GrantsFileError) {
    console.error(`signalk-edge: ${err.message}`);
    process.exitCode = 2;
    return;
  }
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
