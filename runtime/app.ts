// Assembles one runtime from settings: bus → model, data sources, plugins, API.

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeltaBus } from './bus/bus.js';
import { SignalKModel } from './model/model.js';
import type { Settings } from './config/settings.js';
import { writeFileAtomic } from './storage/atomic.js';
import { createSource } from '../hal/sources/table.js';
import type { MqttConnection } from '../hal/net/mqtt-connection.js';
import { createDevices, type HalDevices } from '../hal/devices.js';
import { resolveBoard } from './board/resolve.js';
import type { DataSource } from '../hal/sources/source.js';
import { startApi, type ApiServer } from './api/server.js';
import { assertSafeBind } from './security/settings.js';
import { streamLimits } from './api/stream.js';
import { resolveLimits } from './security/limits.js';
import type { HttpTransport } from './abi/http-transport.js';
import { PluginManager } from './plugins/manager.js';
import { createLogger } from '../core/log.js';
import { systemdNotifierFromEnv } from './systemd/notifier.js';

const log = createLogger('runtime');

export interface Runtime {
  settings: Settings;
  bus: DeltaBus;
  model: SignalKModel;
  sources: DataSource[];
  devices: HalDevices;
  /** The MQTT connection when settings have `mqtt`; plugins' `mqtt_*` host functions use it. */
  mqtt: MqttConnection | undefined;
  plugins: PluginManager;
  api: ApiServer;
  stop(): Promise<void>;
}

/** The self vessel's urn: from settings, else one generated once and kept in the data dir. */
function selfUrn(settings: Settings): string {
  if (settings.selfUrn) return settings.selfUrn;
  const file = join(settings.dataDir, 'identity.json');
  try {
    const stored: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (
      typeof stored === 'object' &&
      stored !== null &&
      typeof (stored as { selfUrn?: unknown }).selfUrn === 'string'
    ) {
      return (stored as { selfUrn: string }).selfUrn;
    }
  } catch {
    // absent or unreadable: make a new identity below
  }
  const urn = `urn:mrn:signalk:uuid:${randomUUID()}`;
  writeFileAtomic(file, JSON.stringify({ selfUrn: urn }, null, 2));
  return urn;
}

/** Parts a caller may replace: the HTTP client behind plugin fetches (a stand-in service in tests and the compat suite). */
export interface RuntimeServices {
  httpTransport?: HttpTransport;
}

export async function startRuntime(settings: Settings, services: RuntimeServices = {}): Promise<Runtime> {
  // Before anything starts: an open API on the network is refused, not half-started.
  assertSafeBind(settings.host, settings.security);
  const model = new SignalKModel(selfUrn(settings));
  const bus = new DeltaBus(model.selfContext);
  // Only v1 deltas update the data model (v2 ones reach subscribers only, see DeltaVersion).
  bus.subscribe((msg) => {
    if (msg.version === 1) model.apply(msg.delta);
  });
  // The MQTT connection and bridge are imported only when a broker is configured.
  const mqtt = settings.mqtt
    ? (await import('./mqtt/service.js')).startMqtt(settings.mqtt, bus, model.selfContext)
    : undefined;

  // One owner per device: sources and plugins granted the same device share one open handle.
  const devices = createDevices();
  const board = resolveBoard({ settingsBoard: settings.board }).profile;
  // Bounds: built-in defaults, then the board's, then the settings'.
  const limits = resolveLimits(board.limits, settings.limits);
  const plugins = await PluginManager.create({
    settings,
    bus,
    model,
    limits,
    access: { devices, aliases: board.devices, mqtt: () => mqtt?.connection },
    httpTransport: services.httpTransport,
  });
  const sources = await Promise.all(settings.sources.map((s) => createSource(s, bus, devices)));
  const api = await startApi({
    host: settings.host,
    port: settings.port,
    bus,
    model,
    sources: () => sources.map((s) => s.status()),
    mqtt: mqtt ? () => mqtt.status() : undefined,
    routes: plugins.routes(),
    put: plugins.putDispatcher(),
    security: settings.security,
    dataDir: settings.dataDir,
    webappDirs: settings.plugins.dirs,
    streamLimits: streamLimits(limits.stream),
    binaryStreams: plugins.binaryStreams,
  });
  await plugins.startAll();
  for (const s of sources) s.start();
  log.info(`Signal K API on ${api.url}/signalk (self ${model.selfContext})`);
  // Only now is the service ready: systemd starts ordering dependants and the watchdog.
  const notifier = systemdNotifierFromEnv();
  await notifier?.ready(`serving ${api.url}/signalk`);

  return {
    settings,
    bus,
    model,
    sources,
    devices,
    mqtt: mqtt?.connection,
    plugins,
    api,
    async stop() {
      await notifier?.stopping();
      await Promise.all(sources.map((s) => s.stop()));
      await plugins.stopAll();
      await mqtt?.stop();
      await api.close();
    },
  };
}
