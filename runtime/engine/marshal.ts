// How strings cross into and out of each plugin kind, as upstream's standard loader does it:
// AssemblyScript plugins take config as a (ptr, len) byte block made with `__new` and deltas as
// AssemblyScript strings (UTF-16, length in the object header); Rust library plugins take every
// string as a (ptr, len) UTF-8 buffer from their `allocate` export and write results into one.

import type { GuestMemory } from '../abi/memory.js';

export type PluginKind = 'assemblyscript' | 'rust';

type WasmFunction = (...args: number[]) => number;

/** AssemblyScript runtime class ids (std/assembly/shared: 1 = ArrayBuffer, 2 = String). */
const AS_BUFFER_ID = 1;
const AS_STRING_ID = 2;
/** Output buffer upstream hands Rust plugins for strings they return and PUT responses. */
const RUST_OUT_MAX = 8192;
/** A PUT response: upstream's Rust buffer, and the same bytes of an AssemblyScript string. */
export const PUT_RESPONSE_MAX_BYTES = RUST_OUT_MAX;

const utf8 = new TextDecoder('utf-8');
const utf16 = new TextDecoder('utf-16le');
const encoder = new TextEncoder();

export function asFunction(exports: WebAssembly.Exports, name: string): WasmFunction | undefined {
  const f = exports[name];
  return typeof f === 'function' ? (f as WasmFunction) : undefined;
}

/** Plugin kind from the export names, as upstream decides it; a string is the reason it is neither. */
export function detectKind(exportNames: ReadonlySet<string>): PluginKind | { reason: string } {
  const has = (n: string): boolean => exportNames.has(n);
  // A `_start` module with the plugin exports is a library plugin whose `_start` runs once at load
  // (TinyGo); without them it is a WASI program, which runs only as a declared command plugin.
  if (!has('plugin_start')) {
    return has('_start')
      ? {
          reason:
            'a WASI command module (exports _start but no plugin_start): declare "signalkEdge": {"kind": "command"} in package.json to run it as a command plugin',
        }
      : { reason: 'not a Signal K plugin: no plugin_start export' };
  }
  if (!has('plugin_stop')) return { reason: 'not a Signal K plugin: no plugin_stop export' };
  if (has('allocate')) return 'rust';
  if (!has('plugin_name') && !has('plugin_id'))
    return { reason: 'not a Signal K plugin: exports neither plugin_name nor plugin_id' };
  if (!has('__new'))
    return { reason: 'AssemblyScript plugin without the runtime exports (__new): build it with --exportRuntime' };
  return 'assemblyscript';
}

export interface Marshal {
  readonly kind: PluginKind;
  /** Calls an export that returns a string (plugin_name, plugin_schema, plugin_id). */
  callReturningString(fn: WasmFunction): string;
  /**
   * Calls fn(ptr, len) with `text` as UTF-8 bytes (plugin_start) through `run`, which may return a
   * promise when the call pauses (./as-fetch.ts); the bytes stay in place until it settles.
   */
  callWithBytes(
    fn: WasmFunction,
    text: string,
    run?: (call: () => number) => number | Promise<number>,
  ): number | Promise<number>;
  /** Calls fn with `text` as the kind's string argument (delta_handler). */
  callWithString(fn: WasmFunction, text: string): void;
  /**
   * Calls a handler export (PUT, HTTP endpoint) with a request JSON and returns its response JSON:
   * AssemblyScript `(request: string, length) => string`, Rust `(ptr, len, out, outMax) => written`
   * (or `(out, outMax) => written` for a handler without a request).
   * A response over `maxBytes` (UTF-16 bytes for AssemblyScript) throws HostMarshalError.
   */
  callHandler(fn: WasmFunction, requestJson: string, maxBytes: number): string;
  /**
   * callHandler through `run`, which returns a promise when the call paused for a fetch
   * (AssemblyScript with as-fetch); the request stays in place until it settles.
   */
  callHandlerResumable(
    fn: WasmFunction,
    requestJson: string,
    maxBytes: number,
    run: (call: () => number) => number | Promise<number>,
  ): string | Promise<string>;
}

