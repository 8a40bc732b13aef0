// Builds every AssemblyScript plugin of the repo (examples/<name>/ and test/fixtures/plugins/<name>/)
// into <dir>/plugin.wasm with the real @signalk/assemblyscript-plugin-sdk, and every Rust plugin
// (a folder with Cargo.toml) with Debian's Rust toolchain when it is installed (./build-rust.ts). A stamp file next to the
// output holds a hash of the sources and the compiler version, so an unchanged plugin is skipped
// and `npm start` stays quick. Run as `node dist/scripts/build-examples.js`.

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../runtime/config/settings.js';
import { buildRustPlugin, filesUnder, rustPluginDirs, rustToolchain } from './build-rust.js';

/** Folders holding plugin packages built here. */
export const PLUGIN_ROOTS = [join(PROJECT_ROOT, 'examples'), join(PROJECT_ROOT, 'test', 'fixtures', 'plugins')];

export const OUTPUT_NAME = 'plugin.wasm';

/** Compiler options of a plugin without asconfig.json: what upstream's loader needs (runtime exports). */
const DEFAULT_ARGS = ['--runtime', 'incremental', '--exportRuntime', '--optimizeLevel', '2', '--noAssert'];

function packageVersion(pkg: string): string {
  const text = readFileSync(join(PROJECT_ROOT, 'node_modules', pkg, 'package.json'), 'utf8');
  const parsed: unknown = JSON.parse(text);
  const v = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>).version : undefined;
  return typeof v === 'string' ? v : 'unknown';
}

/** Plugin folders: those with an assembly/index.ts entry. */
export function pluginSourceDirs(): string[] {
  return PLUGIN_ROOTS.flatMap((root) =>
    existsSync(root)
      ? readdirSync(root, { withFileTypes: true })
          .filter((d) => d.isDirectory() && existsSync(join(root, d.name, 'assembly', 'index.ts')))
          .map((d) => join(root, d.name))
      : [],
  );
}

/** The repo's own AssemblyScript HAL library, imported by relative path from plugins here. */
const HAL_SDK = join(PROJECT_ROOT, 'sdk', 'assemblyscript', 'assembly');

/** Hash of what determines the output: sources, package.json, asconfig, the HAL SDK, compiler and SDK versions. */
function cacheKey(dir: string, compiler: string): string {
  const h = createHash('sha256').update(compiler);
  const inputs = [
    ...filesUnder(join(dir, 'assembly')),
    join(dir, 'package.json'),
    join(dir, 'asconfig.json'),
    ...filesUnder(HAL_SDK),
  ];
  for (const f of inputs) {
    h.update(relative(PROJECT_ROOT, f)).update('\0');
    if (existsSync(f)) h.update(readFileSync(f));
  }
  return h.digest('hex');
}

export class PluginBuildError extends Error {}

const run = promisify(execFile);
const ASC = join(PROJECT_ROOT, 'node_modules', 'assemblyscript', 'bin', 'asc.js');

/** Compiles one plugin folder unless its stamp is current. Returns 'built' or 'cached'. */
export async function buildPlugin(dir: string, compiler: string): Promise<'built' | 'cached'> {
  const out = join(dir, OUTPUT_NAME);
  const stamp = `${out}.stamp`;
  const key = cacheKey(dir, compiler);
  if (existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8') === key) return 'cached';
  const args = [join(dir, 'assembly', 'index.ts'), '--outFile', out];
  const asconfig = join(dir, 'asconfig.json');
  // Relative: asc joins an extended config's `lib` folders (e.g. @assemblyscript/wasi-shim's, for
  // command plugins) to its base dir, which an absolute config path breaks.
  args.push(
    ...(existsSync(asconfig) ? ['--config', relative(process.cwd(), asconfig), '--target', 'release'] : DEFAULT_ARGS),
  );
  // One compiler process per plugin: asc keeps library state between in-process runs, and a
  // command plugin's WASI-shim configuration broke the next plugin's build that way.
  try {
    await run(process.execPath, [ASC, ...args], { maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new PluginBuildError(
      `asc failed for plugin ${relative(PROJECT_ROOT, dir)}: ${(err as Error).message.split('\n')[0]}\n${stderr.trim()}`,
    );
  }
  if (!existsSync(out)) throw new PluginBuildError(`asc failed for plugin ${relative(PROJECT_ROOT, dir)}: no output`);
  writeFileSync(stamp, key);
  return 'built';
}

export async function buildAll(print: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<void> {
  const compiler = `assemblyscript ${packageVersion('assemblyscript')}, sdk ${packageVersion('@signalk/assemblyscript-plugin-sdk')}, wasi-shim ${packageVersion('@assemblyscript/wasi-shim')}`;
  for (const dir of pluginSourceDirs()) {
    const t0 = performance.now();
    const state = await buildPlugin(dir, compiler);
    const ms = (performance.now() - t0).toFixed(0);
    print(
      `${state === 'built' ? 'built ' : 'cached'} ${relative(PROJECT_ROOT, join(dir, OUTPUT_NAME))}${state === 'built' ? ` (${ms} ms)` : ''}`,
    );
  }
  const rustDirs = rustPluginDirs(PLUGIN_ROOTS);
  const rust = rustToolchain();
  if (!rust.ok) {
    if (rustDirs.length > 0)
      print(
        `skipped ${rustDirs.length} Rust plugin(s) (${rustDirs.map((d) => relative(PROJECT_ROOT, d)).join(', ')}): ${rust.reason}`,
      );
    return;
  }
  for (const dir of rustDirs) {
    const t0 = performance.now();
    const state = await buildRustPlugin(dir, OUTPUT_NAME, rust.version);
    const ms = (performance.now() - t0).toFixed(0);
    print(
      `${state === 'built' ? 'built ' : 'cached'} ${relative(PROJECT_ROOT, join(dir, OUTPUT_NAME))}${state === 'built' ? ` (${ms} ms, ${rust.version})` : ''}`,
    );
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  buildAll().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
