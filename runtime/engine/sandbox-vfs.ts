// A command plugin's VFS in its @wasmer/sdk sandbox. The SDK has no host directory mount for Node
// (its native mount is an experimental bridge for browser workers), so the plugin's VFS folder is
// copied into the sandbox's /workspace before the program starts and written back when it ends
// (stop, exit, crash, runaway). /workspace is the program's working directory and the only one
// that outlives the sandbox; the rest of the sandbox file system is in memory and discarded.
// Only regular files and folders cross, in both directions: a symlink in the VFS is not followed.

import { lstat, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sandbox } from '@wasmer/sdk/node';
import { writeFileAtomic } from '../storage/atomic.js';

export const GUEST_VFS = '/workspace';

/** A name the host may join to a path: no separators, not `.` or `..`. */
const safeName = (name: string): boolean =>
  name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');

/** Copies the host VFS folder into the sandbox's /workspace; returns the bytes copied. */
export async function copyIn(sandbox: Sandbox, hostDir: string, guestDir = GUEST_VFS): Promise<number> {
  let bytes = 0;
  for (const entry of await readdir(hostDir, { withFileTypes: true })) {
    const host = join(hostDir, entry.name);
    const guest = `${guestDir}/${entry.name}`;
    if (entry.isDirectory()) {
      await sandbox.fs.mkdir(guest, { recursive: true });
      bytes += await copyIn(sandbox, host, guest);
    } else if (entry.isFile()) {
      const data = await readFile(host);
      await sandbox.fs.writeFile(guest, data);
      bytes += data.length;
    }
  }
  return bytes;
}

export interface CopyOutResult {
  written: number;
  removed: number;
}

/**
 * Mirrors the sandbox's /workspace onto the host VFS folder: changed and new files are written
 * (atomically), what the program deleted is deleted. Unchanged files are not rewritten (SD cards).
 */
export async function copyOut(
  sandbox: Sandbox,
  hostDir: string,
  guestDir = GUEST_VFS,
  result: CopyOutResult = { written: 0, removed: 0 },
): Promise<CopyOutResult> {
  const seen = new Set<string>();
  for (const entry of await sandbox.fs.readDir(guestDir)) {
    if (!safeName(entry.name)) continue;
    seen.add(entry.name);
    const host = join(hostDir, entry.name);
    const guest = `${guestDir}/${entry.name}`;
    const local = await lstat(host).catch(() => undefined);
    if (entry.kind === 'directory') {
      if (local && !local.isDirectory()) await rm(host, { force: true });
      await mkdir(host, { recursive: true });
      await copyOut(sandbox, host, guest, result);
      continue;
    }
    const data = await sandbox.fs.readFile(guest);
    if (local?.isDirectory()) await rm(host, { recursive: true, force: true });
    else if (local?.isFile() && local.size === data.length && Buffer.from(data).equals(await readFile(host))) continue;
    writeFileAtomic(host, data);
    result.written++;
  }
  for (const name of await readdir(hostDir)) {
    if (seen.has(name)) continue;
    await rm(join(hostDir, name), { recursive: true, force: true });
    result.removed++;
  }
  return result;
}
