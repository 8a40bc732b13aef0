// WASI preview1 for a plugin: node:wasi with the plugin's VFS folder as its only preopen (`/`),
// no environment variables, no arguments, and proc_exit returning to the host instead of ending
// the process.
//
// Measured (test/vfs.test.ts): node:wasi (uvwasi) already confines reads: `../` stops at the VFS
// root, absolute host paths get ENOTCAPABLE, a symlink placed inside that points outside resolves
// inside the sandbox (ENOENT). Two gaps remain and are closed here: path_readlink hands the
// plugin the host path an outside-pointing link names, and path_symlink lets the plugin create a
// link that, followed by a host process, leaves the VFS.

import { WASI } from 'node:wasi';
import { posix } from 'node:path';
import type { GuestMemory } from './memory.js';

const ERRNO_NOTCAPABLE = 76;
/** The first (only) preopen: the VFS root. */
const ROOT_FD = 3;

type WasiFunction = (...args: number[]) => number;

export interface PluginWasi {
  /** The `wasi_snapshot_preview1` import object. */
  readonly imports: Record<string, unknown>;
  /** Binds WASI to the instance's memory and runs `_initialize` when exported (library plugins). */
  initialize(instance: WebAssembly.Instance): void;
}

/** Whether a link target stays inside the root: relative, and (for links in the root fd) never above it. */
function targetStaysInside(target: string, linkPath: string, fd: number): boolean {
  if (target.startsWith('/')) return false;
  if (fd !== ROOT_FD) return !target.split('/').includes('..');
  // Relative join (no leading '/'), so a climb above the root shows as a leading '..'.
  const resolved = posix.normalize(posix.join(posix.dirname(linkPath.replace(/^\/+/, '')), target));
  return resolved !== '..' && !resolved.startsWith('../');
}

export function createWasi(vfsRoot: string, memory: GuestMemory): PluginWasi {
  const wasi = new WASI({ version: 'preview1', args: [], env: {}, preopens: { '/': vfsRoot }, returnOnExit: true });
  const imports = { ...(wasi.getImportObject() as { wasi_snapshot_preview1: Record<string, unknown> }).wasi_snapshot_preview1 };
  const readlink = imports.path_readlink as WasiFunction;
  const symlink = imports.path_symlink as WasiFunction;

  imports.path_readlink = (fd: number, pathPtr: number, pathLen: number, buf: number, bufLen: number, usedPtr: number): number => {
    const errno = readlink(fd, pathPtr, pathLen, buf, bufLen, usedPtr);
    if (errno !== 0) return errno;
    const used = memory.view(usedPtr, 4);
    const n = used ? new DataView(used.buffer, used.byteOffset, 4).getUint32(0, true) : 0;
    const target = memory.view(buf, Math.min(n, bufLen >>> 0));
    if (target && target[0] === 0x2f /* '/' */) {
      target.fill(0); // a host path: do not show it to the plugin
      return ERRNO_NOTCAPABLE;
    }
    return 0;
  };
  imports.path_symlink = (oldPtr: number, oldLen: number, fd: number, newPtr: number, newLen: number): number => {
    const target = memory.readString(oldPtr, oldLen);
    const link = memory.readString(newPtr, newLen);
    if (target === undefined || link === undefined || !targetStaysInside(target, link, fd)) return ERRNO_NOTCAPABLE;
    return symlink(oldPtr, oldLen, fd, newPtr, newLen);
  };
  return { imports, initialize: (instance) => wasi.initialize(instance) };
}
