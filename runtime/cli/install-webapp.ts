// `signalk-edge install-webapp <package|tarball>`: puts a Signal K webapp into a plugin folder, at
// `<folder>/node_modules/<name>`, where the API serves it (runtime/api/webapps.ts) without a restart.
// A local tarball (`npm pack` output) installs offline; a registry name is fetched with `npm pack`
// and then installed the same way. Webapps are prebuilt browser bundles: their npm dependencies are
// not installed (they serve a Node part, e.g. KIP's server plugin, which this runtime does not run).

import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { readWebapp, WEBAPP_KEYWORDS, type Webapp } from '../api/webapps.js';
import { CommandError } from './command-error.js';

const run = promisify(execFile);

export class InstallWebappError extends CommandError {}

async function fetchTarball(spec: string, into: string): Promise<string> {
  try {
    // --ignore-scripts: packing a folder would otherwise run its prepack/prepare scripts.
    const { stdout } = await run('npm', ['pack', spec, '--pack-destination', into, '--silent', '--ignore-scripts'], {
      maxBuffer: 1024 * 1024,
    });
    const name = stdout.trim().split('\n').pop() ?? '';
    return join(into, name);
  } catch (err) {
    throw new InstallWebappError(
      `npm pack ${spec} failed (no registry access? pass a tarball made with npm pack): ${(err as Error).message.split('\n')[0]}`,
    );
  }
}

async function extract(tarball: string, into: string): Promise<string> {
  // Links could point the served folder at any file of the boat computer: npm never packs them, so refuse them.
  let listing: string;
  try {
    listing = (await run('tar', ['-tvzf', tarball], { maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (err) {
    throw new InstallWebappError(`cannot read ${tarball}: ${(err as Error).message.split('\n')[0]}`);
  }
  const link = listing.split('\n').find((line) => line.startsWith('l') || line.startsWith('h'));
  if (link) throw new InstallWebappError(`${tarball} holds a link (${link.split(/\s+/).slice(5).join(' ')}): refused`);
  // GNU tar drops leading `/` and refuses members with `..`; owners and modes are not taken from the archive.
  try {
    await run('tar', ['-xzf', tarball, '-C', into, '--no-same-owner', '--no-same-permissions']);
  } catch (err) {
    throw new InstallWebappError(`cannot extract ${tarball}: ${(err as Error).message.split('\n')[0]}`);
  }
  // npm tarballs hold one top folder, `package/` by convention.
  const top = readdirSync(into).filter((e) => statSync(join(into, e)).isDirectory());
  if (top.length !== 1)
    throw new InstallWebappError(
      `${tarball} is not an npm package tarball (expected one top folder, found ${top.length})`,
    );
  return join(into, top[0]);
}

/** Installs the webapp; returns it as served (its folder under the plugin folder). */
export async function installWebapp(spec: string, pluginDir: string): Promise<Webapp & { dir: string }> {
  const work = mkdtempSync(join(tmpdir(), 'ske-webapp-'));
  const modules = resolve(pluginDir, 'node_modules');
  mkdirSync(modules, { recursive: true });
  // Unpacked next to its final place: the rename below stays on one file system.
  const staging = mkdtempSync(join(modules, '.ske-install-'));
  try {
    const local = /\.(tgz|tar\.gz)$/.test(spec) && existsSync(spec);
    const tarball = local ? resolve(spec) : await fetchTarball(spec, work);
    const unpacked = await extract(tarball, staging);
    const app = readWebapp(unpacked);
    if (!app)
      throw new InstallWebappError(
        `${spec} is not a Signal K webapp: its package.json needs a name and one of the keywords ${WEBAPP_KEYWORDS.join(', ')}`,
      );
    const target = resolve(modules, app.name);
    if (!target.startsWith(modules + sep))
      throw new InstallWebappError(`package name ${JSON.stringify(app.name)} is not a valid folder name`);
    mkdirSync(resolve(target, '..'), { recursive: true });
    // Replace an older version in two renames, so the folder is never half-written.
    const old = `${target}.old-${process.pid}`;
    if (existsSync(target)) renameSync(target, old);
    renameSync(unpacked, target);
    rmSync(old, { recursive: true, force: true });
    return { ...readWebapp(target)!, dir: target };
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(staging, { recursive: true, force: true });
  }
}
