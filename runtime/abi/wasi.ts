// WASI preview1 for a plugin: node:wasi with the plugin's VFS folder as its only preopen (`/`),
// the environment upstream gives (PLUGIN_ID only), no arguments, stdout/stderr as rate-limited
// log lines (./wasi-output.ts), a bounded poll_oneoff sleep (./wasi-poll.ts), and proc_exit
// returning to the host instead of ending the process.
//
// Measured (test/unit/vfs.test.ts, test/integration/sandbox.test.ts): node:wasi (uvwasi) confines paths lexically:
// `../` stops at the VFS root, and a symlink it follows itself resolves inside the sandbox. The
// gaps closed here:
// - a symlink inside the VFS pointing outside (planted by someone else) is followed by the kernel
//   when it sits mid-path or the call does not ask uvwasi to follow: every path call is checked
//   first by VfsPaths (./wasi-paths.ts);
// - path_readlink hands the plugin the host path an outside-pointing link names;
// - path_symlink/path_link make links that, followed by a host process, leave the VFS (a symlink
//   target may only descend, so moving the link cannot make it climb out; a hard link is made of
//   what a symlink resolves to inside the sandbox, never of the symlink itself);
// - stdin/stdout/stderr were the runtime's own descriptors: fd_close(1) closed the runtime's
//   stdout, fd_read(0) could block the event loop on a terminal. They are /dev/null here, and
//   cannot be closed or renumbered (writes to 1 and 2 go to the log, not to the descriptor);
// - proc_raise signalled the runtime process itself (SIGKILL ended it): refused. poll_oneoff slept
//   on the event loop's thread for as long as asked, where the call guard cannot interrupt it: its
//   sleep is bounded (./wasi-poll.ts);
// - sock_accept on a stdio descriptor (/dev/null) crashed the whole process (node:wasi, Node 20:
//   segmentation fault; found by the fuzzer). A plugin has no WASI socket (its sockets are the
//   env sk_* functions), so every sock_* call is refused;
// - uvwasi never closes what an instance opened (its preopen included): close() does, or every
//   plugin restart leaks descriptors;
// - nothing bounded the disk a plugin fills: writes, preallocations and size changes pass the VFS
//   quota first (./vfs-quota.ts), and are refused with EDQUOT beyond it.

import { WASI } from 'node:wasi';
import { openSync } from 'node:fs';
import type { GuestMemory } from './memory.js';
import { ERRNO_NOTCAPABLE, VfsPaths, type LastComponent } from './wasi-paths.js';
import { VfsQuota } from './vfs-quota.js';
import type { WasiOutput } from './wasi-output.js';
import { createPollOneoff } from './wasi-poll.js';

const ERRNO_DQUOT = 19;
const ERRNO_OVERFLOW = 61;
const LOOKUP_SYMLINK_FOLLOW = 1;

type WasiFunction = (...args: number[]) => number;

export interface PluginWasi {
  /** The `wasi_snapshot_preview1` import object. */
  readonly imports: Record<string, unknown>;
  /**
   * Binds WASI to the instance's memory and runs its initialisation once: `_initialize` when
   * exported (Rust), or `_start` for a library plugin built as a WASI program (TinyGo and other
   * toolchains: `_start` initialises the runtime, then the plugin exports are used). Throws when
   * `_start` exits with a non-zero code.
   */
  initialize(instance: WebAssembly.Instance): void;
  /** Closes every descriptor the instance still holds (uvwasi leaves them open). */
  close(): void;
}

/** A path argument of a WASI call: argument indexes of its descriptor, lookup flags, pointer and length. */
interface PathArg {
  fd: number;
  /** Index of the lookup flags; absent: the call never follows a symlink itself. */
  flags?: number;
  /** Followed whatever the flags say (path_link's source, see below). */
  alwaysFollow?: true;
  ptr: number;
  len: number;
  last: LastComponent;
}

