// HTTP for AssemblyScript plugins through the `as-fetch` package's imports (module `as-fetch`), as
// signalk-server offers them to plugins with the `network` capability. A plugin calls
// `fetchSync(url, init)`; its module is built with the Asyncify transform, so the import can
// pause the plugin: it starts an unwind, the call into the plugin returns, the request runs on the
// event loop, and when the answer is there the host rewinds and calls the same export again with
// the same arguments, which resumes inside `fetchSync` with the response body.
//
// Bounds and grants (a plugin power needs both):
// - the plugin requests `network` (wasmCapabilities) and the operator grants it, and the URL's
//   host and port are granted as `net:<host>:<port>` (http: port 80, https: 443 by default);
// - http and https only; no redirects followed (./http-transport.ts); a request body and each
//   header at most FETCH_MAX_BYTES / MAX_HEADER_CHARS, at most MAX_HEADERS headers, none of those
//   the host sets (Host, Content-Length, ...); the answer at most FETCH_MAX_BYTES, within
//   FETCH_TIMEOUT_MS;
// - resumable only where the host re-enters: plugin_start (as upstream). A fetch from any other
//   call, or one refused, gives the plugin an empty body at once and a log line.
// The asynchronous variants (`_fetchGET`/`_fetchPOST` with a callback) are not served: upstream
// hands a JavaScript ArrayBuffer to a raw wasm export there, which no plugin can read; they log
// and never call back.

import type { HostServices } from '../engine/types.js';
import { readAsObject, readAsString } from '../engine/marshal.js';
import type { Logger } from '../../core/log.js';
import type { GuestMemory } from './memory.js';
import { FETCH_TIMEOUT_MS, type HttpRequest, type HttpTransport } from './http-transport.js';

export const AS_FETCH_MODULE = 'as-fetch';
export const FETCH_MAX_BYTES = 1024 * 1024;
export const MAX_HEADERS = 32;
export const MAX_HEADER_CHARS = 8192;
/** Room for the Asyncify stack of the paused call (locals of every frame between the export and the import). */
const ASYNCIFY_DATA_BYTES = 64 * 1024;
const MAX_URL_CHARS = 8192;
const HOST_SET_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection']);

const STATE_UNWINDING = 1;
const STATE_REWINDING = 2;
/** AssemblyScript class ids: 0 = Object (a raw block), 1 = ArrayBuffer. */
const AS_BLOCK_ID = 0;
const AS_BUFFER_ID = 1;

type WasmFunction = (...args: number[]) => number;

interface AsyncifyExports {
  get_state: () => number;
  start_unwind: (data: number) => void;
  stop_unwind: () => void;
  start_rewind: (data: number) => void;
  stop_rewind: () => void;
  pin: (ptr: number) => void;
}

export interface AsFetchOptions {
  host: HostServices;
  memory: GuestMemory;
  transport: HttpTransport;
  log: Logger;
}

/** Runs one re-entry of a paused call, bounded like any call into the plugin. */
export type Reenter = (fn: () => number) => number;

export interface AsFetch {
  /** The `as-fetch` import object. */
  readonly functions: Record<string, (...args: number[]) => number | void>;
  /** Binds to the instance's exports (Asyncify and AssemblyScript runtime). */
  bind(exports: WebAssembly.Exports): void;
  /**
   * Calls `fn` (an export that may fetch). Its result, or when it paused for a fetch a promise of
   * the result it returns once resumed (possibly after several fetches); each resumption runs
   * through `reenter`. Rejects when a resumption throws or the instance is closed meanwhile.
   */
  resumable(fn: () => number, reenter: Reenter): number | Promise<number>;
  close(): void;
}

class FetchRefused extends Error {}

function asFunction(exports: WebAssembly.Exports, name: string): WasmFunction | undefined {
  const f = exports[name];
  return typeof f === 'function' ? (f as WasmFunction) : undefined;
}

