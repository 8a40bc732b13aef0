// The HostServices behind one plugin's `env` host functions. Nothing here calls back into wasm or
// publishes on the bus directly: emitted deltas go to the plugin's outbox, which the plugin's
// runner publishes after the current call into the plugin has returned.

import type { Delta } from '../../core/delta.js';
import type { JsonValue } from '../../core/json.js';
import type { DeltaVersion } from '../bus/bus.js';
import { parseDelta } from '../bus/delta.js';
import type { HostServices } from '../engine/types.js';
import type { SignalKModel } from '../model/model.js';
import type { Logger } from '../../core/log.js';
import type { Flags } from '../capabilities/policy.js';
import type { FlagName } from '../capabilities/grant.js';
import { readPluginConfig, writePluginConfig } from './plugin-config.js';
import type { PluginQuota } from './quotas.js';

/** Longer log, status and error lines from a plugin are cut: a line per call must not become megabytes of log. */
export const MAX_LOG_LINE = 1000;

/** A plugin's line as it is logged: cut at MAX_LOG_LINE characters. */
export function logLine(message: string): string {
  return message.length > MAX_LOG_LINE ? `${message.slice(0, MAX_LOG_LINE)}… (${message.length} characters)` : message;
}

/** What the host services need from the plugin they serve. */
export interface HostTarget {
  readonly id: string;
  readonly log: Logger;
  readonly model: SignalKModel;
  readonly configFile: string;
  /** What the plugin may publish, log and save (limits.plugins). */
  readonly quota: PluginQuota;
  capabilities(): Flags;
  /** The operator's `enableDebug` for the plugin: its sk_debug lines are logged at info level. */
  debugEnabled(): boolean;
  allowsNet(host: string, port: number): boolean;
  /** Status and error lines from the plugin. */
  noteStatus(message: string): void;
  noteError(message: string): void;
  /** A validated delta, already tagged with the plugin as its source; version 2 skips the v1 model. */
  queueDelta(delta: Delta, version: DeltaVersion): void;
  /** Counts an emitted delta that was refused. */
  noteRejected(reason: string): void;
  /** Routes PUTs for (context, path) to this plugin; false (and noted in its status) when another plugin owns the path. */
  addPutHandler(context: string, path: string): boolean;
  /** Makes the plugin a provider of a resource type; false (logged, denial noted) when refused. */
  addResourceProvider(type: string): boolean;
  /** Makes the plugin a weather provider; false (denial noted) without the weatherProvider grant. */
  addWeatherProvider(name: string): boolean;
  /** Makes the plugin a radar provider; false (denial noted) without the radarProvider grant. */
  addRadarProvider(name: string): boolean;
  /** Sends a frame on one of the plugin's binary streams; false when the id is not its own. */
  emitBinary(streamId: string, data: Uint8Array): boolean;
}

/** Tags every update with the plugin as its source, whatever the plugin claimed. */
export function tagWithPlugin(delta: Delta, id: string): Delta {
  for (const update of delta.updates) {
    update.source = { label: id, type: 'plugin' };
    update.$source = id;
  }
  return delta;
}

function isCapability(caps: Flags, name: string): name is FlagName {
  return Object.prototype.hasOwnProperty.call(caps, name);
}

export function createHostServices(target: HostTarget): HostServices {
  const { id, log, model } = target;
  const refuse = (reason: string): string => {
    target.noteRejected(reason);
    return reason;
  };
  const emit = (input: unknown, bytes: number, version: DeltaVersion): string | undefined => {
    if (!target.capabilities().dataWrite) return refuse('dataWrite capability not granted');
    const parsed = parseDelta(input);
    if (!parsed.ok) return refuse(parsed.reason);
    const overQuota = target.quota.admitDelta(parsed.delta, bytes);
    if (overQuota) return refuse(overQuota);
    target.queueDelta(tagWithPlugin(parsed.delta, id), version);
    return undefined;
  };
  return {
    pluginId: id,
    debug(message) {
      if (!target.quota.admitLogLine()) {
        log.limited(
          'warn',
          'log-quota',
          `log lines dropped: more than limits.plugins.logLinesPerSecond (${target.quota.q.logLinesPerSecond})`,
        );
        return;
      }
      if (target.debugEnabled()) log.info(`debug: ${logLine(message)}`);
      else log.debug(logLine(message));
    },
    setStatus: (message) => target.noteStatus(message),
    setError: (message) => target.noteError(message),
    emitDelta(json, version) {
      const tooBig = target.quota.admitText(json.length);
      if (tooBig) return refuse(tooBig);
      let input: unknown;
      try {
        input = JSON.parse(json);
      } catch (err) {
        return refuse(`not JSON: ${(err as Error).message}`);
      }
      // Version 2 (upstream: SKVersion.v2) reaches subscribers but is not merged into the v1 tree.
      return emit(input, json.length, version === 2 ? 2 : 1);
    },
    getPath(path, context) {
      if (!target.capabilities().dataRead) return undefined;
      const parts = [...model.resolveContext(context).split('.'), ...path.split('.')];
      // The node as upstream's getSelfPath returns it: a leaf {value, $source, timestamp, ...} or a subtree.
      return model.get(parts) as JsonValue | undefined;
    },
    readConfig: () => readPluginConfig(target.configFile).configuration ?? {},
    saveConfig(configuration) {
      const overQuota = target.quota.admitConfigWrite();
      if (overQuota) {
        log.limited('warn', 'config-quota', `saving configuration refused: ${overQuota}`);
        return false;
      }
      try {
        writePluginConfig(target.configFile, { configuration }, target.quota.config);
        return true;
      } catch (err) {
        log.limited('warn', 'config-save', `saving configuration failed: ${(err as Error).message}`);
        return false;
      }
    },
    hasCapability(name) {
      const caps = target.capabilities();
      return isCapability(caps, name) && caps[name];
    },
    publishNotification(path, value) {
      const full = path.startsWith('notifications.') ? path : `notifications.${path}`;
      const delta = { updates: [{ values: [{ path: full, value }] }] };
      return emit(delta, JSON.stringify(delta).length, 1) === undefined;
    },
    allowsNet: (host, port) => target.allowsNet(host, port),
    registerPutHandler(context, path) {
      if (!target.capabilities().putHandlers) {
        log.warn(`PUT handler for ${context}.${path} refused: putHandlers capability not requested and granted`);
        return false;
      }
      // Clients learn from the meta that the path accepts PUT (as upstream sends it).
      const meta: Delta = { updates: [{ meta: [{ path, value: { supportsPut: true } }] }] };
      if (context !== 'vessels.self') meta.context = context;
      // A path no delta may carry (too long, a leaf key as a segment) is no path a PUT can reach.
      const checked = parseDelta(meta);
      if (!checked.ok) {
        log.warn(`PUT handler for ${context}.${path} refused: ${checked.reason}`);
        return false;
      }
      if (!target.addPutHandler(context, path)) return false;
      target.queueDelta(tagWithPlugin(meta, id), 1);
      return true;
    },
    registerResourceProvider: (type) => target.addResourceProvider(type),
    registerWeatherProvider: (name) => target.addWeatherProvider(name),
    registerRadarProvider: (name) => target.addRadarProvider(name),
    emitBinaryStream: (streamId, data) => target.emitBinary(streamId, data),
  };
}
