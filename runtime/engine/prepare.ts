// Second load step, between validation and compilation: bounds the module's linear memory. Every
// memory the module defines or imports gets a maximum of min(declared maximum, cap), also when it
// declares none, so `memory.grow` past the plugin's budget returns -1 inside the plugin (an
// AssemblyScript plugin then aborts → trap → the manager's crash recovery) instead of growing the
// host. The result is cached by runtime/engine/aot-cache.ts.

import { PluginLoadError } from './errors.js';

/** Bumped whenever the bytes prepareModule produces change for the same input. */
export const PREPARE_VERSION = 1;
export const DEFAULT_MEMORY_LIMIT_MB = 64;

const PAGE_BYTES = 65536;
const SECTION_IMPORT = 2;
const SECTION_MEMORY = 5;
const IMPORT_MEMORY = 2;

export interface PrepareOptions {
  /** Per-plugin linear memory budget in MiB. */
  memoryLimitMB: number;
}

export interface PreparedModule {
  readonly bytes: Uint8Array;
}

/** The cap in 64 KiB pages (a whole number, at least one page). */
export function capPages(memoryLimitMB: number): number {
  return Math.max(1, Math.floor((memoryLimitMB * 1024 * 1024) / PAGE_BYTES));
}

function readU32(bytes: Uint8Array, at: number): { value: number; next: number } {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    const b = bytes[at + i];
    if (b === undefined) throw new Error(`LEB128 cut off at byte ${at}`);
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return { value, next: at + i + 1 };
  }
  throw new Error(`LEB128 too long at byte ${at}`);
}

function u32(value: number): number[] {
  const out: number[] = [];
  do {
    let b = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) b |= 0x80;
    out.push(b);
  } while (value > 0);
  return out;
}

/** Re-encodes the memory limits at `at` with the cap applied; returns the new bytes and where the old ones end. */
function capLimits(id: string, bytes: Uint8Array, at: number, cap: number): { encoded: number[]; next: number } {
  const flags = bytes[at]!;
  if (flags & 0x04) throw new PluginLoadError(id, 'a 64-bit memory (memory64) is not supported');
  const min = readU32(bytes, at + 1);
  let next = min.next;
  let max: number | undefined;
  if (flags & 0x01) {
    const m = readU32(bytes, next);
    max = m.value;
    next = m.next;
  }
  if (min.value > cap) {
    throw new PluginLoadError(id, `needs ${min.value / 16} MB of initial memory, over its ${cap / 16} MB cap`);
  }
  const bounded = Math.min(max ?? cap, cap);
  return { encoded: [flags | 0x01, ...u32(min.value), ...u32(bounded)], next };
}

/** Skips one import's descriptor (everything but memories, which capLimits rewrites). */
function skipImportDesc(bytes: Uint8Array, kind: number, at: number): number {
  switch (kind) {
    case 0: // function: type index
      return readU32(bytes, at).next;
    case 1: {
      // table: reftype, limits
      const flags = bytes[at + 1]!;
      const min = readU32(bytes, at + 2);
      return flags & 0x01 ? readU32(bytes, min.next).next : min.next;
    }
    case 3: // global: valtype, mutability
      return at + 2;
    case 4: // tag: attribute, type index
      return readU32(bytes, at + 1).next;
    default:
      throw new Error(`unknown import kind ${kind}`);
  }
}

function skipName(bytes: Uint8Array, at: number): number {
  const len = readU32(bytes, at);
  return len.next + len.value;
}

/** Rewrites a memory or import section body; unchanged entries are copied byte for byte. */
function capSection(id: string, sectionId: number, body: Uint8Array, cap: number): number[] {
  const count = readU32(body, 0);
  const out = [...body.subarray(0, count.next)];
  let at = count.next;
  for (let i = 0; i < count.value; i++) {
    if (sectionId === SECTION_MEMORY) {
      const limits = capLimits(id, body, at, cap);
      out.push(...limits.encoded);
      at = limits.next;
      continue;
    }
    const kindAt = skipName(body, skipName(body, at));
    const kind = body[kindAt]!;
    if (kind === IMPORT_MEMORY) {
      out.push(...body.subarray(at, kindAt + 1));
      const limits = capLimits(id, body, kindAt + 1, cap);
      out.push(...limits.encoded);
      at = limits.next;
    } else {
      const end = skipImportDesc(body, kind, kindAt + 1);
      out.push(...body.subarray(at, end));
      at = end;
    }
  }
  out.push(...body.subarray(at));
  return out;
}

/** The module with every linear memory bounded by the cap. Expects a module validateModule accepted. */
export function prepareModule(id: string, bytes: Uint8Array, opts: PrepareOptions): PreparedModule {
  const cap = capPages(opts.memoryLimitMB);
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  let at = 8;
  try {
    while (at < bytes.length) {
      const sectionId = bytes[at]!;
      const size = readU32(bytes, at + 1);
      const end = size.next + size.value;
      if (sectionId === SECTION_MEMORY || sectionId === SECTION_IMPORT) {
        const body = capSection(id, sectionId, bytes.subarray(size.next, end), cap);
        parts.push(Uint8Array.from([sectionId, ...u32(body.length), ...body]));
      } else {
        parts.push(bytes.subarray(at, end));
      }
      at = end;
    }
  } catch (err) {
    if (err instanceof PluginLoadError) throw err;
    throw new PluginLoadError(id, `cannot prepare module: ${(err as Error).message}`);
  }
  return { bytes: Buffer.concat(parts) };
}
