// A whole runtime for tests: a temp data dir, port 0 on 127.0.0.1, the given sources and plugin
// folders. `stop()` stops the runtime and removes the data dir unless the caller passed its own
// (to restart on the same data); tests call it in t.teardown.

import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRuntime, type Runtime } from '../../runtime/app.js';
import { startApi, type ApiOptions, type ApiServer } from '../../runtime/api/server.js';
import { DeltaBus } from '../../runtime/bus/bus.js';
import { SignalKModel } from '../../runtime/model/model.js';
import type { GrantLists } from '../../runtime/capabilities/store.js';
import type { MqttSettings } from '../../runtime/mqtt/settings.js';
import type { SecuritySettings } from '../../runtime/security/settings.js';
import type { PartialLimits } from '../../runtime/security/limits.js';
import type { HttpTransport } from '../../runtime/abi/http-transport.js';
import { DEFAULT_PLUGIN_RESTART, type PluginRestartSettings } from '../../runtime/config/settings.js';
import type { ReplaySourceSettings } from '../../hal/serial/settings.js';
import type { SourceSettings } from '../../hal/sources/table.js';

export interface RuntimeOptions {
  sources?: SourceSettings[];
  pluginDirs?: string[];
  selfUrn?: string;
  watch?: boolean;
  restart?: Partial<PluginRestartSettings>;
  /** Settings `plugins.callTimeoutMs`: the bound on a call into a plugin (default 1000). */
  callTimeoutMs?: number;
  /** The caller's data dir (to restart on the same data), kept on stop; default a fresh one removed on stop. */
  dataDir?: string;
  /** Settings `grants` (plugin id or `*` → grant strings); the defaults when absent. */
  grants?: GrantLists;
  /** Settings `mqtt`: broker connection and bridge rules. */
  mqtt?: MqttSettings;
  /** Settings `security`; absent = off, as the demo. */
  security?: SecuritySettings;
  /** Settings `limits`: bounds over the defaults and the detected board's. */
  limits?: PartialLimits;
  /** The HTTP client behind plugin fetches (a stand-in service); node:http(s) when absent. */
  httpTransport?: HttpTransport;
}

export interface TestRuntime {
  runtime: Runtime;
  /** http://127.0.0.1:<port> */
  url: string;
  /** ws://127.0.0.1:<port> */
  wsUrl: string;
  dataDir: string;
  stop(): Promise<void>;
}

export const TEST_SELF_URN = 'urn:mrn:imo:mmsi:230000001';

export async function startTestRuntime(opts: RuntimeOptions = {}): Promise<TestRuntime> {
  const ownsDataDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'ske-runtime-'));
  const removeDataDir = () => (ownsDataDir ? rm(dataDir, { recursive: true, force: true }) : Promise.resolve());
  let runtime: Runtime;
  try {
    runtime = await startRuntime(
      {
        port: 0,
        host: '127.0.0.1',
        dataDir,
        selfUrn: opts.selfUrn ?? TEST_SELF_URN,
        sources: opts.sources ?? [],
        plugins: {
          dirs: opts.pluginDirs ?? [],
          watch: opts.watch ?? false,
          restart: { ...DEFAULT_PLUGIN_RESTART, ...opts.restart },
          ...(opts.callTimeoutMs === undefined ? {} : { callTimeoutMs: opts.callTimeoutMs }),
        },
        ...(opts.grants ? { grants: opts.grants } : {}),
        ...(opts.mqtt ? { mqtt: opts.mqtt } : {}),
        ...(opts.security ? { security: opts.security } : {}),
        ...(opts.limits ? { limits: opts.limits } : {}),
      },
      { httpTransport: opts.httpTransport },
    );
  } catch (err) {
    await removeDataDir();
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    runtime,
    url: runtime.api.url,
    wsUrl: runtime.api.url.replace(/^http/, 'ws'),
    dataDir,
    stop: () =>
      (stopped ??= (async () => {
        try {
          await runtime.stop();
        } finally {
          await removeDataDir();
        }
      })()),
  };
}

/** A replay source of a log file: played once as fast as possible unless told otherwise. */
export function replaySource(
  id: string,
  file: string,
  opts: Partial<Pick<ReplaySourceSettings, 'rate' | 'linesPerSecond' | 'loop'>> = {},
): ReplaySourceSettings {
  return {
    id,
    type: 'replay',
    file,
    rate: opts.rate ?? 'fast',
    linesPerSecond: opts.linesPerSecond ?? 1000,
    loop: opts.loop ?? false,
  };
}

export interface BareApi {
  bus: DeltaBus;
  model: SignalKModel;
  api: ApiServer;
  url: string;
  wsUrl: string;
}

/** Just bus → model → API, without sources or plugins: for testing the API on its own. */
export async function startBareApi(
  opts: Partial<
    Pick<ApiOptions, 'routes' | 'put' | 'sources' | 'streamLimits' | 'security' | 'dataDir' | 'webappDirs'>
  > = {},
): Promise<BareApi> {
  const bus = new DeltaBus(`vessels.${TEST_SELF_URN}`);
  const model = new SignalKModel(TEST_SELF_URN);
  bus.subscribe((msg) => model.apply(msg.delta));
  const api = await startApi({
    host: '127.0.0.1',
    port: 0,
    bus,
    model,
    sources: opts.sources ?? (() => []),
    routes: opts.routes ?? [],
    put: opts.put ?? (() => undefined),
    streamLimits: opts.streamLimits,
    security: opts.security,
    dataDir: opts.dataDir,
    webappDirs: opts.webappDirs,
  });
  return { bus, model, api, url: api.url, wsUrl: api.url.replace(/^http/, 'ws') };
}
