// The engine's entry point: turns a plugin .wasm into a PluginInstance.
// validate + prepare (memory cap; cached by content hash) → compile → check imports → instantiate (env ABI + WASI) → initialize.

import { readFile } from 'node:fs/promises';
import type { JsonValue } from '../../core/json.js';
import type { PutResult } from '../api/types.js';
import { createEnvImports } from '../abi/env.js';
import { createDeviceImports, DEVICE_MODULE, type DeviceHost, type DeviceImports } from '../abi/devices/index.js';
import { GuestMemory } from '../abi/memory.js';
import { createWasi, type PluginWasi } from '../abi/wasi.js';
import { createWasiOutput } from '../abi/wasi-output.js';
import { AS_FETCH_MODULE, createAsFetch, type AsFetch } from '../abi/as-fetch.js';
import { nodeHttpTransport, type HttpTransport } from '../abi/http-transport.js';
import { createLogger } from '../../core/log.js';
import { PluginLoadError } from './errors.js';
import {
  asFunction,
  createMarshal,
  detectKind,
  PUT_RESPONSE_MAX_BYTES,
  type Marshal,
  type PluginKind,
} from './marshal.js';
import { prepareCached } from './aot-cache.js';
import { DEFAULT_MEMORY_LIMIT_MB } from './prepare.js';
import type { HostServices, PluginInstance } from './types.js';
import { checkImports } from './validate.js';

export { PluginLoadError } from './errors.js';
export type { HostServices, PluginInstance } from './types.js';

const log = createLogger('engine');

export interface LoadOptions {
  id: string;
  wasmPath: string;
  /** Host folder mapped to the plugin's WASI `/` (see runtime/storage/plugin-storage.ts). */
  vfsRoot: string;
  host: HostServices;
  /** Linear memory cap in MiB (default DEFAULT_MEMORY_LIMIT_MB), applied whatever the module declares. */
  memoryLimitMB?: number;
  /** AOT cache folder; no caching when absent. */
  cacheDir?: string;
  /** Hardware access under grants; without it the module gets no `signalk_hal` functions. */
  hal?: DeviceHost;
  /**
   * Bounds plugin code the caller does not call itself: what runs while loading (start function,
   * `_initialize`/`_start`, plugin_name/id/schema) and plugin_start resuming after a fetch.
   */
  guard?: <T>(fn: () => T, what: string) => T;
  /** Disk space the plugin's VFS may hold (limits.plugins.storageMB); unbounded when absent. */
  storageQuotaBytes?: number;
  /** HTTP client of plugin fetches (as-fetch); node:http/https when absent. */
  httpTransport?: HttpTransport;
}

/** Name of the export upstream calls for a PUT on (context, path). */
export function putHandlerExportName(context: string, path: string): string {
  return `handle_put_${context.replace(/\./g, '_')}_${path.replace(/\./g, '_')}`;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function loadPlugin(opts: LoadOptions): Promise<PluginInstance> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(opts.wasmPath);
  } catch (err) {
    throw new PluginLoadError(opts.id, `cannot read ${opts.wasmPath}: ${message(err)}`);
  }
  return loadPluginBytes({ ...opts, bytes });
}

