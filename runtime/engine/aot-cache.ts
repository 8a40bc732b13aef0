// Content-addressed cache of prepared modules: a hit skips validation and preparation. Node 20
// cannot serialise compiled WebAssembly.Module code, so V8 still compiles the cached bytes on each
// start; this keeps what can be kept. An entry is a header (magic, payload length, sha256 of the
// payload) and the payload; one that fails the check is logged and rebuilt, never loaded.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../config/settings.js';
import { createLogger } from '../../core/log.js';
import { writeFileAtomic } from '../storage/atomic.js';
import { capPages, prepareModule, PREPARE_VERSION, type PrepareOptions } from './prepare.js';
import { validateModule } from './validate.js';

const log = createLogger('aot-cache');

const MAGIC = Buffer.from('SKEPREP1');
const HEADER_BYTES = MAGIC.length + 4 + 32;

export type CacheOutcome = 'hit' | 'miss' | 'rebuilt' | 'off';

export interface CachedPrepare {
  bytes: Uint8Array;
  /** hit: read from the cache; miss: prepared and stored; rebuilt: a bad entry replaced; off: no cache folder. */
  cache: CacheOutcome;
  /** Why a rebuilt entry was refused. */
  refused?: string;
  /** Why the prepared module could not be stored (it is still returned and usable). */
  writeError?: string;
}

let runtimeVersion: string | undefined;
function currentRuntimeVersion(): string {
  if (runtimeVersion === undefined) {
    try {
      const pkg: unknown = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8'));
      const v = typeof pkg === 'object' && pkg !== null ? (pkg as Record<string, unknown>).version : undefined;
      runtimeVersion = typeof v === 'string' ? v : 'unknown';
    } catch {
      runtimeVersion = 'unknown';
    }
  }
  return runtimeVersion;
}

/** The entry file for this input, runtime, preparation version and cap. */
export function cacheEntryPath(cacheDir: string, input: Uint8Array, opts: PrepareOptions): string {
  const key = createHash('sha256')
    .update(input)
    .update(
      `\0runtime ${currentRuntimeVersion()}\0prepare ${PREPARE_VERSION}\0cap ${capPages(opts.memoryLimitMB)}\0node ${process.versions.v8}`,
    )
    .digest('hex');
  return join(cacheDir, `${key}.prep`);
}

function encodeEntry(payload: Uint8Array): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(payload.length, MAGIC.length);
  createHash('sha256')
    .update(payload)
    .digest()
    .copy(header, MAGIC.length + 4);
  return Buffer.concat([header, payload]);
}

/** The payload of a sound entry, or why the entry is refused. */
function decodeEntry(entry: Buffer): { payload: Uint8Array } | { refused: string } {
  if (entry.length < HEADER_BYTES || !entry.subarray(0, MAGIC.length).equals(MAGIC)) return { refused: 'bad header' };
  const length = entry.readUInt32LE(MAGIC.length);
  const payload = entry.subarray(HEADER_BYTES);
  if (payload.length !== length) return { refused: `truncated (${payload.length} of ${length} payload bytes)` };
  const sum = createHash('sha256').update(payload).digest();
  if (!sum.equals(entry.subarray(MAGIC.length + 4, HEADER_BYTES))) return { refused: 'checksum mismatch' };
  return { payload };
}

function readEntry(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Validated and prepared module bytes for `input`, from the cache when a sound entry exists. */
export function prepareCached(
  id: string,
  input: Uint8Array,
  opts: PrepareOptions & { cacheDir?: string },
): CachedPrepare {
  const file = opts.cacheDir === undefined ? undefined : cacheEntryPath(opts.cacheDir, input, opts);
  let refused: string | undefined;
  const entry = file === undefined ? undefined : readEntry(file);
  if (entry) {
    const decoded = decodeEntry(entry);
    if ('payload' in decoded) return { bytes: decoded.payload, cache: 'hit' };
    refused = decoded.refused;
    log.warn(`plugin ${id}: cache entry ${file} refused (${refused}); rebuilding it`);
  }
  validateModule(id, input);
  const prepared = prepareModule(id, input, opts);
  if (file === undefined) return { bytes: prepared.bytes, cache: 'off' };
  const result: CachedPrepare =
    refused === undefined
      ? { bytes: prepared.bytes, cache: 'miss' }
      : { bytes: prepared.bytes, cache: 'rebuilt', refused };
  try {
    writeFileAtomic(file, encodeEntry(prepared.bytes));
  } catch (err) {
    result.writeError = `cannot write cache entry ${file}: ${(err as Error).message}`;
    log.warn(`plugin ${id}: ${result.writeError}`);
  }
  return result;
}
