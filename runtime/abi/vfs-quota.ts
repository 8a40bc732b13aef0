// The disk quota of one plugin's VFS (limits.plugins.storageMB). Bytes a plugin writes are added to
// the space its folder used when the instance was created; when a write would pass the quota, the
// folder is measured again (overwrites, truncations and deletions free space the count does not
// see), at most once a second, and the write is refused with EDQUOT when it still does not fit.

import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const RESCAN_INTERVAL_MS = 1000;

/** Bytes of the regular files under `dir` (links and special files count nothing). */
export function folderBytes(dir: string): number {
  let total = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop()!;
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile()) {
        try {
          total += lstatSync(p).size;
        } catch {
          // removed meanwhile
        }
      }
    }
  }
  return total;
}

export class VfsQuota {
  private used: number;
  private lastScan: number;
  /** Writes refused. */
  refused = 0;

  constructor(
    private readonly root: string,
    readonly maxBytes: number,
  ) {
    this.used = folderBytes(root);
    this.lastScan = performance.now();
  }

  /** Whether `bytes` more may be written; counts them when so. */
  admit(bytes: number): boolean {
    if (this.used + bytes <= this.maxBytes) {
      this.used += bytes;
      return true;
    }
    const now = performance.now();
    if (now - this.lastScan >= RESCAN_INTERVAL_MS) {
      this.lastScan = now;
      this.used = folderBytes(this.root);
      if (this.used + bytes <= this.maxBytes) {
        this.used += bytes;
        return true;
      }
    }
    this.refused++;
    return false;
  }
}
