// Keeps a plugin's WASI path calls inside its VFS on the host. uvwasi checks paths lexically only,
// then hands the host path to the kernel, which follows any symlink on the way: a link inside the
// VFS pointing outside (made by someone else; the plugin cannot make one) let a plugin read,
// create, unlink and hard-link files outside, whatever its lookup flags said (measured in
// test/integration/sandbox.test.ts). So before a path call goes to uvwasi, the host path uvwasi will use is
// worked out the way uvwasi does it (lexical normalisation against the descriptor's path, its own
// symlink following when the call asks for it), and the kernel's view of that path (realpath)
// must lie inside the VFS root. Also tracks the instance's descriptors, which uvwasi never closes.

import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { posix } from 'node:path';

/** The first (only) preopen: the VFS root, WASI path `/`. */
export const ROOT_FD = 3;
/** uvwasi's own limit on symlinks followed in one lookup. */
const MAX_FOLLOWS = 32;
/** WASI errno values of the host errors a lookup can meet. */
const ERRNO = { EACCES: 2, EBADF: 8, ELOOP: 32, ENAMETOOLONG: 37, ENOENT: 44, ENOTDIR: 54 } as const;
export const ERRNO_NOTCAPABLE = 76;

/**
 * What the operation does with a symlink in the last component: `follows` it (open, stat,
 * utimes: the kernel follows it unless uvwasi already did) or acts on the `link` itself (unlink,
 * rename, link, readlink, mkdir, symlink).
 */
export type LastComponent = 'follows' | 'link';

function errnoOf(err: unknown): number {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return Object.prototype.hasOwnProperty.call(ERRNO, code) ? ERRNO[code as keyof typeof ERRNO] : ERRNO_NOTCAPABLE;
}

export class VfsPaths {
  private readonly root: string;
  /** Open descriptors → their WASI path (`/` for the preopen). */
  private readonly fds = new Map<number, string>([[ROOT_FD, '/']]);

  constructor(vfsRoot: string) {
    this.root = realpathSync.native(vfsRoot);
  }

  /**
   * The WASI path (fd, path) leads to as uvwasi resolves it, or the errno to answer instead when
   * that is outside the VFS or cannot be checked. `follow`: the call's SYMLINK_FOLLOW lookup flag.
   */
  resolve(fd: number, path: string, follow: boolean, last: LastComponent): { path: string } | { errno: number } {
    const base = this.fds.get(fd);
    if (base === undefined) return { errno: ERRNO.EBADF };
    let input = path;
    for (let hops = 0; ; hops++) {
      let wasiPath = posix.normalize(input.startsWith('/') ? input : `${base}/${input}`);
      // A trailing slash makes the kernel follow a symlink in the last component, even for lstat.
      const trailing = wasiPath.length > 1 && wasiPath.endsWith('/');
      if (trailing) wasiPath = wasiPath.replace(/\/+$/, '');
      if (wasiPath !== base && !wasiPath.startsWith(base === '/' ? '/' : `${base}/`))
        return { errno: ERRNO_NOTCAPABLE };
      // The root itself: it may be opened or looked at, never unlinked, renamed or replaced.
      if (wasiPath === '/') return last === 'follows' ? { path: '/' } : { errno: ERRNO_NOTCAPABLE };
      const host = this.root + wasiPath;
      let isLink: boolean;
      try {
        isLink = lstatSync(host, { throwIfNoEntry: false })?.isSymbolicLink() ?? false;
        if (follow && isLink) {
          if (hops >= MAX_FOLLOWS) return { errno: ERRNO.ELOOP };
          input = readlinkSync(host);
          continue;
        }
      } catch (err) {
        return { errno: errnoOf(err) };
      }
      const errno = this.inside(isLink && (last === 'follows' || trailing) ? host : posix.dirname(host));
      return errno === 0 ? { path: wasiPath } : { errno };
    }
  }

  /** 0 when the kernel resolves `host` to the VFS root or below it. */
  private inside(host: string): number {
    let real: string;
    try {
      real = realpathSync.native(host);
    } catch (err) {
      return errnoOf(err);
    }
    return real === this.root || real.startsWith(`${this.root}/`) ? 0 : ERRNO_NOTCAPABLE;
  }

  opened(fd: number, wasiPath: string): void {
    this.fds.set(fd, wasiPath);
  }

  closed(fd: number): void {
    this.fds.delete(fd);
  }

  renumbered(from: number, to: number): void {
    const path = this.fds.get(from);
    this.fds.delete(from);
    if (path !== undefined) this.fds.set(to, path);
  }

  /** Every descriptor the instance holds (the preopen included), forgotten as they are returned. */
  drain(): number[] {
    const all = [...this.fds.keys()];
    this.fds.clear();
    return all;
  }
}
