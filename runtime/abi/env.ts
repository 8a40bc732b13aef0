// The upstream Signal K `env` host functions (signalk-server 2.32), same names, signatures and
// error returns, routed to the plugin manager's HostServices. Strings are UTF-8 (ptr, len) in the
// plugin's memory; every pointer is bounds-checked by GuestMemory and a host-side failure becomes
// the function's error code (a host function never throws into the plugin).

import { isRecord, type JsonValue } from '../../core/json.js';
import type { HostServices } from '../engine/types.js';
import { createLogger } from '../../core/log.js';
import type { GuestMemory } from './memory.js';
import { socketFunctions } from './devices/sockets.js';

const log = createLogger('abi');

type HostFunction = (...args: number[]) => number | void;

/** The largest binary stream frame a plugin may emit (runtime/api/binary-streams.ts). */
const MAX_BINARY_FRAME = 1024 * 1024;
const NOTIFICATION_STATES = new Set(['normal', 'alert', 'warn', 'alarm', 'emergency']);
/** Capabilities upstream answers through sk_has_capability; any other name is 0 there too. */
const QUERYABLE_CAPABILITIES = new Set(['network', 'rawSockets']);

function parseJson(text: string): { ok: true; value: JsonValue } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as JsonValue };
  } catch {
    return { ok: false };
  }
}

/** Splits `vessels.<id>.<path>` into context and path (context ids carry no dots: urns use colons). */
function splitFullPath(full: string): { context: string; path: string } | undefined {
  const parts = full.split('.');
  if (parts.length < 3 || parts.some((p) => p === '')) return undefined;
  return { context: `${parts[0]}.${parts[1]}`, path: parts.slice(2).join('.') };
}

export interface EnvImports {
  /** The `env` import object. */
  readonly functions: Record<string, HostFunction>;
  /** Releases what the functions hold (raw sockets). */
  close(): void;
}

