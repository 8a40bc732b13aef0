// A real HostServices that records every call a plugin makes (for engine and VFS tests).

import type { JsonValue } from '../../core/json.js';
import type { HostServices } from '../../runtime/engine/types.js';

export interface RecordingHostOptions {
  pluginId?: string;
  /** Values getPath answers, keyed by `<context>.<path>` (self is `vessels.self`). */
  values?: Record<string, JsonValue>;
  config?: JsonValue;
  capabilities?: string[];
  /** Answer of registerPutHandler. */
  allowPut?: boolean;
}

export class RecordingHost implements HostServices {
  readonly pluginId: string;
  readonly debugs: string[] = [];
  readonly statuses: string[] = [];
  readonly errors: string[] = [];
  readonly deltas: { json: string; version: number }[] = [];
  readonly savedConfigs: JsonValue[] = [];
  readonly notifications: { path: string; value: JsonValue }[] = [];
  readonly putHandlers: { context: string; path: string }[] = [];
  readonly capabilityQueries: string[] = [];
  config: JsonValue | undefined;

  constructor(private readonly opts: RecordingHostOptions = {}) {
    this.pluginId = opts.pluginId ?? 'test-plugin';
    this.config = opts.config;
  }

  debug(message: string): void {
    this.debugs.push(message);
  }
  setStatus(message: string): void {
    this.statuses.push(message);
  }
  setError(message: string): void {
    this.errors.push(message);
  }
  emitDelta(json: string, version: number): string | undefined {
    this.deltas.push({ json, version });
    return undefined;
  }
  getPath(path: string, context = 'vessels.self'): JsonValue | undefined {
    return this.opts.values?.[`${context}.${path}`];
  }
  readConfig(): JsonValue | undefined {
    return this.config;
  }
  saveConfig(configuration: JsonValue): boolean {
    this.savedConfigs.push(configuration);
    this.config = configuration;
    return true;
  }
  hasCapability(name: string): boolean {
    this.capabilityQueries.push(name);
    return this.opts.capabilities?.includes(name) ?? false;
  }
  allowsNet(): boolean {
    return this.opts.capabilities?.includes('rawSockets') ?? false;
  }
  publishNotification(path: string, value: JsonValue): boolean {
    this.notifications.push({ path, value });
    return true;
  }
  registerResourceProvider(): boolean {
    return false;
  }
  registerWeatherProvider(): boolean {
    return false;
  }
  registerRadarProvider(): boolean {
    return false;
  }
  emitBinaryStream(): boolean {
    return false;
  }

  registerPutHandler(context: string, path: string): boolean {
    if (this.opts.allowPut === false) return false;
    this.putHandlers.push({ context, path });
    return true;
  }

  /** Parsed emitted deltas' values as path → value (last wins). */
  emittedValues(): Map<string, JsonValue> {
    const out = new Map<string, JsonValue>();
    for (const d of this.deltas) {
      const delta = JSON.parse(d.json) as { updates?: { values?: { path: string; value: JsonValue }[] }[] };
      for (const u of delta.updates ?? []) for (const v of u.values ?? []) out.set(v.path, v.value);
    }
    return out;
  }
}