const PATH_CALLS: Record<string, PathArg[]> = {
  path_create_directory: [{ fd: 0, ptr: 1, len: 2, last: 'link' }],
  path_filestat_get: [{ fd: 0, flags: 1, ptr: 2, len: 3, last: 'follows' }],
  path_filestat_set_times: [{ fd: 0, flags: 1, ptr: 2, len: 3, last: 'follows' }],
  path_link: [
    { fd: 0, alwaysFollow: true, ptr: 2, len: 3, last: 'link' },
    { fd: 4, ptr: 5, len: 6, last: 'link' },
  ],
  path_open: [{ fd: 0, flags: 1, ptr: 2, len: 3, last: 'follows' }],
  path_readlink: [{ fd: 0, ptr: 1, len: 2, last: 'link' }],
  path_remove_directory: [{ fd: 0, ptr: 1, len: 2, last: 'link' }],
  path_rename: [
    { fd: 0, ptr: 1, len: 2, last: 'link' },
    { fd: 3, ptr: 4, len: 5, last: 'link' },
  ],
  path_symlink: [{ fd: 2, ptr: 3, len: 4, last: 'link' }],
  path_unlink_file: [{ fd: 0, ptr: 1, len: 2, last: 'link' }],
};

/** A symlink target that only descends: relative and without `..`, so it stays inside wherever the link is moved. */
function descendingTarget(target: string): boolean {
  return target !== '' && !target.startsWith('/') && !target.split('/').includes('..');
}

let devNull: number | undefined;
/** One /dev/null descriptor for every instance's stdio: never closed (plugins cannot close fds 0-2). */
function stdio(): number {
  devNull ??= openSync('/dev/null', 'r+');
  return devNull;
}

const isStdio = (fd: number): boolean => fd >= 0 && fd <= 2;

/** Bytes an iovec list (`{buf: u32, len: u32}` × n) carries; undefined when it lies outside memory. */
function iovecBytes(memory: GuestMemory, iovs: number, count: number): number | undefined {
  const v = memory.view(iovs, count * 8);
  if (!v) return undefined;
  const data = new DataView(v.buffer, v.byteOffset, v.byteLength);
  let total = 0;
  for (let i = 0; i < count; i++) total += data.getUint32(i * 8 + 4, true);
  return total;
}

export interface WasiOptions {
  /** The plugin's id, given as the environment variable PLUGIN_ID (as upstream does). */
  pluginId: string;
  /** Where the plugin's stdout and stderr go. */
  output: WasiOutput;
  /** Disk space the VFS may hold (limits.plugins.storageMB); unbounded when absent. */
  quotaBytes?: number;
}

