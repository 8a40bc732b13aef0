// What scripts/install.sh needs from a board profile, rendered by the same code the runtime uses
// (bash cannot parse JSON). Run as:
//   node dist/runtime/board/install-plan.js board    [--board ID]   → shell assignments
//   node dist/runtime/board/install-plan.js dropin   --board ID --prefix DIR --node PATH
//   node dist/runtime/board/install-plan.js settings --board ID    → a first settings.json
//   node dist/runtime/board/install-plan.js run|logrun|rclocal --board ID [--prefix DIR --node PATH --service DIR]
//                                                   → the daemontools files (Venus OS)
//   node dist/runtime/board/install-plan.js fits --release DIR --node PATH [--root DIR] [--board ID]
//                                                   → RELEASE_* assignments, or exit 3 saying which tarball to use

import { parseArgs } from 'node:util';
import { SettingsError } from '../../core/settings-reader.js';
import { renderBoardDropIn } from '../systemd/unit.js';
import { renderLogRunScript, renderRcLocalBlock, renderRunScript } from './daemontools.js';
import { deviceAliases, type BoardProfile } from './profile.js';
import { resolveBoard } from './resolve.js';
import { machineFacts, misfits, tarballFor } from '../release/fit.js';
import { MANIFEST_FILE, readManifest } from '../release/manifest.js';

/** Single-quoted for sh: safe to `eval`. */
function shq(v: string): string {
  return `'${v.replace(/'/g, `'\\''`)}'`;
}

/** The settings an installed board starts with: no sources yet, API on the boat's network, so clients log in. */
export function initialSettings(profile: BoardProfile): object {
  return {
    board: profile.id,
    host: '0.0.0.0',
    port: 3000,
    dataDir: profile.paths.data,
    cacheDir: profile.paths.cache,
    sources: [],
    plugins: { dirs: [`${profile.paths.data}/plugins`] },
    security: { enabled: true, allowReadOnly: false },
  };
}

function main(argv: string[]): void {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      board: { type: 'string' },
      prefix: { type: 'string' },
      node: { type: 'string' },
      service: { type: 'string' },
      release: { type: 'string' },
      root: { type: 'string' },
    },
  });
  const mode = positionals[0];
  const resolved = resolveBoard({ override: values.board });
  const profile = resolved.profile;
  switch (mode) {
    case 'board': {
      const serial = deviceAliases(profile)
        .filter((a) => a.kind === 'serial')
        .map((a) => `${a.alias}=${a.target}`);
      const vars: Record<string, string> = {
        BOARD: profile.id,
        BOARD_NAME: profile.name,
        BOARD_HOW: resolved.how === 'override' ? 'given with --board' : `detected: ${resolved.reason}`,
        DATA_DIR: profile.paths.data,
        CACHE_DIR: profile.paths.cache,
        PROGRAM_DIR: profile.paths.program,
        SERVICE: profile.service,
        MEMORY_MAX: `${profile.memory.totalMB}M`,
        SERIAL_ALIASES: serial.join(' '),
      };
      for (const [k, v] of Object.entries(vars)) console.log(`${k}=${shq(v)}`);
      return;
    }
    case 'dropin':
      if (!values.prefix || !values.node) throw new SettingsError('dropin', '', 'needs --prefix and --node');
      process.stdout.write(renderBoardDropIn(profile, { prefix: values.prefix, nodePath: values.node }));
      return;
    case 'settings':
      console.log(JSON.stringify(initialSettings(profile), null, 2));
      return;
    case 'run':
      if (!values.prefix || !values.node) throw new SettingsError('run', '', 'needs --prefix and --node');
      process.stdout.write(renderRunScript(profile, { prefix: values.prefix, nodePath: values.node }));
      return;
    case 'logrun':
      process.stdout.write(renderLogRunScript());
      return;
    case 'rclocal':
      if (!values.service) throw new SettingsError('rclocal', '', 'needs --service');
      process.stdout.write(renderRcLocalBlock(values.service));
      return;
    case 'fits': {
      if (!values.release || !values.node) throw new SettingsError('fits', '', 'needs --release and --node');
      let manifest;
      try {
        manifest = readManifest(values.release);
      } catch (err) {
        throw new SettingsError(
          values.release,
          '',
          `not a release made by scripts/release.sh: ${MANIFEST_FILE} ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : (err as Error).message}`,
        );
      }
      if (!/^[0-9A-Za-z][0-9A-Za-z.+_-]*$/.test(manifest.version))
        throw new SettingsError(
          MANIFEST_FILE,
          'version',
          `not usable as a folder name: ${JSON.stringify(manifest.version)}`,
        );
      const facts = machineFacts({ root: values.root, nodePath: values.node, profile });
      const problems = misfits(manifest, facts);
      if (problems.length > 0) {
        console.error(
          `refusing ${manifest.name} ${manifest.version} for ${manifest.target}:\n  ${problems.join('\n  ')}\nuse ${tarballFor(manifest, facts)}`,
        );
        process.exitCode = 3;
        return;
      }
      const vars: Record<string, string> = {
        RELEASE_VERSION: manifest.version,
        RELEASE_TARGET: manifest.target,
        RELEASE_ABI: String(manifest.node.abi),
        RELEASE_ABI_NOTE: facts.abi === undefined ? `Node ABI of the image not checked (${facts.abiHow})` : '',
        RELEASE_OMITTED: manifest.omitted.map((o) => `${o.feature}: ${o.reason}`).join('; '),
      };
      for (const [k, v] of Object.entries(vars)) console.log(`${k}=${shq(v)}`);
      return;
    }
    default:
      throw new SettingsError(
        'install-plan',
        '',
        `unknown mode ${JSON.stringify(mode)} (board, dropin, settings, run, logrun, rclocal, fits)`,
      );
  }
}

try {
  main(process.argv.slice(2));
} catch (err) {
  console.error(err instanceof SettingsError ? err.message : err instanceof Error ? err.stack : String(err));
  process.exitCode = 2;
}