export class HostMarshalError extends Error {}

/**
 * The bytes of an AssemblyScript object (String, ArrayBuffer) at ptr: its size is the u32 in the
 * object header just before it. Throws when it lies outside memory or exceeds `max`.
 */
export function readAsObject(memory: GuestMemory, ptr: number, max = Number.MAX_SAFE_INTEGER): Uint8Array {
  const header = memory.view((ptr >>> 0) - 4, 4);
  if (!header) throw new HostMarshalError(`object pointer ${ptr >>> 0} is outside memory`);
  const size = new DataView(header.buffer, header.byteOffset, 4).getUint32(0, true);
  const body = memory.view(ptr, size, max);
  if (!body)
    throw new HostMarshalError(`object at ${ptr >>> 0} (${size} bytes) is outside memory or over ${max} bytes`);
  return body;
}

/** An AssemblyScript string (UTF-16) at ptr; '' for a null pointer. */
export function readAsString(memory: GuestMemory, ptr: number, max?: number): string {
  return ptr === 0 ? '' : utf16.decode(readAsObject(memory, ptr, max));
}

function assemblyScript(exports: WebAssembly.Exports, memory: GuestMemory): Marshal {
  const alloc = asFunction(exports, '__new')!;
  const pin = asFunction(exports, '__pin');
  const unpin = asFunction(exports, '__unpin');

  /** Allocates and pins (the incremental GC may run inside the call that receives the object). */
  const place = (bytes: Uint8Array, classId: number): number => {
    const ptr = alloc(bytes.length, classId) >>> 0;
    if (memory.write(ptr, bytes.length, bytes) < 0)
      throw new HostMarshalError(`__new returned an unusable block (${ptr})`);
    if (pin) pin(ptr);
    return ptr;
  };
  const release = (ptr: number): void => {
    if (unpin) unpin(ptr);
  };
  const readString = (ptr: number): string => readAsString(memory, ptr);
  /** An AssemblyScript string made with `__new` and encoded straight into memory (not pinned). */
  const newString = (text: string): number => {
    const ptr = alloc(text.length * 2, AS_STRING_ID) >>> 0;
    if (!memory.writeUtf16(ptr, text)) throw new HostMarshalError(`__new returned an unusable block (${ptr})`);
    return ptr;
  };
  /** newString, pinned: handler calls, which may pause for a fetch with the string unwound from the stack. */
  const placeString = (text: string): number => {
    const ptr = newString(text);
    if (pin) pin(ptr);
    return ptr;
  };
  const withString = <T>(text: string, body: (ptr: number) => T): T => {
    const ptr = placeString(text);
    try {
      return body(ptr);
    } finally {
      release(ptr);
    }
  };

  return {
    kind: 'assemblyscript',
    callReturningString: (fn) => readString(fn()),
    callWithBytes(fn, text, run = (call) => call()) {
      const bytes = encoder.encode(text);
      const ptr = place(bytes, AS_BUFFER_ID);
      return keepUntilSettled(
        () => run(() => fn(ptr, bytes.length)),
        () => release(ptr),
      );
    },
    // Once per delta and plugin: no closure, and no pin. The string is handed over at once, with
    // no allocation between `__new` and the call (so no collection step), and inside the call the
    // compiler's shadow stack roots the parameter: the AssemblyScript loader's contract, and what
    // upstream does (`__newString`, then `delta_handler`). Pinning cost two more crossings and
    // list moves in the collector per delivery.
    callWithString(fn, text) {
      fn(newString(text));
    },
    callHandler: (fn, requestJson, maxBytes) =>
      withString(requestJson, (ptr) => readAsString(memory, fn(ptr, requestJson.length), maxBytes)),
    callHandlerResumable(fn, requestJson, maxBytes, run) {
      const ptr = placeString(requestJson);
      const read = (result: number): string => readAsString(memory, result, maxBytes);
      const result = keepUntilSettled(
        () => run(() => fn(ptr, requestJson.length)),
        () => release(ptr),
      );
      return typeof result === 'number' ? read(result) : result.then(read);
    },
  };
}

