// Power-loss-safe file writes: write a temp file, fsync it, rename over the target, fsync the folder.
// After a crash at any point the target holds either the old or the new content, never a torn one,
// and once the call returned the new content survives a power cut (test/integration/power-loss.test.ts kills
// the runtime mid-write and traces the system calls). Synchronous on purpose: host calls
// (sk_save_config) must answer the plugin before returning, and the files written here are small.
// A crash between writing and renaming leaves the temp file behind; readers never look at it, and
// the next write of the same file removes those of processes that are gone.

import { openSync, writeSync, fsyncSync, closeSync, renameSync, mkdirSync, rmSync, readdirSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temp files of `name` left in `dir` by processes that died before their rename. One with
 * this process's pid is stale too (a container's runtime may get the same pid every start): this
 * process renames or removes its own within the synchronous call that made it.
 */
function removeStaleTemps(dir: string, name: string): void {
  const prefix = `.${name}.`;
  for (const entry of readdirSync(dir)) {
    const temp = entry.startsWith(prefix) ? /^(\d+)\.[0-9a-f]{8}\.tmp$/.exec(entry.slice(prefix.length)) : null;
    if (temp && (Number(temp[1]) === process.pid || !alive(Number(temp[1])))) rmSync(join(dir, entry), { force: true });
  }
}

/** `mode` applies to a newly written file (secrets pass 0o600). */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  removeStaleTemps(dir, basename(path));
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  try {
    const fd = openSync(tmp, 'w', mode);
    try {
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
