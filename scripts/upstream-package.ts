// signalk-server 2.32.0's npm package, the reference this project measures itself against: packed
// once with `npm pack` into .cache/compat (git-ignored, kept between runs), and files extracted
// from it on demand (the compat run's example plugins, the tests' sample logs). Upstream's files
// are only read from the cache, never copied into the repository.

import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../runtime/config/settings.js';

const run = promisify(execFile);

export const UPSTREAM = 'signalk-server@2.32.0';
export const UPSTREAM_CACHE = join(PROJECT_ROOT, '.cache', 'compat');
const TARBALL = join(UPSTREAM_CACHE, 'signalk-server-2.32.0.tgz');
/** npm retries an unreachable registry for minutes; a test setup gives up sooner. */
const PACK_TIMEOUT_MS = 180_000;

/** `npm pack` failed: the registry is unreachable (offline, refused, timed out) or refused the package. */
export class RegistryError extends Error {
  constructor(cause: unknown) {
    // npm's own words (`FetchError: request to ... failed, reason: ...`) say best why.
    const text = `${(cause as { stderr?: unknown }).stderr ?? ''}\n${(cause as Error).message}`;
    const lines = text.split('\n');
    const line =
      lines.find((l) => l.includes('FetchError')) ??
      lines.find((l) => /\bcode E[A-Z0-9]+/.test(l)) ??
      lines.find((l) => l.trim() !== '') ??
      '';
    super(`npm pack ${UPSTREAM} failed: ${line.replace(/^npm error /, '').slice(0, 200)}`, { cause });
  }
}

/** The package's tarball, packed on first use; rejects with a RegistryError when npm cannot fetch it. */
export async function upstreamTarball(): Promise<string> {
  mkdirSync(UPSTREAM_CACHE, { recursive: true });
  if (!existsSync(TARBALL)) {
    process.stdout.write(`fetching ${UPSTREAM} with npm pack into ${UPSTREAM_CACHE}\n`);
    try {
      await run('npm', ['pack', UPSTREAM, '--pack-destination', UPSTREAM_CACHE, '--loglevel=error'], {
        cwd: UPSTREAM_CACHE,
        maxBuffer: 16 * 1024 * 1024,
        timeout: PACK_TIMEOUT_MS,
      });
    } catch (err) {
      throw new RegistryError(err);
    }
    if (!existsSync(TARBALL)) throw new Error(`npm pack ${UPSTREAM} did not leave ${TARBALL}`);
  }
  return TARBALL;
}

/**
 * Extracts `member` (a file or folder of the package, `samples/aava-n2k.data`) into `dest` with its
 * first `strip` path parts removed (`package/` counts as one), unless `present` exists already.
 */
export async function extractUpstream(member: string, dest: string, strip: number, present: string): Promise<void> {
  if (existsSync(present)) return;
  const tarball = await upstreamTarball();
  mkdirSync(dest, { recursive: true });
  await run('tar', ['-xzf', tarball, '-C', dest, `--strip-components=${strip}`, `package/${member}`]);
  if (!existsSync(present)) throw new Error(`${member} of ${UPSTREAM} did not extract to ${present}`);
}
