// Builds the repo's Rust plugins (a folder of examples/ or test/fixtures/plugins/ with a Cargo.toml)
// into <dir>/plugin.wasm with Debian's toolchain: /usr/bin/cargo and /usr/bin/rustc with the
// wasm32-wasi standard library (packages rustc, cargo, libstd-rust-dev-wasm32), offline and with
// no crates registry. The paths are explicit because a rustup toolchain earlier on PATH (e.g.
// ~/.cargo/bin) would otherwise be used, which a fresh machine does not have. A stamp beside the
// output caches the build as for the AssemblyScript plugins.

import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../runtime/config/settings.js';

export const RUST_TARGET = 'wasm32-wasi';
/** Debian's packages that provide the toolchain; named in every skip message. */
export const RUST_PACKAGES = 'rustc cargo libstd-rust-dev-wasm32';
const CARGO = '/usr/bin/cargo';
const RUSTC = '/usr/bin/rustc';
const SDK = join(PROJECT_ROOT, 'sdk', 'rust');
/** Outside the plugin folders, so copies of a plugin package never carry build output. */
const TARGET_DIR = join(PROJECT_ROOT, 'dist', 'rust-target');
/** Cargo's own home for these builds: no user config or registry cache takes part. */
const CARGO_HOME = join(PROJECT_ROOT, 'dist', 'cargo-home');

export type RustToolchain = { ok: true; version: string } | { ok: false; reason: string };

let detected: RustToolchain | undefined;

/** Whether Debian's Rust toolchain with the wasm32-wasi standard library is installed. */
export function rustToolchain(): RustToolchain {
  detected ??= detectRustToolchain(CARGO, RUSTC);
  return detected;
}

/** The toolchain at these paths, or why it cannot build plugins (naming the packages to install). */
export function detectRustToolchain(cargo: string, rustc: string): RustToolchain {
  const install = `install the Debian packages: apt-get install ${RUST_PACKAGES}`;
  if (!existsSync(cargo) || !existsSync(rustc))
    return { ok: false, reason: `no Debian Rust toolchain (${cargo}, ${rustc}); ${install}` };
  try {
    const version = execFileSync(rustc, ['--version'], { encoding: 'utf8' }).trim();
    const libdir = execFileSync(rustc, ['--print', 'target-libdir', '--target', RUST_TARGET], {
      encoding: 'utf8',
    }).trim();
    if (!existsSync(libdir) || !readdirSync(libdir).some((f) => f.startsWith('libstd-'))) {
      return { ok: false, reason: `${version} has no ${RUST_TARGET} standard library; ${install}` };
    }
    return { ok: true, version };
  } catch (err) {
    return { ok: false, reason: `${rustc} does not work (${(err as Error).message.split('\n')[0]}); ${install}` };
  }
}

/** Plugin folders with a Cargo.toml under the given roots. */
export function rustPluginDirs(roots: string[]): string[] {
  return roots.flatMap((root) =>
    existsSync(root)
      ? readdirSync(root, { withFileTypes: true })
          .filter((d) => d.isDirectory() && existsSync(join(root, d.name, 'Cargo.toml')))
          .map((d) => join(root, d.name))
      : [],
  );
}

/** Every file under dir, sorted (empty when it does not exist). */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile())
    .sort();
}

function cacheKey(dir: string, version: string): string {
  const h = createHash('sha256').update(version).update(RUST_TARGET);
  const inputs = [
    join(dir, 'Cargo.toml'),
    join(dir, 'Cargo.lock'),
    ...filesUnder(join(dir, 'src')),
    join(SDK, 'Cargo.toml'),
    ...filesUnder(join(SDK, 'src')),
  ];
  for (const f of inputs) {
    h.update(relative(PROJECT_ROOT, f)).update('\0');
    if (existsSync(f)) h.update(readFileSync(f));
  }
  return h.digest('hex');
}

/** The crate's library name as cargo names the .wasm (`[package] name` with `-` as `_`). */
function crateName(dir: string): string {
  const m = /^\s*name\s*=\s*"([^"]+)"/m.exec(readFileSync(join(dir, 'Cargo.toml'), 'utf8'));
  if (!m) throw new RustBuildError(`${relative(PROJECT_ROOT, dir)}/Cargo.toml has no package name`);
  return m[1]!.replace(/-/g, '_');
}

export class RustBuildError extends Error {}

const run = promisify(execFile);

/**
 * Runs Debian's cargo offline-ready: its rustc by path, PATH without ~/.cargo/bin, a CARGO_HOME
 * and target folder of the project's own (a --locked build never needs a registry).
 */
export async function runCargo(args: string[]): Promise<{ stdout: string; stderr: string }> {
  mkdirSync(CARGO_HOME, { recursive: true });
  const env = { PATH: '/usr/bin:/bin', HOME: CARGO_HOME, CARGO_HOME, RUSTC, CARGO_TARGET_DIR: TARGET_DIR };
  return run(CARGO, args, { env, maxBuffer: 16 * 1024 * 1024 });
}

/** Builds one Rust plugin folder into <dir>/<output> unless its stamp is current. */
export async function buildRustPlugin(dir: string, output: string, version: string): Promise<'built' | 'cached'> {
  const out = join(dir, output);
  const stamp = `${out}.stamp`;
  const key = cacheKey(dir, version);
  if (existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8') === key) return 'cached';
  try {
    await runCargo([
      'build',
      '--release',
      '--offline',
      '--locked',
      '--target',
      RUST_TARGET,
      '--manifest-path',
      join(dir, 'Cargo.toml'),
    ]);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new RustBuildError(
      `cargo failed for plugin ${relative(PROJECT_ROOT, dir)}: ${(err as Error).message.split('\n')[0]}\n${stderr.trim()}`,
    );
  }
  const built = join(TARGET_DIR, RUST_TARGET, 'release', `${crateName(dir)}.wasm`);
  if (!existsSync(built))
    throw new RustBuildError(
      `cargo built no ${relative(PROJECT_ROOT, built)} for plugin ${relative(PROJECT_ROOT, dir)}`,
    );
  copyFileSync(built, out);
  writeFileSync(stamp, key);
  return 'built';
}