export function createEnvImports(host: HostServices, memory: GuestMemory): EnvImports {
  const id = host.pluginId;
  const badPointer = (fn: string): void =>
    log.limited('warn', `${id}:${fn}:ptr`, `plugin ${id}: ${fn} got a pointer/length outside its memory; ignored`);
  const hostFailure = (fn: string, err: unknown): void =>
    log.limited('warn', `${id}:${fn}:err`, `plugin ${id}: ${fn} failed in the host: ${(err as Error).message}`);

  /** Reads a string argument; logs and returns undefined for a bad pointer. */
  const str = (fn: string, ptr: number, len: number): string | undefined => {
    const s = memory.readString(ptr, len);
    if (s === undefined) badPointer(fn);
    return s;
  };

  /** Runs a host call; a throw from HostServices becomes `onError`. */
  const guard = <T>(fn: string, onError: T, body: () => T): T => {
    try {
      return body();
    } catch (err) {
      hostFailure(fn, err);
      return onError;
    }
  };

  const writeJson = (fn: string, value: JsonValue | undefined, bufPtr: number, bufMax: number): number => {
    if (value === undefined || value === null) return 0;
    const n = memory.writeString(bufPtr, bufMax, JSON.stringify(value));
    if (n < 0) log.limited('debug', `${id}:${fn}:small`, `plugin ${id}: ${fn} buffer too small or out of bounds`);
    return Math.max(n, 0);
  };

  const logText = (fn: string, ptr: number, len: number, sink: (m: string) => void): void => {
    const m = str(fn, ptr, len);
    if (m !== undefined) guard(fn, undefined, () => sink(m));
  };

  // Raw sockets (devices/sockets.ts): owned by this instance, each call under its grants.
  const sockets = socketFunctions(
    {
      memory,
      rawSockets: () => guard('rawSockets', false, () => host.hasCapability('rawSockets')),
      allowsNet: (target, port) => host.allowsNet(target, port),
      refused: (fn, why) => log.limited('warn', `${id}:${fn}:denied`, `plugin ${id}: ${fn} refused: ${why}`),
      str,
      guard,
    },
    (m) => log.limited('warn', `${id}:socket`, `plugin ${id}: ${m}`),
  );

  const functions: Record<string, HostFunction> = {
    abort(msg, file, line, col) {
      // AssemblyScript strings here are UTF-16 objects, not (ptr, len): report the location only.
      log.limited(
        'warn',
        `${id}:abort`,
        `plugin ${id}: abort at line ${line}:${col} (message @${msg >>> 0}, file @${file >>> 0})`,
      );
    },
    seed: () => Date.now() * Math.random(),
    'console.log': (ptr, len) => logText('console.log', ptr, len, (m) => host.debug(m)),
    sk_debug: (ptr, len) => logText('sk_debug', ptr, len, (m) => host.debug(m)),
    sk_set_status: (ptr, len) => logText('sk_set_status', ptr, len, (m) => host.setStatus(m)),
    sk_set_error: (ptr, len) => logText('sk_set_error', ptr, len, (m) => host.setError(m)),

    sk_get_self_path(pathPtr, pathLen, bufPtr, bufMax) {
      const path = str('sk_get_self_path', pathPtr, pathLen);
      if (path === undefined) return 0;
      return guard('sk_get_self_path', 0, () => writeJson('sk_get_self_path', host.getPath(path), bufPtr, bufMax));
    },
    sk_get_path(pathPtr, pathLen, bufPtr, bufMax) {
      const full = str('sk_get_path', pathPtr, pathLen);
      const split = full === undefined ? undefined : splitFullPath(full);
      if (!split) return 0;
      return guard('sk_get_path', 0, () =>
        writeJson('sk_get_path', host.getPath(split.path, split.context), bufPtr, bufMax),
      );
    },

    sk_handle_message(ptr, len, version) {
      const json = str('sk_handle_message', ptr, len);
      if (json === undefined) return;
      const refused = guard('sk_handle_message', undefined, () => host.emitDelta(json, version === 2 ? 2 : 1));
      if (refused) log.limited('warn', `${id}:delta`, `plugin ${id}: delta refused: ${refused}`);
    },

    sk_publish_notification(pathPtr, pathLen, valPtr, valLen) {
      const path = str('sk_publish_notification', pathPtr, pathLen);
      const text = str('sk_publish_notification', valPtr, valLen);
      if (path === undefined || text === undefined || path === '') return -1;
      const parsed = parseJson(text);
      if (
        !parsed.ok ||
        !isRecord(parsed.value) ||
        typeof parsed.value.state !== 'string' ||
        !NOTIFICATION_STATES.has(parsed.value.state)
      ) {
        log.limited(
          'warn',
          `${id}:notification`,
          `plugin ${id}: notification ${path} needs a JSON object with a valid state`,
        );
        return -1;
      }
      const value = parsed.value;
      return guard('sk_publish_notification', -1, () => (host.publishNotification(path, value) ? 0 : -1));
    },

    sk_read_config(bufPtr, bufMax) {
      return guard('sk_read_config', 0, () => {
        const n = memory.writeString(bufPtr, bufMax, JSON.stringify(host.readConfig() ?? {}));
        return Math.max(n, 0);
      });
    },
    sk_save_config(ptr, len) {
      const text = str('sk_save_config', ptr, len);
      if (text === undefined) return -1;
      const parsed = parseJson(text);
      if (!parsed.ok) return -1;
      return guard('sk_save_config', -1, () => (host.saveConfig(parsed.value) ? 0 : -1));
    },

    sk_has_capability(ptr, len) {
      const name = str('sk_has_capability', ptr, len);
      if (name === undefined || !QUERYABLE_CAPABILITIES.has(name)) return 0;
      return guard('sk_has_capability', 0, () => (host.hasCapability(name) ? 1 : 0));
    },

    sk_register_put_handler(ctxPtr, ctxLen, pathPtr, pathLen) {
      const context = str('sk_register_put_handler', ctxPtr, ctxLen);
      const path = str('sk_register_put_handler', pathPtr, pathLen);
      if (context === undefined || path === undefined || path === '') return 0;
      return guard('sk_register_put_handler', 0, () => (host.registerPutHandler(context, path) ? 1 : 0));
    },

    sk_register_resource_provider(typePtr, typeLen) {
      const type = str('sk_register_resource_provider', typePtr, typeLen);
      if (type === undefined) return 0;
      return guard('sk_register_resource_provider', 0, () => (host.registerResourceProvider(type) ? 1 : 0));
    },

    sk_register_weather_provider(namePtr, nameLen) {
      const name = str('sk_register_weather_provider', namePtr, nameLen);
      if (name === undefined) return 0;
      return guard('sk_register_weather_provider', 0, () => (host.registerWeatherProvider(name) ? 1 : 0));
    },

    sk_register_radar_provider(namePtr, nameLen) {
      const name = str('sk_register_radar_provider', namePtr, nameLen);
      if (name === undefined) return 0;
      return guard('sk_register_radar_provider', 0, () => (host.registerRadarProvider(name) ? 1 : 0));
    },

    sk_emit_binary_stream(idPtr, idLen, dataPtr, dataLen) {
      const streamId = str('sk_emit_binary_stream', idPtr, idLen);
      const data = memory.readBytes(dataPtr, dataLen, MAX_BINARY_FRAME);
      if (streamId === undefined) return 0;
      if (data === undefined) {
        log.limited(
          'warn',
          `${id}:binary:size`,
          `plugin ${id}: sk_emit_binary_stream: frame outside memory or over ${MAX_BINARY_FRAME} bytes; refused`,
        );
        return 0;
      }
      return guard('sk_emit_binary_stream', 0, () => (host.emitBinaryStream(streamId, data) ? 1 : 0));
    },

    // Spokes go out on the binary stream radars/<radar id> (needs radarProvider, as upstream).
    sk_radar_emit_spokes(idPtr, idLen, dataPtr, dataLen) {
      const radarId = str('sk_radar_emit_spokes', idPtr, idLen);
      const data = memory.readBytes(dataPtr, dataLen, MAX_BINARY_FRAME);
      if (radarId === undefined || data === undefined) return 0;
      return guard('sk_radar_emit_spokes', 0, () => (host.emitBinaryStream(`radars/${radarId}`, data) ? 1 : 0));
    },

    ...sockets.functions,
  };

  return { functions, close: () => sockets.close() };
}
