// The plugin manager: discovers plugin packages, runs one PluginRunner per plugin, feeds them from
// the bus, dispatches PUTs to them, reloads them when their .wasm changes, and serves their REST API.

import type { Settings } from '../config/settings.js';
import { DEFAULT_CALL_TIMEOUT_MS, DEFAULT_PLUGIN_RESTART } from '../config/settings.js';
import type { DeltaBus } from '../bus/bus.js';
import type { SignalKModel } from '../model/model.js';
import type { ApiRoutes, PutDispatcher } from '../api/types.js';
import { createLogger } from '../../core/log.js';
import type { MqttAccess } from '../abi/devices/index.js';
import type { HttpTransport } from '../abi/http-transport.js';
import { GrantTable } from '../capabilities/store.js';
import { createDevices, type HalDevices } from '../../hal/devices.js';
import { discoverPlugins, type BrokenPackage, type DiscoveredPackage } from './discovery.js';
import { engineOptions } from './engine-options.js';
import { watchFile } from './file-watch.js';
import { PutHandlerRegistry } from './put-handlers.js';
import { ResourceProviderRegistry } from './resource-providers.js';
import { resourceRoutes } from '../api/v2/resources.js';
import { ResourceDefaults } from './resource-defaults.js';
import { WeatherProviderRegistry } from './weather-providers.js';
import { weatherRoutes } from '../api/v2/weather.js';
import { RadarProviderRegistry } from './radar-providers.js';
import { radarRoutes } from '../api/v2/radars.js';
import { providerCaller } from './provider-call.js';
import { BinaryStreamHub } from '../api/binary-streams.js';
import { EmittedDeltaPublisher } from './publisher.js';
import { CallGuard } from './call-guard.js';
import { DeliveryScheduler } from './delivery.js';
import { adminUiRoutes } from './admin-ui-routes.js';
import { pluginRoutes } from './routes.js';
import type { PluginRunner, RunnerDeps } from './runner.js';
import type { PluginStatus } from './status.js';
import { resolveLimits, type Limits } from '../security/limits.js';

const log = createLogger('plugins');
/** Quiet time after the last change event before a replaced .wasm is loaded. */
const WATCH_DEBOUNCE_MS = 200;

/** What plugins' device functions reach: the shared devices, board aliases, the MQTT connection. */
export interface PluginDeviceAccess {
  devices: HalDevices;
  aliases: Readonly<Record<string, string>>;
  mqtt(): MqttAccess | undefined;
}

/** A package that could not be read: listed, never started. */
export interface BrokenPluginStatus {
  id: string;
  state: 'error';
  enabled: false;
  errorMessage: string;
  dir: string;
}

export type PluginSummary = PluginStatus | BrokenPluginStatus;

export class PluginManager {
  private readonly runners = new Map<string, PluginRunner>();
  private readonly brokenPackages = new Map<string, BrokenPackage>();
  private readonly puts: PutHandlerRegistry;
  private readonly resources = new ResourceProviderRegistry();
  private readonly weather = new WeatherProviderRegistry();
  private readonly radars = new RadarProviderRegistry();
  private readonly resourceDefaults: ResourceDefaults;
  /** Plugins' binary streams to WebSocket clients (the API accepts the upgrades). */
  readonly binaryStreams = new BinaryStreamHub();
  private unsubscribe: (() => void) | undefined;
  private unwatch: (() => void)[] = [];
  readonly grants: GrantTable;
  private readonly publisher: EmittedDeltaPublisher;

  private constructor(
    private readonly settings: Settings,
    private readonly bus: DeltaBus,
    model: SignalKModel,
    access: PluginDeviceAccess,
    limits: Limits,
    httpTransport: HttpTransport | undefined,
    packages: DiscoveredPackage[],
    Runner: typeof PluginRunner | undefined,
  ) {
    this.puts = new PutHandlerRegistry((c) => model.resolveContext(c));
    this.grants = new GrantTable(settings.grants, settings.dataDir);
    this.resourceDefaults = new ResourceDefaults(settings.dataDir, settings.resourcesApi?.defaultProviders);
    if (this.grants.error) log.error(`${this.grants.error}; no grants from that file apply until it is fixed`);
    const publisher = new EmittedDeltaPublisher(bus);
    this.publisher = publisher;
    const guard = new CallGuard(settings.plugins.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS);
    const deps: RunnerDeps = {
      dataDir: settings.dataDir,
      engine: { ...engineOptions(settings), httpTransport },
      restart: settings.plugins.restart ?? DEFAULT_PLUGIN_RESTART,
      model,
      puts: this.puts,
      resources: this.resources,
      weather: this.weather,
      radars: this.radars,
      binaryStreams: this.binaryStreams,
      publish: (deltas, origin) => publisher.publish(deltas, origin),
      guard,
      scheduler: new DeliveryScheduler(guard),
      grants: this.grants,
      limits,
      ...access,
    };
    for (const found of packages) {
      if (found.ok && Runner) {
        try {
          this.runners.set(found.manifest.id, new Runner(found.manifest, deps));
        } catch (err) {
          this.brokenPackages.set(found.manifest.id, {
            id: found.manifest.id,
            dir: found.manifest.dir,
            error: (err as Error).message,
          });
        }
      } else if (!found.ok) {
        this.brokenPackages.set(found.broken.id, found.broken);
      }
    }
    for (const b of this.brokenPackages.values()) log.error(`plugin ${b.id} (${b.dir}): ${b.error}`);
  }