export async function loadPluginBytes(
  opts: Omit<LoadOptions, 'wasmPath'> & { bytes: Uint8Array },
): Promise<PluginInstance> {
  const { id, host } = opts;
  const prepared = prepareCached(id, opts.bytes, {
    memoryLimitMB: opts.memoryLimitMB ?? DEFAULT_MEMORY_LIMIT_MB,
    cacheDir: opts.cacheDir,
  });
  log.debug(`plugin ${id}: prepared module (cache ${prepared.cache})`);
  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(prepared.bytes);
  } catch (err) {
    throw new PluginLoadError(id, `compile failed: ${message(err)}`);
  }
  const kind = detectKind(new Set(WebAssembly.Module.exports(module).map((e) => e.name)));
  if (typeof kind !== 'string') throw new PluginLoadError(id, kind.reason);

  const memory = new GuestMemory();
  const pluginLog = createLogger(`plugin ${id}`);
  const env = createEnvImports(host, memory);
  const asFetch = createAsFetch({ host, memory, transport: opts.httpTransport ?? nodeHttpTransport, log: pluginLog });
  const hal = opts.hal ? createDeviceImports(opts.hal, memory) : undefined;
  let wasi: PluginWasi | undefined;
  const release = (): void => {
    env.close();
    asFetch.close();
    wasi?.close();
    hal?.close().catch((err: unknown) => log.warn(`plugin ${id}: closing HAL handles failed: ${message(err)}`));
  };
  try {
    wasi = createWasi(opts.vfsRoot, memory, {
      pluginId: id,
      output: createWasiOutput(pluginLog),
      quotaBytes: opts.storageQuotaBytes,
    });
    const imports: Record<string, Record<string, unknown>> = {
      env: env.functions,
      wasi_snapshot_preview1: wasi.imports,
      [AS_FETCH_MODULE]: asFetch.functions,
    };
    if (hal) imports[DEVICE_MODULE] = hal.functions;
    checkImports(id, module, imports);
    const wasiLayer = wasi;
    // Plugin code runs from here on (start function, _initialize, the name/schema exports):
    // synchronously, so that a loop in it is stopped by the guard like any other call.
    const start = (): LibraryPlugin => {
      let instance: WebAssembly.Instance;
      try {
        instance = new WebAssembly.Instance(module, imports as WebAssembly.Imports);
      } catch (err) {
        throw new PluginLoadError(id, `instantiation failed: ${message(err)}`);
      }
      const mem = instance.exports.memory;
      if (!(mem instanceof WebAssembly.Memory))
        throw new PluginLoadError(id, 'the module exports no memory named "memory"');
      memory.attach(mem);
      asFetch.bind(instance.exports);
      try {
        wasiLayer.initialize(instance);
      } catch (err) {
        throw new PluginLoadError(id, `initialization (_initialize or _start) failed: ${message(err)}`);
      }
      const reenter = (fn: () => number): number =>
        opts.guard ? opts.guard(fn, 'a call resumed after a fetch') : fn();
      return new LibraryPlugin(
        id,
        kind,
        instance.exports,
        createMarshal(kind, instance.exports, memory),
        hal,
        { asFetch, reenter },
        release,
      );
    };
    return opts.guard ? opts.guard(start, 'loading the module') : start();
  } catch (err) {
    release();
    throw err;
  }
}

/** A library plugin (upstream `env` ABI) behind the PluginInstance contract. */
class LibraryPlugin implements PluginInstance {
  readonly name: string;
  readonly schema: JsonValue | undefined;
  readonly exportedId: string | undefined;
  readonly hasDeltaHandler: boolean;
  readonly hasPoll: boolean;
  readonly hasHalData: boolean;
  readonly httpEndpoints: string | undefined;
  private closed = false;
  /** Looked up once: it is called for every delta. */
  private readonly deltaHandler: ((...args: number[]) => number) | undefined;

  constructor(
    readonly id: string,
    readonly kind: PluginKind,
    private readonly exports: WebAssembly.Exports,
    private readonly marshal: Marshal,
    readonly hal: DeviceImports | undefined,
    private readonly fetch: { asFetch: AsFetch; reenter: (fn: () => number) => number },
    private readonly releaseImports: () => void,
  ) {
    this.exportedId = this.optionalString('plugin_id');
    this.name = this.optionalString('plugin_name') || this.exportedId || id;
    this.schema = this.parseSchema();
    this.deltaHandler = asFunction(exports, 'delta_handler');
    this.hasDeltaHandler = this.deltaHandler !== undefined;
    this.hasPoll = asFunction(exports, 'poll') !== undefined;
    this.hasHalData = asFunction(exports, 'hal_data') !== undefined;
    this.httpEndpoints = this.optionalString('http_endpoints');
  }

