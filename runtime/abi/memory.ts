// Bounds-checked access to a plugin's linear memory. Every (ptr, len) a plugin hands the host goes
// through here: out-of-range or negative values yield undefined / false, never a throw or a read
// outside the instance's memory.

/** Largest string the host accepts from a plugin in one call (a delta, a config, a log line). */
export const MAX_GUEST_STRING = 4 * 1024 * 1024;

const decoder = new TextDecoder('utf-8');
const encoder = new TextEncoder();

export class GuestMemory {
  private memory: WebAssembly.Memory | undefined;
  /** A Buffer over the current memory buffer, for encoding strings straight into it. */
  private bytes: Buffer | undefined;

  attach(memory: WebAssembly.Memory): void {
    this.memory = memory;
    this.bytes = undefined;
  }

  get attached(): boolean {
    return this.memory !== undefined;
  }

  /** The current buffer (re-read on every access: memory.grow detaches the old one). */
  private buffer(): ArrayBuffer | undefined {
    return this.memory?.buffer;
  }

  /** A view of [ptr, ptr+len) when it lies inside memory; i32 arguments are read as wasm32 unsigned. */
  view(ptr: number, len: number, max = Number.MAX_SAFE_INTEGER): Uint8Array | undefined {
    const buf = this.buffer();
    if (!buf || !Number.isInteger(ptr) || !Number.isInteger(len)) return undefined;
    const p = ptr >>> 0;
    const l = len >>> 0;
    if (l > max || p + l > buf.byteLength) return undefined;
    return new Uint8Array(buf, p, l);
  }

  /** UTF-8 text at (ptr, len), or undefined when out of bounds or larger than MAX_GUEST_STRING. */
  readString(ptr: number, len: number): string | undefined {
    const v = this.view(ptr, len, MAX_GUEST_STRING);
    return v === undefined ? undefined : decoder.decode(v);
  }

  /** A copy of the bytes at (ptr, len). */
  readBytes(ptr: number, len: number, max = MAX_GUEST_STRING): Uint8Array | undefined {
    const v = this.view(ptr, len, max);
    return v === undefined ? undefined : v.slice();
  }

  /**
   * Writes bytes into [ptr, ptr+max). Returns bytes written, or -1 when the target is out of
   * bounds or `bytes` does not fit in `max` (callers map -1 to the function's error code).
   */
  write(ptr: number, max: number, bytes: Uint8Array): number {
    const target = this.view(ptr, max);
    if (!target || bytes.length > target.length) return -1;
    target.set(bytes);
    return bytes.length;
  }

  /** Writes as many bytes as fit (upstream's recv calls truncate); -1 when the target is out of bounds. */
  writeTruncated(ptr: number, max: number, bytes: Uint8Array): number {
    const target = this.view(ptr, max);
    if (!target) return -1;
    const n = Math.min(bytes.length, target.length);
    target.set(bytes.subarray(0, n));
    return n;
  }

  /**
   * Writes `text` as UTF-16LE code units (an AssemblyScript string's body) at ptr, encoding straight
   * into memory without an intermediate copy; false when [ptr, ptr + 2 × length) is out of bounds.
   */
  writeUtf16(ptr: number, text: string): boolean {
    const p = ptr >>> 0;
    const size = text.length * 2;
    if (!Number.isInteger(ptr)) return false;
    // Once per delta and plugin: the Buffer is kept while it spans memory. memory.grow detaches the
    // old buffer (a view of it then has length 0); a shared memory's grows without detaching, so a
    // write past the end looks at the current buffer before it is refused.
    let bytes = this.bytes;
    if (bytes === undefined || p + size > bytes.length) {
      const buf = this.buffer();
      if (!buf || p + size > buf.byteLength) return false;
      bytes = this.bytes = Buffer.from(buf);
    }
    return bytes.write(text, p, size, 'utf16le') === size;
  }

  writeString(ptr: number, max: number, text: string): number {
    return this.write(ptr, max, encoder.encode(text));
  }

  /** Little-endian u32 at ptr; undefined when out of bounds. */
  readU32(ptr: number): number | undefined {
    const v = this.view(ptr, 4);
    return v ? new DataView(v.buffer, v.byteOffset, 4).getUint32(0, true) : undefined;
  }

  /** Little-endian u32 at ptr; false when out of bounds. */
  writeU32(ptr: number, value: number): boolean {
    const v = this.view(ptr, 4);
    if (!v) return false;
    new DataView(v.buffer, v.byteOffset, 4).setUint32(0, value >>> 0, true);
    return true;
  }

  /** Little-endian u16 at ptr; false when out of bounds. */
  writeU16(ptr: number, value: number): boolean {
    const v = this.view(ptr, 2);
    if (!v) return false;
    new DataView(v.buffer, v.byteOffset, 2).setUint16(0, value, true);
    return true;
  }
}