  /** Without `access`, plugins get devices of their own and no board aliases or MQTT (benchmarks, tools); without `limits`, the defaults and the settings' own. */
  static async create(deps: {
    settings: Settings;
    bus: DeltaBus;
    model: SignalKModel;
    access?: PluginDeviceAccess;
    limits?: Limits;
    httpTransport?: HttpTransport;
  }): Promise<PluginManager> {
    const access = deps.access ?? { devices: createDevices(), aliases: {}, mqtt: () => undefined };
    const packages = discoverPlugins(deps.settings.plugins.dirs);
    // The runner, and through it the engine, is imported only when there is a plugin to run.
    const Runner = packages.some((p) => p.ok) ? (await import('./runner.js')).PluginRunner : undefined;
    return new PluginManager(
      deps.settings,
      deps.bus,
      deps.model,
      access,
      deps.limits ?? resolveLimits(deps.settings.limits),
      deps.httpTransport,
      packages,
      Runner,
    );
  }

  routes(): ApiRoutes[] {
    const directory = {
      list: () => this.list(),
      runner: (id: string) => this.runners.get(id),
      broken: (id: string) => this.brokenPackages.get(id),
      ids: () => [...this.runners.keys()],
    };
    const call = providerCaller((id) => this.runners.get(id));
    return [
      pluginRoutes(directory),
      adminUiRoutes(directory),
      resourceRoutes({
        types: () => this.resources.types(),
        providers: (type) => this.resources.providers(type),
        defaultProvider: (type) => this.resourceDefaults.of(type, this.resources.providers(type)),
        chooseDefault: (type, pluginId) => this.resourceDefaults.choose(type, pluginId),
        call: (pluginId, op, request) => call(pluginId, `resources_${op}`, request),
        changed: (pluginId, type, id, value) => {
          const source = { label: pluginId, type: 'plugin' };
          const reason = this.bus.publish(
            { updates: [{ source, $source: pluginId, values: [{ path: `resources.${type}.${id}`, value }] }] },
            `plugin:${pluginId}`,
            2,
          );
          if (reason) log.warn(`resource change of ${type}/${id} not published: ${reason}`);
        },
      }),
      this.binaryStreams.routes(),
      weatherRoutes({
        list: () => this.weather.list(),
        getDefault: () => this.weather.getDefault(),
        setDefault: (pluginId) => this.weather.setDefault(pluginId),
        call: (pluginId, op, request) => call(pluginId, `weather_get_${op}`, request),
      }),
      radarRoutes({
        list: () => this.radars.list(),
        getDefault: () => this.radars.getDefault(),
        setDefault: (pluginId) => this.radars.setDefault(pluginId),
        claim: (pluginId, radarIds) => this.radars.claim(pluginId, radarIds),
        supports: (pluginId, handler) => this.runners.get(pluginId)?.hasExport(handler) ?? true,
        call: (pluginId, handler, request) => call(pluginId, handler, request),
      }),
    ];
  }

  putDispatcher(): PutDispatcher {
    return (context, path, value) => {
      const route = this.puts.find(context, path);
      if (!route) return undefined;
      return this.runners.get(route.pluginId)?.handlePut(route.context, route.path, value);
    };
  }

  list(): PluginSummary[] {
    const broken: BrokenPluginStatus[] = [...this.brokenPackages.values()].map((b) => ({
      id: b.id,
      state: 'error',
      enabled: false,
      errorMessage: b.error,
      dir: b.dir,
    }));
    return [...[...this.runners.values()].map((r) => r.status()), ...broken];
  }

  runner(id: string): PluginRunner | undefined {
    return this.runners.get(id);
  }

  async startAll(): Promise<void> {
    const runners = [...this.runners.values()];
    this.unsubscribe ??= this.bus.subscribe((msg) => {
      const lineage = this.publisher.lineage();
      for (let i = 0; i < runners.length; i++) runners[i].offer(msg, lineage);
    });
    if (this.unwatch.length === 0) {
      if (this.settings.plugins.watch !== false) {
        this.unwatch = runners.map((r) =>
          watchFile(r.manifest.wasmPath, WATCH_DEBOUNCE_MS, () => void r.reload(), r.log),
        );
      }
      // Grants apply while plugins run: `signalk-edge grant`/`revoke` edit the grants file.
      this.unwatch.push(
        this.grants.watch(
          () => {
            log.info('grants changed; applying to running plugins');
            for (const r of runners) r.regrant();
          },
          (error) => log.error(`${error}; keeping the grants in force before the change`),
        ),
      );
    }
    await Promise.all(runners.map((r) => r.start()));
    const states = runners.map((r) => `${r.id} ${r.currentState}`).join(', ');
    log.info(
      `${runners.length} plugin(s): ${states || 'none'}${this.brokenPackages.size ? `; ${this.brokenPackages.size} broken` : ''}`,
    );
  }

  async stopAll(): Promise<void> {
    for (const stop of this.unwatch) stop();
    this.unwatch = [];
    await Promise.all([...this.runners.values()].map((r) => r.stop()));
    // Command plugins end asynchronously (VFS written back, sandbox released). Without a plugin
    // the engine was never imported (instance-loader.ts), so there is nothing to wait for.
    if (this.runners.size) await (await import('../engine/command.js')).commandPluginsClosed();
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }
}
