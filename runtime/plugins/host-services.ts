// The HostServices behind one plugin's `env` host functions. Nothing here calls back into wasm or
// publishes on the bus directly: emitted deltas go to the plugin's outbox, which the plugin's
// runner publishes after the current call into the plugin has returned.

import type { Delta, JsonValue } from '../bus/delta.js';
import type { DeltaVersion } from '../bus/bus.js';
import { parseDelta } from '../bus/delta.js';
import type { HostServices } from '../engine/types.js';
import type { SignalKModel } from '../model/model.js';
import type { Logger } from '../log.js';
import type { Flags } from '../capabilities/policy.js';
import type { FlagName } from '../capabilities/grant.js';
import { readPluginConfig, writePluginConfig } from './plugin-config.js';

/** What the host services need from the plugin they serve. */
export interface HostTarget {
  readonly id: string;
  readonly log: Logger;
  readonly model: SignalKModel;
  readonly configFile: string;
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
  /** Routes PUTs for (context, path) to this plugin. */
  addPutHandler(context: string, path: string): void;
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
  const emit = (input: unknown, version: DeltaVersion = 1): string | undefined => {
    if (!target.capabilities().dataWrite) return refuse('dataWrite capability not granted');
    const parsed = parseDelta(input);
    if (!parsed.ok) return refuse(parsed.reason);
    target.queueDelta(tagWithPlugin(parsed.delta, id), version);
    return undefined;
  };
  return {
    pluginId: id,
    debug: (message) => (target.debugEnabled() ? log.info(`debug: ${message}`) : log.debug(message)),
    setStatus: (message) => target.noteStatus(message),
    setError: (message) => target.noteError(message),
    emitDelta(json, version) {
      let input: unknown;
      try {
        input = JSON.parse(json);
      } catch (err) {
        return refuse(`not JSON: ${(err as Error).message}`);
      }
      // Version 2 (upstream: SKVersion.v2) reaches subscribers but is not merged into the v1 tree.
      return emit(input, version === 2 ? 2 : 1);
    },
    getPath(path, context) {
      if (!target.capabilities().dataRead) return undefined;
      const parts = [...model.resolveContext(context).split('.'), ...path.split('.')];
      // The node as upstream's getSelfPath returns it: a leaf {value, $source, timestamp, ...} or a subtree.
      return model.get(parts) as JsonValue | undefined;
    },
    readConfig: () => readPluginConfig(target.configFile).configuration ?? {},
    saveConfig(configuration) {
      try {
        writePluginConfig(target.configFile, { configuration });
        return true;
      } catch (err) {
        log.warn(`saving configuration failed: ${(err as Error).message}`);
        return false;
      }
    },
    hasCapability(name) {
      const caps = target.capabilities();
      return isCapability(caps, name) && caps[name];
    },
    publishNotification(path, value) {
      const full = path.startsWith('notifications.') ? path : `notifications.${path}`;
      return emit({ updates: [{ values: [{ path: full, value }] }] }) === undefined;
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
      target.addPutHandler(context, path);
      target.queueDelta(tagWithPlugin(meta, id), 1);
      return true;
    },
  };
}
