// The contract between the engine (turns a .wasm into a running instance whose imports are the
// host functions of runtime/abi) and the plugin manager (lifecycle, bus, storage, REST).

import type { JsonValue } from '../../core/json.js';
import type { PutResult } from '../api/types.js';
import type { DeviceSession } from '../abi/devices/index.js';

/** What the host functions of one plugin instance may do; implemented by runtime/plugins. */
export interface HostServices {
  readonly pluginId: string;
  debug(message: string): void;
  setStatus(message: string): void;
  setError(message: string): void;
  /** A delta the plugin emits (unparsed JSON text). Returns an error reason when refused. */
  emitDelta(json: string, version: number): string | undefined;
  /** `vessels.self.<path>` or, with a context, `<context>.<path>`; undefined when absent. */
  getPath(path: string, context?: string): JsonValue | undefined;
  readConfig(): JsonValue | undefined;
  saveConfig(configuration: JsonValue): boolean;
  hasCapability(name: string): boolean;
  /** Raw sockets to host:port are granted (`net:` grants; rawSockets alone allows any). */
  allowsNet(host: string, port: number): boolean;
  publishNotification(path: string, value: JsonValue): boolean;
  registerPutHandler(context: string, path: string): boolean;
  /** Serves the v2 resources API for `type` through the plugin's `resources_*` exports (needs resourceProvider). */
  registerResourceProvider(type: string): boolean;
  /** Serves the v2 weather API through the plugin's `weather_*` exports (needs weatherProvider). */
  registerWeatherProvider(name: string): boolean;
  /** Serves the v2 radar API through the plugin's `radar_*` exports (needs radarProvider). */
  registerRadarProvider(name: string): boolean;
  /** A binary frame for the WebSocket clients of a stream; false when the id is not the plugin's. */
  emitBinaryStream(streamId: string, data: Uint8Array): boolean;
}

/** A started-or-startable instance of a library plugin (upstream `env` ABI). */
export interface PluginInstance {
  readonly id: string;
  readonly name: string;
  /** Parsed `plugin_schema()` JSON, when the plugin exports one. */
  readonly schema: JsonValue | undefined;
  readonly hasDeltaHandler: boolean;
  readonly hasPoll: boolean;
  /** The plugin exports `hal_data`, called when its HAL handles have new data. */
  readonly hasHalData: boolean;
  /** Its HAL handles, when the host gave it the `signalk_hal` functions. */
  readonly hal: DeviceSession | undefined;
  /** How strings cross the boundary: AssemblyScript runtime objects or Rust (ptr, len) buffers. */
  readonly kind?: 'assemblyscript' | 'rust';
  /** What `plugin_id()` returned, when exported (upstream otherwise derives the id from package.json). */
  readonly exportedId?: string | undefined;
  /** plugin_start's result; a promise of it when the call paused for a fetch (AssemblyScript as-fetch). */
  start(configJson: string): number | Promise<number>;
  stop(): number;
  /** Hands one delta (JSON text) to the plugin's `delta_handler`. Throws on trap. */
  deliverDelta(json: string): void;
  poll(): number;
  /** Calls `hal_data()`. Throws on trap. */
  halData(): void;
  /** Calls the plugin's PUT handler export for a registered path. Throws on trap. */
  handlePut(context: string, path: string, valueJson: string): PutResult;
  /** What `http_endpoints()` returned (JSON text), when exported. */
  readonly httpEndpoints?: string | undefined;
  hasExport?(name: string): boolean;
  /**
   * Calls a handler export (HTTP endpoint, resources provider) with the request JSON; returns its response JSON.
   * Throws on trap, and HostMarshalError when the response is over `maxBytes`.
   */
  callHandler?(handler: string, requestJson: string, maxBytes: number): string;
  /** callHandler for handlers that may fetch (providers): a promise while the call waits for its fetch. */
  callResumable?(handler: string, requestJson: string, maxBytes: number): string | Promise<string>;
  /** Releases the instance (memory, WASI handles, HAL handles). */
  close(): void;
}