  hasExport(name: string): boolean {
    return asFunction(this.exports, name) !== undefined;
  }

  private optionalString(name: string): string | undefined {
    const fn = asFunction(this.exports, name);
    if (!fn) return undefined;
    try {
      return this.marshal.callReturningString(fn);
    } catch (err) {
      throw new PluginLoadError(this.id, `${name}() failed: ${message(err)}`);
    }
  }

  private parseSchema(): JsonValue | undefined {
    const text = this.optionalString('plugin_schema');
    if (text === undefined || text.trim() === '') return undefined;
    try {
      return JSON.parse(text) as JsonValue;
    } catch (err) {
      log.warn(`plugin ${this.id}: plugin_schema() is not JSON (${message(err)}); no schema`);
      return undefined;
    }
  }

  private fn(name: string): (...args: number[]) => number {
    if (this.closed) throw new Error(`plugin ${this.id} is closed`);
    const f = asFunction(this.exports, name);
    if (!f) throw new Error(`plugin ${this.id} does not export ${name}`);
    return f;
  }

  /** A promise when plugin_start paused for a fetch (see runtime/abi/as-fetch.ts). */
  start(configJson: string): number | Promise<number> {
    const { asFetch, reenter } = this.fetch;
    return this.marshal.callWithBytes(this.fn('plugin_start'), configJson, (call) => asFetch.resumable(call, reenter));
  }

  stop(): number {
    return this.fn('plugin_stop')();
  }

  deliverDelta(json: string): void {
    if (this.deltaHandler === undefined) return;
    if (this.closed) throw new Error(`plugin ${this.id} is closed`);
    this.marshal.callWithString(this.deltaHandler, json);
  }

  poll(): number {
    return this.hasPoll ? this.fn('poll')() : 0;
  }

  halData(): void {
    if (this.hasHalData) this.fn('hal_data')();
  }

  handlePut(context: string, path: string, valueJson: string): PutResult {
    const name = putHandlerExportName(context, path);
    const handler = asFunction(this.exports, name);
    if (!handler) return { state: 'COMPLETED', statusCode: 501, message: `handler not implemented (${name})` };
    const response = this.marshal.callHandler(this.fn(name), valueJson, PUT_RESPONSE_MAX_BYTES);
    return parsePutResponse(response);
  }

  callHandler(handler: string, requestJson: string, maxBytes: number): string {
    return this.marshal.callHandler(this.fn(handler), requestJson, maxBytes);
  }

  callResumable(handler: string, requestJson: string, maxBytes: number): string | Promise<string> {
    const { asFetch, reenter } = this.fetch;
    return this.marshal.callHandlerResumable(this.fn(handler), requestJson, maxBytes, (call) =>
      asFetch.resumable(call, reenter),
    );
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.releaseImports();
  }
}

/** The plugin's PUT response JSON as a PutResult; anything unusable is a 500 FAILED. */
function parsePutResponse(text: string): PutResult {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { state: 'FAILED', statusCode: 500, message: `PUT handler returned invalid JSON: ${text.slice(0, 100)}` };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return { state: 'FAILED', statusCode: 500, message: 'PUT handler response is not an object' };
  const r = v as Record<string, unknown>;
  const state = r.state === 'COMPLETED' || r.state === 'PENDING' || r.state === 'FAILED' ? r.state : undefined;
  const statusCode = typeof r.statusCode === 'number' && Number.isInteger(r.statusCode) ? r.statusCode : undefined;
  if (!state || statusCode === undefined)
    return {
      state: 'FAILED',
      statusCode: 500,
      message: `PUT handler response lacks state/statusCode: ${text.slice(0, 100)}`,
    };
  return typeof r.message === 'string' ? { state, statusCode, message: r.message } : { state, statusCode };
}