export function createWasi(vfsRoot: string, memory: GuestMemory, opts: WasiOptions): PluginWasi {
  const nullFd = stdio();
  const wasi = new WASI({
    version: 'preview1',
    args: [],
    env: { PLUGIN_ID: opts.pluginId },
    preopens: { '/': vfsRoot },
    returnOnExit: true,
    stdin: nullFd,
    stdout: nullFd,
    stderr: nullFd,
  });
  const imports = {
    ...(wasi.getImportObject() as { wasi_snapshot_preview1: Record<string, unknown> }).wasi_snapshot_preview1,
  };
  const fn = (name: string): WasiFunction => imports[name] as WasiFunction;
  const readlink = fn('path_readlink');
  const symlink = fn('path_symlink');
  const link = fn('path_link');
  const open = fn('path_open');
  const fdClose = fn('fd_close');
  const fdWrite = fn('fd_write');
  const renumber = fn('fd_renumber');
  const vfs = new VfsPaths(vfsRoot);

  imports.path_readlink = (
    fd: number,
    pathPtr: number,
    pathLen: number,
    buf: number,
    bufLen: number,
    usedPtr: number,
  ): number => {
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
    if (target === undefined) return ERRNO_OVERFLOW;
    return descendingTarget(target) ? symlink(oldPtr, oldLen, fd, newPtr, newLen) : ERRNO_NOTCAPABLE;
  };
  // Never a hard link of a symlink (a copy of an outside-pointing link): of what it resolves to.
  imports.path_link = (oldFd: number, oldFlags: number, ...rest: number[]): number =>
    link(oldFd, oldFlags | LOOKUP_SYMLINK_FOLLOW, ...rest);
  let opened = '';
  imports.path_open = (...args: number[]): number => {
    const errno = open(...args);
    const out = errno === 0 ? memory.view(args[8]!, 4) : undefined;
    if (out) vfs.opened(new DataView(out.buffer, out.byteOffset, 4).getUint32(0, true), opened);
    return errno;
  };
  for (const [name, paths] of Object.entries(PATH_CALLS)) {
    const inner = fn(name);
    imports[name] = (...args: number[]): number => {
      for (const p of paths) {
        const path = memory.readString(args[p.ptr]!, args[p.len]!);
        if (path === undefined) return ERRNO_OVERFLOW;
        const follow =
          p.alwaysFollow === true || (p.flags !== undefined && (args[p.flags]! & LOOKUP_SYMLINK_FOLLOW) !== 0);
        const resolved = vfs.resolve(args[p.fd]!, path, follow, p.last);
        if ('errno' in resolved) return resolved.errno;
        opened = resolved.path; // path_open records it with the new descriptor
      }
      return inner(...args);
    };
  }
  imports.fd_close = (fd: number): number => {
    if (isStdio(fd)) return ERRNO_NOTCAPABLE;
    const errno = fdClose(fd);
    if (errno === 0) vfs.closed(fd);
    return errno;
  };
  imports.fd_renumber = (from: number, to: number): number => {
    if (isStdio(from) || isStdio(to)) return ERRNO_NOTCAPABLE;
    const errno = renumber(from, to);
    if (errno === 0) vfs.renumbered(from, to);
    return errno;
  };
  imports.proc_raise = (): number => ERRNO_NOTCAPABLE;
  for (const name of ['sock_accept', 'sock_recv', 'sock_send', 'sock_shutdown'])
    imports[name] = (): number => ERRNO_NOTCAPABLE;
  imports.poll_oneoff = createPollOneoff(memory);
  imports.fd_write = (fd: number, iovs: number, count: number, nwrittenPtr: number): number => {
    if (fd !== 1 && fd !== 2) return fdWrite(fd, iovs, count, nwrittenPtr);
    const list = memory.view(iovs, (count >>> 0) * 8);
    const nwritten = memory.view(nwrittenPtr, 4);
    if (!list || !nwritten) return ERRNO_OVERFLOW;
    const vecs = new DataView(list.buffer, list.byteOffset, list.byteLength);
    let total = 0;
    for (let i = 0; i < count >>> 0; i++) {
      const bytes = memory.view(vecs.getUint32(i * 8, true), vecs.getUint32(i * 8 + 4, true));
      if (!bytes) return ERRNO_OVERFLOW;
      opts.output.write(fd, bytes);
      total += bytes.length;
    }
    new DataView(nwritten.buffer, nwritten.byteOffset, 4).setUint32(0, total, true);
    return 0;
  };
  // After the stdout/stderr routing above, so the quota's checks wrap it.
  if (opts.quotaBytes !== undefined) {
    const quota = new VfsQuota(vfsRoot, opts.quotaBytes);
    const fdWriteOut = fn('fd_write');
    const fdPwrite = fn('fd_pwrite');
    const fdAllocate = fn('fd_allocate');
    const setSize = fn('fd_filestat_set_size');
    // stdout and stderr go to the log (rate limited), stdin is /dev/null: no disk either way.
    const fits = (fd: number, bytes: number | undefined): boolean =>
      isStdio(fd) || bytes === undefined || quota.admit(bytes);
    imports.fd_write = (fd: number, iovs: number, count: number, written: number): number =>
      fits(fd, iovecBytes(memory, iovs, count)) ? fdWriteOut(fd, iovs, count, written) : ERRNO_DQUOT;
    imports.fd_pwrite = (fd: number, iovs: number, count: number, offset: bigint, written: number): number =>
      fits(fd, iovecBytes(memory, iovs, count))
        ? (fdPwrite as unknown as (...a: unknown[]) => number)(fd, iovs, count, offset, written)
        : ERRNO_DQUOT;
    imports.fd_allocate = (fd: number, offset: bigint, len: bigint): number =>
      fits(fd, Number(len)) ? (fdAllocate as unknown as (...a: unknown[]) => number)(fd, offset, len) : ERRNO_DQUOT;
    imports.fd_filestat_set_size = (fd: number, size: bigint): number =>
      fits(fd, Number(size)) ? (setSize as unknown as (...a: unknown[]) => number)(fd, size) : ERRNO_DQUOT;
  }
  let bound = false;
  return {
    imports,
    initialize(instance) {
      bound = true;
      if (typeof instance.exports._start !== 'function') {
        wasi.initialize(instance);
        return;
      }
      // proc_exit returns here as the exit code (returnOnExit); returning from _start is 0.
      const code = wasi.start(instance);
      if (code !== 0) throw new Error(`_start exited with code ${code}`);
    },
    close() {
      // node:wasi serves no call before it has a memory: bind a throwaway one when instantiation failed.
      if (!bound)
        wasi.initialize({
          exports: { memory: new WebAssembly.Memory({ initial: 0 }) },
        } as unknown as WebAssembly.Instance);
      bound = true;
      for (const fd of vfs.drain()) fdClose(fd);
      opts.output.flush();
    },
  };
}