function rust(exports: WebAssembly.Exports, memory: GuestMemory): Marshal {
  const allocate = asFunction(exports, 'allocate')!;
  const deallocate = asFunction(exports, 'deallocate');
  const reserve = (size: number): number => {
    const ptr = allocate(size) >>> 0;
    if (ptr === 0 || !memory.view(ptr, size))
      throw new HostMarshalError(`allocate(${size}) returned an unusable pointer (${ptr})`);
    return ptr;
  };
  const free = (ptr: number, size: number): void => {
    if (deallocate) deallocate(ptr, size);
  };
  const withBuffer = <T>(size: number, body: (ptr: number) => T): T => {
    const ptr = reserve(size);
    try {
      return body(ptr);
    } finally {
      free(ptr, size);
    }
  };
  const withBytes = <T>(text: string, body: (ptr: number, len: number) => T): T => {
    const bytes = encoder.encode(text);
    return withBuffer(Math.max(bytes.length, 1), (ptr) => {
      memory.write(ptr, bytes.length, bytes);
      return body(ptr, bytes.length);
    });
  };
  const readOut = (ptr: number, written: number, max = RUST_OUT_MAX): string => {
    if (written <= 0) return '';
    const v = memory.view(ptr, Math.min(written, max));
    return v ? utf8.decode(v) : '';
  };
  return {
    kind: 'rust',
    callReturningString: (fn) => withBuffer(RUST_OUT_MAX, (out) => readOut(out, fn(out, RUST_OUT_MAX))),
    callWithBytes(fn, text, run = (call) => call()) {
      const bytes = encoder.encode(text);
      const size = Math.max(bytes.length, 1);
      const ptr = reserve(size);
      memory.write(ptr, bytes.length, bytes);
      return keepUntilSettled(
        () => run(() => fn(ptr, bytes.length)),
        () => free(ptr, size),
      );
    },
    callWithString(fn, text) {
      withBytes(text, (ptr, len) => fn(ptr, len));
    },
    callHandler(fn, requestJson, maxBytes) {
      const answer = (call: (out: number) => number): string =>
        withBuffer(maxBytes, (out) => {
          const written = call(out);
          if (written > maxBytes)
            throw new HostMarshalError(`the response claims ${written} bytes, over the ${maxBytes}-byte buffer`);
          return readOut(out, written, maxBytes);
        });
      // A handler of two parameters takes no request, only the output buffer (upstream's radar_get_radars).
      if (fn.length === 2) return answer((out) => fn(out, maxBytes));
      return withBytes(requestJson, (ptr, len) => answer((out) => fn(ptr, len, out, maxBytes)));
    },
    // Rust plugins have no Asyncify: their handlers return at once.
    callHandlerResumable(fn, requestJson, maxBytes) {
      return this.callHandler(fn, requestJson, maxBytes);
    },
  };
}

/** Runs body; `release` once its result is known (after the promise settles when it returns one). */
function keepUntilSettled(body: () => number | Promise<number>, release: () => void): number | Promise<number> {
  let result: number | Promise<number>;
  try {
    result = body();
  } catch (err) {
    release();
    throw err;
  }
  if (typeof result === 'number') {
    release();
    return result;
  }
  return result.finally(release);
}

export function createMarshal(kind: PluginKind, exports: WebAssembly.Exports, memory: GuestMemory): Marshal {
  return kind === 'assemblyscript' ? assemblyScript(exports, memory) : rust(exports, memory);
}