export function createAsFetch(opts: AsFetchOptions): AsFetch {
  const { host, memory, log } = opts;
  const id = host.pluginId;
  /** The module's Asyncify exports (and __pin): absent when it was built without as-fetch's transform. */
  let wasm: AsyncifyExports | undefined;
  /** AssemblyScript's __new, for the ArrayBuffers handed to the plugin. */
  let alloc: ((size: number, classId: number) => number) | undefined;
  /** Asyncify's data structure (start, end of its stack), at the address the plugin gave. */
  let frame = 0;
  /** Set while a resumable call runs: a fetch may pause it. */
  let resumableCall = false;
  /** The answer waiting for the rewind, and what continues the paused call once it is placed. */
  let answer: Uint8Array | undefined;
  let paused: { resume: () => void; reject: (err: Error) => void } | undefined;
  let closed = false;

  const refuse = (why: string): void => log.limited('warn', 'as-fetch', `fetch refused: ${why}`);

  /** A fresh ArrayBuffer in the plugin's heap holding `bytes`. */
  const place = (bytes: Uint8Array): number => {
    if (!alloc) return 0;
    const ptr = alloc(bytes.length, AS_BUFFER_ID) >>> 0;
    if (bytes.length > 0 && memory.write(ptr, bytes.length, bytes) < 0) return 0;
    return ptr;
  };

  const readHeaders = (ptr: number): [string, string][] => {
    if (ptr === 0) return [];
    // Array<Array<string>>: buffer, dataStart, byteLength, length (u32 each); elements are pointers.
    const dataStart = memory.readU32(ptr + 4);
    const length = memory.readU32(ptr + 12);
    if (dataStart === undefined || length === undefined) throw new FetchRefused('headers outside memory');
    if (length > MAX_HEADERS) throw new FetchRefused(`${length} headers (at most ${MAX_HEADERS})`);
    const out: [string, string][] = [];
    for (let i = 0; i < length; i++) {
      const pair = memory.readU32(dataStart + 4 * i);
      const pairStart = pair === undefined ? undefined : memory.readU32(pair + 4);
      const pairLength = pair === undefined ? undefined : memory.readU32(pair + 12);
      if (pairStart === undefined || pairLength === undefined || pairLength < 2)
        throw new FetchRefused(`header ${i} is not a [name, value] pair`);
      const [name, value] = [0, 1].map((k) =>
        readAsString(memory, memory.readU32(pairStart + 4 * k) ?? 0, MAX_HEADER_CHARS * 2),
      );
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name!) || /[\r\n\0]/.test(value!))
        throw new FetchRefused(`header ${JSON.stringify(name)} is not a valid HTTP header`);
      // The host sets these: a Host of its own would reach another virtual host behind the granted address.
      if (HOST_SET_HEADERS.has(name!.toLowerCase())) throw new FetchRefused(`header ${name} is set by the host`);
      out.push([name!, value!]);
    }
    return out;
  };

  const request = (method: 'GET' | 'POST', urlPtr: number, headersPtr: number, bodyPtr: number): HttpRequest => {
    const text = readAsString(memory, urlPtr, MAX_URL_CHARS * 2);
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new FetchRefused(`not a URL: ${JSON.stringify(text.slice(0, 200))}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new FetchRefused(`${url.protocol} URLs are not fetched (http and https only)`);
    if (!host.hasCapability('network')) throw new FetchRefused('the network capability is not requested and granted');
    const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    if (!host.allowsNet(hostname, port))
      throw new FetchRefused(
        `${hostname}:${port} is not granted (grant it with: signalk-edge grant ${id} net:${hostname}:${port})`,
      );
    const headers = readHeaders(headersPtr);
    const body =
      method === 'POST' && bodyPtr !== 0 ? readAsObject(memory, bodyPtr, FETCH_MAX_BYTES).slice() : undefined;
    return { url, method, headers, ...(body ? { body } : {}), timeoutMs: FETCH_TIMEOUT_MS, maxBytes: FETCH_MAX_BYTES };
  };

  const fetchSync = (method: 'GET' | 'POST', urlPtr: number, headersPtr: number, bodyPtr: number): number => {
    if (!wasm) {
      refuse('the module was not built with the as-fetch Asyncify transform (no asyncify_* exports)');
      return place(new Uint8Array(0));
    }
    if (wasm.get_state() === STATE_REWINDING) {
      // Resuming the paused call: the answer is the import's result.
      wasm.stop_rewind();
      const bytes = answer ?? new Uint8Array(0);
      answer = undefined;
      return place(bytes);
    }
    let req: HttpRequest;
    try {
      if (!resumableCall)
        throw new FetchRefused(
          'a fetch can pause plugin_start and weather provider handlers only (the host resumes nothing else)',
        );
      if (frame === 0) throw new FetchRefused('Asyncify is not initialised (_initAsyncify not called)');
      req = request(method, urlPtr >>> 0, headersPtr >>> 0, bodyPtr >>> 0);
    } catch (err) {
      refuse((err as Error).message);
      return place(new Uint8Array(0));
    }
    wasm.start_unwind(frame);
    log.debug(`fetch ${method} ${req.url.href}`);
    // The transport bounds the exchange itself; this deadline holds even for one that never settles
    // (an injected one), so a paused plugin is always resumed.
    let deadline: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      deadline = setTimeout(() => reject(new Error(`no answer within ${req.timeoutMs} ms`)), req.timeoutMs);
    });
    Promise.race([opts.transport(req), timedOut])
      .finally(() => clearTimeout(deadline))
      .then(
        (res) => {
          if (res.status < 200 || res.status > 299)
            log.limited('info', 'as-fetch:status', `fetch ${method} ${req.url.href}: HTTP ${res.status}`);
          return res.body;
        },
        (err: unknown) => {
          log.limited(
            'warn',
            'as-fetch:failed',
            `fetch ${method} ${req.url.href} failed: ${(err as Error).message}; the plugin gets an empty body`,
          );
          return new Uint8Array(0);
        },
      )
      .then(
        (body) => {
          if (closed || !wasm || !paused) return;
          answer = body;
          wasm.start_rewind(frame);
          paused.resume();
        },
        (err: unknown) => paused?.reject(err as Error),
      );
    return 0;
  };

  return {
    functions: {
      _initAsyncify(framePtr: number) {
        if (!wasm || !alloc || frame !== 0) return;
        // as-fetch points Asyncify's stack at the plugin's static data up to its stack pointer,
        // which can overwrite data; the host gives it a block of its own instead, pinned for good.
        const data = alloc(ASYNCIFY_DATA_BYTES, AS_BLOCK_ID) >>> 0;
        wasm.pin(data);
        if (!memory.writeU32(framePtr, data) || !memory.writeU32((framePtr >>> 0) + 4, data + ASYNCIFY_DATA_BYTES)) {
          refuse(`_initAsyncify got a frame pointer outside memory (${framePtr >>> 0})`);
          return;
        }
        frame = framePtr >>> 0;
      },
      _fetchGETSync: (url, _mode, headers) => fetchSync('GET', url, headers, 0),
      _fetchPOSTSync: (url, _mode, headers, body) => fetchSync('POST', url, headers, body),
      _fetchGET() {
        refuse('the callback variant (fetch().then) is not served; use fetchSync from as-fetch/sync');
      },
      _fetchPOST() {
        refuse('the callback variant (fetch().then) is not served; use fetchSync from as-fetch/sync');
      },
    },

    bind(exports) {
      const f = (name: string) => asFunction(exports, name);
      const [get_state, start_unwind, stop_unwind, start_rewind, stop_rewind, pin] = [
        'asyncify_get_state',
        'asyncify_start_unwind',
        'asyncify_stop_unwind',
        'asyncify_start_rewind',
        'asyncify_stop_rewind',
        '__pin',
      ].map(f);
      alloc = f('__new');
      if (get_state && start_unwind && stop_unwind && start_rewind && stop_rewind && pin && alloc) {
        wasm = { get_state, start_unwind, stop_unwind, start_rewind, stop_rewind, pin };
      }
    },

    resumable(fn, reenter) {
      const run = (): number => {
        resumableCall = true;
        try {
          return fn();
        } finally {
          resumableCall = false;
        }
      };
      const rc = run();
      if (!wasm || wasm.get_state() !== STATE_UNWINDING) return rc;
      wasm.stop_unwind();
      return new Promise<number>((resolve, reject) => {
        paused = {
          resume() {
            try {
              const result = reenter(run);
              if (wasm && wasm.get_state() === STATE_UNWINDING) {
                wasm.stop_unwind(); // paused again, at the next fetch
                return;
              }
              paused = undefined;
              resolve(result);
            } catch (err) {
              paused = undefined;
              reject(err as Error);
            }
          },
          reject(err) {
            paused = undefined;
            reject(err);
          },
        };
      });
    },

    close() {
      closed = true;
      paused?.reject(new Error('the plugin was closed while a fetch was pending'));
    },
  };
}
