// Whole-file read and write in the plugin's VFS through WASI preview1. The VFS root is the first
// preopen (fd 3); paths are relative to it ("data/state.json" is /data/state.json).

@external("wasi_snapshot_preview1", "path_open")
declare function path_open(fd: i32, dirflags: i32, path: usize, pathLen: usize, oflags: i32, rightsBase: u64, rightsInheriting: u64, fdflags: i32, fdOut: usize): i32
@external("wasi_snapshot_preview1", "fd_read")
declare function fd_read(fd: i32, iovs: usize, iovsLen: usize, nread: usize): i32
@external("wasi_snapshot_preview1", "fd_write")
declare function fd_write(fd: i32, iovs: usize, iovsLen: usize, nwritten: usize): i32
@external("wasi_snapshot_preview1", "fd_close")
declare function fd_close(fd: i32): i32

const ROOT_FD: i32 = 3
const O_CREAT: i32 = 1
const O_TRUNC: i32 = 8
const RIGHT_FD_READ: u64 = 2
const RIGHT_FD_WRITE: u64 = 64

function open(path: string, oflags: i32, rights: u64): i32 {
  const p = String.UTF8.encode(path)
  const fdOut = new ArrayBuffer(4)
  const errno = path_open(ROOT_FD, 0, changetype<usize>(p), p.byteLength, oflags, rights, 0, 0, changetype<usize>(fdOut))
  return errno == 0 ? load<i32>(changetype<usize>(fdOut)) : -errno
}

/** The file's text, or null when it cannot be opened. */
export function readText(path: string): string | null {
  const fd = open(path, 0, RIGHT_FD_READ)
  if (fd < 0) return null
  const chunk = new ArrayBuffer(4096)
  const iov = new ArrayBuffer(8)
  const nread = new ArrayBuffer(4)
  let text = ''
  while (true) {
    store<u32>(changetype<usize>(iov), <u32>changetype<usize>(chunk))
    store<u32>(changetype<usize>(iov) + 4, 4096)
    if (fd_read(fd, changetype<usize>(iov), 1, changetype<usize>(nread)) != 0) break
    const n = load<u32>(changetype<usize>(nread))
    if (n == 0) break
    text += String.UTF8.decodeUnsafe(changetype<usize>(chunk), n)
  }
  fd_close(fd)
  return text
}

/** Replaces the file's content; returns the WASI errno (0 = ok). */
export function writeText(path: string, text: string): i32 {
  const fd = open(path, O_CREAT | O_TRUNC, RIGHT_FD_WRITE)
  if (fd < 0) return -fd
  const data = String.UTF8.encode(text)
  const iov = new ArrayBuffer(8)
  const written = new ArrayBuffer(4)
  let offset: u32 = 0
  let errno: i32 = 0
  while (offset < <u32>data.byteLength) {
    store<u32>(changetype<usize>(iov), <u32>changetype<usize>(data) + offset)
    store<u32>(changetype<usize>(iov) + 4, <u32>data.byteLength - offset)
    errno = fd_write(fd, changetype<usize>(iov), 1, changetype<usize>(written))
    if (errno != 0) break
    offset += load<u32>(changetype<usize>(written))
  }
  fd_close(fd)
  return errno
}
