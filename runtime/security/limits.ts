// The bounds that keep the process alive whatever a network client or a plugin does: WebSocket
// clients and their buffers, subscription cost, per-plugin quotas, stored configuration. Defaults
// here, overridden by the board profile's `limits` (a Cerbo GX has less room than a Pi 5), then by
// the settings file's `limits`. Every key is documented in docs/settings.md.

import type { Reader } from '../../core/settings-reader.js';

export interface StreamBounds {
  /** WebSocket clients at a time; more are refused with 503. */
  maxClients: number;
  /** Bytes waiting for one client above which its messages are dropped. */
  clientBufferBytes: number;
  /** Bytes waiting for all clients together; above it the slowest clients are disconnected first. */
  totalBufferBytes: number;
  /** Timer firings per second one client's fixed and ideal rows may cost (a row with period P costs 1000/P). */
  maxClientTimerRate: number;
  /** The same, summed over all clients. */
  maxTotalTimerRate: number;
  /** Subscription rows one client may send per second (a token bucket holding one second's worth). */
  subscribeRowsPerSecond: number;
}

export interface PluginQuotas {
  /** Bytes of delta JSON a plugin may emit per second (bucket of one second's worth). */
  publishBytesPerSecond: number;
  /** Largest JSON text of one value a plugin may publish. */
  maxValueBytes: number;
  /** Distinct (context, path) pairs a plugin may publish: the data model keeps each. */
  maxPaths: number;
  /** Bytes of the latest values the model keeps for one plugin. */
  storedValueBytes: number;
  /** Log, status and error lines per second (bucket of five seconds' worth); more are dropped and counted. */
  logLinesPerSecond: number;
  /** Configuration saves (sk_save_config) per second (bucket of five). */
  configWritesPerSecond: number;
  /** Disk space of the plugin's VFS (data, config, tmp). */
  storageMB: number;
  /** Share of the main thread a plugin's calls may use (0-1); above it its work is deferred. */
  cpuShare: number;
  /** A plugin held at its share without a break this long is stopped. */
  cpuOverMs: number;
}

export interface ConfigBounds {
  /** Largest stored plugin configuration (compact JSON bytes). */
  maxBytes: number;
  /** Deepest nesting of objects and arrays in a configuration. */
  maxDepth: number;
}

export interface Limits {
  stream: StreamBounds;
  plugins: PluginQuotas;
  config: ConfigBounds;
}

export type PartialLimits = { [K in keyof Limits]?: Partial<Limits[K]> };

export const DEFAULT_LIMITS: Limits = {
  stream: {
    maxClients: 64,
    clientBufferBytes: 1024 * 1024,
    totalBufferBytes: 16 * 1024 * 1024,
    maxClientTimerRate: 200,
    maxTotalTimerRate: 2000,
    subscribeRowsPerSecond: 1000,
  },
  plugins: {
    publishBytesPerSecond: 1024 * 1024,
    maxValueBytes: 64 * 1024,
    maxPaths: 5000,
    storedValueBytes: 8 * 1024 * 1024,
    logLinesPerSecond: 20,
    configWritesPerSecond: 1,
    storageMB: 100,
    cpuShare: 0.25,
    cpuOverMs: 10_000,
  },
  config: { maxBytes: 64 * 1024, maxDepth: 32 },
};

/** [key, min, max]; cpuShare is a fraction, the rest integers. */
const RANGES: { [K in keyof Limits]: { [F in keyof Limits[K]]: [number, number] } } = {
  stream: {
    maxClients: [1, 10_000],
    clientBufferBytes: [16 * 1024, 256 * 1024 * 1024],
    totalBufferBytes: [64 * 1024, 4096 * 1024 * 1024],
    maxClientTimerRate: [1, 100_000],
    maxTotalTimerRate: [1, 1_000_000],
    subscribeRowsPerSecond: [10, 1_000_000],
  },
  plugins: {
    publishBytesPerSecond: [1024, 1024 * 1024 * 1024],
    maxValueBytes: [256, 64 * 1024 * 1024],
    maxPaths: [1, 10_000_000],
    storedValueBytes: [1024, 4096 * 1024 * 1024],
    logLinesPerSecond: [1, 1_000_000],
    configWritesPerSecond: [1, 1000],
    storageMB: [1, 1_000_000],
    cpuShare: [0.01, 1],
    cpuOverMs: [1000, 3_600_000],
  },
  config: { maxBytes: [1024, 64 * 1024 * 1024], maxDepth: [2, 10_000] },
};

/** Reads a `limits` object (settings file or board profile): every key optional, each checked against its range. */
export function parseLimits(r: Reader, input: unknown, key: string): PartialLimits {
  const o = r.obj(input, key);
  r.known(o, key, Object.keys(RANGES));
  const out: PartialLimits = {};
  for (const group of Object.keys(RANGES) as (keyof Limits)[]) {
    if (o[group] === undefined) continue;
    const gkey = `${key}.${group}`;
    const g = r.obj(o[group], gkey);
    const ranges = RANGES[group] as Record<string, [number, number]>;
    r.known(g, gkey, Object.keys(ranges));
    const parsed: Record<string, number> = {};
    for (const [name, [min, max]] of Object.entries(ranges)) {
      const v = g[name];
      if (v === undefined) continue;
      if (name === 'cpuShare') {
        if (typeof v !== 'number' || !(v >= min && v <= max))
          r.fail(`${gkey}.${name}`, `must be a number from ${min} to ${max}, got ${JSON.stringify(v)}`);
        parsed[name] = v;
      } else parsed[name] = r.int(v, `${gkey}.${name}`, min, max);
    }
    (out as Record<string, unknown>)[group] = parsed;
  }
  return out;
}

/** Defaults, then the board's, then the settings' values. */
export function resolveLimits(...layers: (PartialLimits | undefined)[]): Limits {
  const out: Limits = {
    stream: { ...DEFAULT_LIMITS.stream },
    plugins: { ...DEFAULT_LIMITS.plugins },
    config: { ...DEFAULT_LIMITS.config },
  };
  for (const layer of layers) {
    if (!layer) continue;
    Object.assign(out.stream, layer.stream);
    Object.assign(out.plugins, layer.plugins);
    Object.assign(out.config, layer.config);
  }
  return out;
}
