// One plugin's lifecycle: load → start → deliver deltas / poll / PUT → stop, with crash recovery
// (exponential backoff, give up after a limit) and hot reload. Every call into the instance runs
// under the CallGuard (a call past plugins.callTimeoutMs is stopped) and turns a trap or a timeout
// into a crash: single calls through `call`, deltas queued in the inbox and delivered in batches
// by the DeliveryScheduler. What the plugin emitted is published only after the call or batch has
// returned, so no instance is ever re-entered.

import type { Delta, JsonValue } from '../bus/delta.js';
import type { BusDelta, DeltaVersion } from '../bus/bus.js';
import type { PutResult } from '../api/types.js';
import type { PluginRestartSettings } from '../config/settings.js';
import type { HostServices, PluginInstance } from '../engine/types.js';
import { loadPlugin } from '../engine/index.js';
import { loadCommandPlugin, type CommandEvents } from '../engine/command.js';
import { commandStdin } from './command-stdin.js';
import type { SignalKModel } from '../model/model.js';
import { createLogger, type Logger } from '../log.js';
import { configFile, ensurePluginStorage } from '../storage/plugin-storage.js';
import { validateConfig } from './config-schema.js';
import type { PluginManifest, PluginSubscription } from './discovery.js';
import type { HalHost, MqttAccess } from '../abi/hal.js';
import type { HandleStatus } from '../abi/hal-handles.js';
import { DenialLog, type Denial } from '../capabilities/denials.js';
import { CapabilityPolicy, type Flags } from '../capabilities/policy.js';
import type { GrantTable } from '../capabilities/store.js';
import type { HalDevices } from '../../hal/devices.js';
import type { EngineOptions } from './engine-options.js';
import { createHostServices, type HostTarget } from './host-services.js';
import { readPluginConfig, writePluginConfig } from './plugin-config.js';
import type { PutHandlerRegistry } from './put-handlers.js';
import { validResourceType, type ResourceProviderRegistry } from './resource-providers.js';
import type { WeatherProviderRegistry } from './weather-providers.js';
import { validStreamId, type BinaryStreamHub } from '../api/binary-streams.js';
import { subscriptionFilter, type DeltaFilter } from './subscriptions.js';
import type { CallGuard } from './call-guard.js';
import type { DeliveryScheduler, DeliveryTarget } from './delivery.js';
import { Inbox } from './inbox.js';
import { answerTo, newLineage, type EmittedDelta, type Lineage } from './publisher.js';
import { PluginQuota, type QuotaStatus } from './quotas.js';
import { logLine } from './host-services.js';
import { HTTP_RESPONSE_MAX_BYTES, matchEndpoint, parseEndpoints, parseResponse, requestJson, type HttpAnswer, type HttpEndpoint } from './endpoints.js';
import { HostMarshalError } from '../engine/marshal.js';
import type { Limits } from '../security/limits.js';

export type PluginState = 'stopped' | 'disabled' | 'starting' | 'running' | 'reloading' | 'crashed' | 'failed' | 'error';

/** Deltas waiting for a plugin (while it starts, or between delivery runs); beyond this the oldest are dropped (and counted). */
const INBOX_LIMIT = 10_000;
const POLL_INTERVAL_MS = 1000;
const EVENT_HISTORY = 20;

export interface PluginEvent {
  at: string;
  event: string;
}

export interface PluginStatus {
  id: string;
  name: string;
  packageName: string;
  version: string;
  description: string;
  state: PluginState;
  enabled: boolean;
  statusMessage: string;
  errorMessage: string;
  /** Crashes since the last stable run (the give-up counter). */
  crashes: number;
  /** Automatic restarts after crashes, in total. */
  restarts: number;
  /** Grant strings: what the manifest requests, what the operator granted, what is in effect; refused calls. */
  capabilities: { requested: string[]; granted: string[]; effective: string[]; denied: Denial[] };
  /** Open HAL handles with their queues. */
  hal: HandleStatus[];
  subscriptions: PluginSubscription[] | 'all';
  putHandlers: { context: string; path: string }[];
  /** Resource types it serves through the v2 resources API. */
  resourceProvider: string[];
  /** It serves the v2 weather API. */
  weatherProvider: boolean;
  /** Its own HTTP endpoints, served under /plugins/<id>. */
  httpEndpoints: { method: string; path: string }[];
  /** dropped: never delivered (inbox full, or discarded on crash/stop); feedbackDropped: emitted but cut (16-generation chain or fan-out budget). */
  deltas: { received: number; emitted: number; rejected: number; dropped: number; feedbackDropped: number; lastRejection?: string };
  /** Use of limits.plugins: refusals per kind, paths and bytes kept, main-thread time and throttling. */
  quota: QuotaStatus;
  /** PUT paths this plugin asked for that another plugin owns. */
  putRefused: { context: string; path: string; owner: string }[];
  wasmPath: string;
  events: PluginEvent[];
}

export interface RunnerDeps {
  dataDir: string;
  /** AOT cache folder and per-plugin memory cap (see engine-options.ts). */
  engine: EngineOptions;
  restart: PluginRestartSettings;
  model: SignalKModel;
  puts: PutHandlerRegistry;
  resources: ResourceProviderRegistry;
  weather: WeatherProviderRegistry;
  binaryStreams: BinaryStreamHub;
  /** Publishes deltas a plugin emitted (already validated and tagged); returns how many were cut as feedback. */
  publish(deltas: EmittedDelta[], origin: string): number;
  /** Bounds every call into the plugin (plugins.callTimeoutMs). */
  guard: CallGuard;
  /** Runs queued delta deliveries in guarded batches. */
  scheduler: DeliveryScheduler;
  grants: GrantTable;
  /** Board device aliases (nmea1 → /dev/ttyUSB0). */
  aliases: Readonly<Record<string, string>>;
  devices: HalDevices;
  mqtt(): MqttAccess | undefined;
  /** Per-plugin quotas and configuration bounds. */
  limits: Pick<Limits, 'plugins' | 'config'>;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class PluginRunner implements HostTarget, DeliveryTarget {
  readonly id: string;
  readonly log: Logger;
  readonly model: SignalKModel;
  readonly configFile: string;
  readonly quota: PluginQuota;
  private readonly putRefused: { context: string; path: string; owner: string }[] = [];
  /** Deliveries deferred while the plugin is over its CPU share. */
  private throttleTimer: NodeJS.Timeout | undefined;
  private state: PluginState = 'stopped';
  private enabled: boolean;
  private enableDebug: boolean;
  private configuration: JsonValue | undefined;
  private name: string;
  private schema: JsonValue | undefined;
  private schemaKnown = false;
  private statusMessage = '';
  private errorMessage = '';
  private crashes = 0;
  private restarts = 0;
  private readonly stats = { received: 0, emitted: 0, rejected: 0, dropped: 0, feedbackDropped: 0, lastRejection: undefined as string | undefined };
  private readonly events: PluginEvent[] = [];
  private readonly host: HostServices;
  private readonly filter: DeltaFilter;
  private instance: PluginInstance | undefined;
  private outbox: EmittedDelta[] = [];
  /** Lineage given to what the plugin emits during the current call (see publisher.ts). */
  private emitLineage: Lineage = newLineage(1);
  /** Deltas waiting for delivery, in order; kept while the plugin starts or reloads. */
  private readonly inbox = new Inbox<{ json: string; lineage: Lineage }>(INBOX_LIMIT);
  /** Starting: deltas queue in the inbox until the instance runs. */
  private buffering = false;
  /** Bumped whenever a pending load becomes obsolete (stop, crash, newer start). */
  private epoch = 0;
  private startedAt = 0;
  private pollTimer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  /** Lifecycle operations run one at a time. */
  private chain: Promise<void> = Promise.resolve();
  private policy: CapabilityPolicy;
  private readonly denials: DenialLog;
  private readonly halHost: HalHost;
  private halDataPending = false;
  /** A provider handler paused for a fetch: nothing else may enter the instance until it returns. */
  private pausedIn: string | undefined;
  /** What the plugin last said with sk_set_error since its plugin_start began: the reason when the start fails. */
  private startError: string | undefined;
  /** The running instance's HTTP endpoints, read once per instance. */
  private endpoints: { instance: PluginInstance | undefined; list: HttpEndpoint[] } | undefined;
  /** hal_data waits for the CPU share to refill (one timer, however many chunks arrive meanwhile). */
  private halDataDeferred: NodeJS.Timeout | undefined;
  /** Lineage of a command plugin's last asynchronous output (see commandEvents). */
  private asyncLineage: Lineage | undefined;
  /** A command plugin runs on its own: its stdout deltas are published as they come, its end is a crash. */
  private readonly commandEvents: CommandEvents = {
    output: (lines) => {
      // Which input a line answers is unknown: each line starts a chain of its own, one generation
      // below the delta last written to stdin when one was delivered since the previous output
      // (deliverQueued set a new lineage), so loops through stdin are still cut at 16 generations.
      const generation = this.emitLineage === this.asyncLineage ? 1 : this.emitLineage.generation;
      for (const line of lines) {
        this.emitLineage = newLineage(generation);
        this.host.emitDelta(line, 1);
      }
      this.asyncLineage = this.emitLineage;
      this.flush();
    },
    rejected: (reason) => this.noteRejected(reason),
    failed: (err) => this.fail(err),
  };

  constructor(
    readonly manifest: PluginManifest,
    private readonly deps: RunnerDeps,
  ) {
    this.id = manifest.id;
    this.log = createLogger(`plugin ${manifest.id}`);
    this.model = deps.model;
    this.configFile = configFile(deps.dataDir, manifest.id);
    this.quota = new PluginQuota(deps.limits.plugins, deps.limits.config);
    this.name = manifest.packageName;
    this.filter = subscriptionFilter(manifest.subscriptions, deps.model.selfContext, (c) => deps.model.resolveContext(c));
    this.host = createHostServices(this);
    this.policy = this.buildPolicy();
    this.denials = new DenialLog(this.id, this.log);
    this.halHost = {
      pluginId: this.id,
      devices: deps.devices,
      policy: () => this.policy,
      deny: (capability, call) => this.denials.deny(capability, call),
      mqtt: () => deps.mqtt(),
      dataReady: () => this.scheduleHalData(),
    };
    let stored;
    try {
      stored = readPluginConfig(this.configFile);
    } catch (err) {
      this.log.error(`config file unreadable, plugin left disabled: ${message(err)}`);
      stored = { enabled: false, enableDebug: false, configuration: undefined };
      this.errorMessage = `config file unreadable: ${message(err)}`;
    }
    this.enabled = stored.enabled;
    this.enableDebug = stored.enableDebug;
    this.configuration = stored.configuration;
    this.state = this.enabled ? 'stopped' : 'disabled';
  }

  // ---- HostTarget (called by the host functions during a call into the plugin) ----

  capabilities(): Flags {
    return this.policy.flags();
  }

  allowsNet(host: string, port: number): boolean {
    if (this.policy.net(host, port)) return true;
    this.denials.deny(`net:${host}:${port}`, 'network access (raw socket or HTTP fetch)');
    return false;
  }

  private buildPolicy(): CapabilityPolicy {
    const { requested, requests } = this.manifest;
    return new CapabilityPolicy({ requestedFlags: requested, requests, granted: this.deps.grants.grantsFor(this.id), aliases: this.deps.aliases });
  }

  /** The operator changed grants: applies them to the running instance at once (open handles included). */
  regrant(): void {
    this.policy = this.buildPolicy();
    this.denials.clear();
    this.instance?.hal?.regrant();
    this.event('grants changed');
  }

  /** New data on a HAL handle: one `hal_data` call per event-loop turn, however many chunks arrived. */
  private scheduleHalData(): void {
    if (this.halDataPending || this.halDataDeferred || !this.instance?.hasHalData) return;
    this.halDataPending = true;
    setImmediate(() => {
      this.halDataPending = false;
      // While a handler waits for a fetch the data stays queued; it is called again when the handler returns.
      if ((this.state !== 'running' && this.state !== 'reloading') || this.pausedIn !== undefined) return;
      // Over its CPU share: the data waits in the handle's queue (bounded there) until the share refills.
      if (!this.quota.cpu.allowed()) {
        this.halDataDeferred = setTimeout(() => {
          this.halDataDeferred = undefined;
          if (this.checkCpuShare()) this.scheduleHalData();
        }, this.quota.cpu.waitMs());
        return;
      }
      this.call((i) => i.halData(), 'hal_data');
    });
  }
  noteStatus(m: string): void {
    // As upstream: a new status replaces an earlier error.
    this.errorMessage = '';
    this.statusMessage = logLine(m);
    if (this.quota.admitLogLine()) this.log.info(`status: ${this.statusMessage}`);
  }
  noteError(m: string): void {
    this.errorMessage = logLine(m);
    this.startError = this.errorMessage;
    if (this.quota.admitLogLine()) this.log.warn(`error: ${this.errorMessage}`);
  }
  queueDelta(delta: Delta, version: DeltaVersion): void {
    this.outbox.push({ delta, lineage: this.emitLineage, version });
  }
  noteRejected(reason: string): void {
    this.stats.rejected++;
    this.stats.lastRejection = reason;
    this.log.limited('warn', 'rejected', `emitted delta refused: ${reason}`);
  }
  addPutHandler(context: string, path: string): boolean {
    const owner = this.deps.puts.add({ pluginId: this.id, context, path });
    if (owner === undefined) return true;
    const why = `PUT handler for ${context} ${path} refused: plugin ${owner} owns that path`;
    if (this.putRefused.length < EVENT_HISTORY && !this.putRefused.some((r) => r.context === context && r.path === path)) this.putRefused.push({ context, path, owner });
    this.errorMessage = why;
    this.event(why);
    this.log.warn(why);
    return false;
  }

  addResourceProvider(type: string): boolean {
    if (!validResourceType(type)) {
      this.log.warn(`resource provider for ${JSON.stringify(type.slice(0, 80))} refused: a type is a letter then letters, digits, _ or -, at most 64`);
      return false;
    }
    if (!this.policy.flag('resourceProvider')) {
      this.denials.deny('resourceProvider', `sk_register_resource_provider(${type})`);
      return false;
    }
    this.deps.resources.add(type, this.id);
    this.event(`resource provider for ${type}`);
    return true;
  }

  addWeatherProvider(name: string): boolean {
    if (!this.policy.flag('weatherProvider')) {
      this.denials.deny('weatherProvider', `sk_register_weather_provider(${name.slice(0, 80)})`);
      return false;
    }
    this.deps.weather.add(this.id, name.slice(0, 120));
    this.event(`weather provider ${name.slice(0, 120)}`);
    return true;
  }

  emitBinary(streamId: string, data: Uint8Array): boolean {
    const own = streamId.startsWith(`plugins/${this.id}/`) || (streamId.startsWith('radars/') && this.policy.flag('radarProvider'));
    if (!validStreamId(streamId) || !own) {
      this.log.limited('warn', 'binary-stream', `binary stream ${JSON.stringify(streamId.slice(0, 100))} refused: a plugin emits on plugins/${this.id}/<name> (or radars/<id> as a granted radarProvider)`);
      return false;
    }
    this.deps.binaryStreams.emit(streamId, data);
    return true;
  }

  // ---- data path ----

  /**
   * A delta from the bus; the plugin gets it when it matches the subscriptions and is not its own.
   * It is queued and delivered in the scheduler's next batch; `lineage` places it in a chain of outputs.
   */
  offer(msg: BusDelta, lineage: Lineage): void {
    if (!this.buffering && !(this.instance?.hasDeltaHandler && (this.state === 'running' || this.state === 'reloading'))) return;
    const delta = msg.delta;
    const first = delta.updates[0];
    if (first !== undefined && first.$source === this.id && first.source?.type === 'plugin') return;
    if (!this.filter(delta)) return;
    if (this.inbox.push({ json: msg.json, lineage })) {
      this.stats.dropped++;
      this.log.limited('warn', 'inbox', `inbox full (${INBOX_LIMIT} deltas): oldest dropped; the plugin cannot keep up`);
    }
    // Over its CPU share, the throttle's timer wakes it when the share has refilled.
    if (!this.buffering && !this.throttleTimer) this.deps.scheduler.wake(this, this.inbox.length);
  }

  // ---- DeliveryTarget (called by the scheduler) ----

  deliverQueued(deadline: number): boolean {
    const instance = this.instance;
    if (!instance?.hasDeltaHandler || this.buffering || (this.state !== 'running' && this.state !== 'reloading')) return false;
    if (!this.quota.cpu.allowed()) {
      this.deferDeliveries();
      return false;
    }
    const start = performance.now();
    const until = Math.min(deadline, start + this.quota.cpu.available());
    try {
      for (let item = this.inbox.shift(); item !== undefined; item = this.inbox.shift()) {
        this.stats.received++;
        this.emitLineage = answerTo(item.lineage);
        instance.deliverDelta(item.json);
        if (performance.now() >= until) break;
      }
    } finally {
      this.quota.cpu.charge(performance.now() - start);
    }
    return this.inbox.length > 0;
  }

  /** Over its CPU share: deliveries wait until the share has refilled (deltas queue meanwhile, bounded by the inbox). */
  private deferDeliveries(): void {
    if (this.throttleTimer) return;
    this.throttleTimer = setTimeout(() => {
      this.throttleTimer = undefined;
      if (this.checkCpuShare() && this.inbox.length > 0) this.deps.scheduler.wake(this);
    }, this.quota.cpu.waitMs());
  }

  /** Stops the plugin when it has been held at its CPU share for limits.plugins.cpuOverMs; false then. */
  private checkCpuShare(): boolean {
    if (!this.quota.cpu.over() || !this.instance) return true;
    const q = this.deps.limits.plugins;
    const why = `stopped: used its whole share of the main thread (limits.plugins.cpuShare ${q.cpuShare}) for ${q.cpuOverMs} ms without a break`;
    void this.enqueue(() => {
      if (!this.instance) return;
      this.halt('failed');
      this.errorMessage = why;
      this.statusMessage = 'not restarting: over its CPU share; restart it through the API';
      this.event(why);
      this.log.error(`${why}; ${this.statusMessage}`);
    });
    return false;
  }

  fail(err: unknown): void {
    if (this.instance) this.crash(err);
  }

  /** Routes a PUT to the plugin's handler export. */
  handlePut(context: string, path: string, value: JsonValue): PutResult {
    if (this.state !== 'running' && this.state !== 'reloading') {
      return { state: 'FAILED', statusCode: 503, message: `plugin ${this.id} is ${this.state}` };
    }
    if (this.pausedIn !== undefined) return { state: 'FAILED', statusCode: 503, message: `plugin ${this.id} is busy: ${this.pausedIn} waits for a fetch` };
    const valueJson = JSON.stringify(value);
    // Not charged to the plugin's CPU share: the caller decides how often a PUT runs, and a client must not get a plugin stopped.
    const result = this.call((i) => i.handlePut(context, path, valueJson), 'PUT handler', false);
    return result ?? { state: 'FAILED', statusCode: 500, message: `plugin ${this.id} crashed handling the PUT: ${this.errorMessage}` };
  }

  /**
   * The instance's HTTP endpoints (http_endpoints export), the last instance's while none runs (so
   * a request to one is told the plugin is stopped); entries it cannot serve are logged once.
   */
  httpEndpoints(): HttpEndpoint[] {
    const instance = this.instance;
    if (!instance) return this.endpoints?.list ?? [];
    if (this.endpoints?.instance !== instance) {
      const { endpoints, problems } = parseEndpoints(instance.httpEndpoints, (name) => instance.hasExport?.(name) ?? false);
      for (const p of problems) this.log.warn(`http_endpoints: ${p}`);
      this.endpoints = { instance, list: endpoints };
    }
    return this.endpoints.list;
  }

  /**
   * Answers a request to one of the plugin's HTTP endpoints (`path` below /plugins/<id>); undefined
   * when no endpoint matches. A trap or runaway is a crash (500); an unusable or oversized answer is 502.
   */
  handleHttp(req: { method: string; path: string; query: URLSearchParams; body: unknown; headers: Record<string, string | string[] | undefined> }): HttpAnswer | undefined {
    const found = matchEndpoint(this.httpEndpoints(), req.method, req.path);
    if (!found) return undefined;
    const fail = (status: number, error: string): HttpAnswer => ({ status, headers: {}, body: { error } });
    const { handler } = found.endpoint;
    const result = this.callHandler(handler, requestJson({ ...req, params: found.params }), HTTP_RESPONSE_MAX_BYTES);
    if ('error' in result) return fail(result.status, result.error);
    const answer = parseResponse(result.text);
    if (typeof answer === 'string') {
      this.log.limited('warn', 'http-response', `${handler} ${answer}`);
      return fail(502, `plugin ${this.id}: ${handler} ${answer}`);
    }
    return answer;
  }

  /**
   * Calls a handler export (HTTP endpoint, provider) with a request JSON; its response JSON, or an
   * error with the HTTP status it stands for: 503 not running, 500 crashed or ran away (a crash,
   * restarted with backoff), 502 an answer over `maxBytes` (the plugin keeps running).
   */
  callHandler(handler: string, request: string, maxBytes: number): { text: string } | { status: number; error: string } {
    if (this.state !== 'running' && this.state !== 'reloading') return { status: 503, error: `plugin ${this.id} is ${this.state}` };
    if (this.pausedIn !== undefined) return { status: 503, error: `plugin ${this.id} is busy: ${this.pausedIn} waits for a fetch` };
    // Not charged to the CPU share, as PUT: a client must not get a plugin stopped.
    const result = this.call(
      (i) => {
        if (!i.hasExport?.(handler) || !i.callHandler) return { error: `does not export ${handler}` };
        try {
          return { text: i.callHandler(handler, request, maxBytes) };
        } catch (err) {
          if (err instanceof HostMarshalError) return { error: `${handler}: ${err.message}` };
          throw err;
        }
      },
      handler,
      false,
    );
    if (result === undefined) return { status: 500, error: `plugin ${this.id} crashed in ${handler}: ${this.errorMessage}` };
    if ('error' in result) return { status: 502, error: `plugin ${this.id} ${result.error}` };
    return result;
  }

  /**
   * callHandler for a handler that may fetch (weather providers, as upstream resumes them): while
   * it waits for its fetch the plugin is busy (deltas queue, poll and hal_data wait, other calls
   * answer 503), and each re-entry runs under the call bound.
   */
  async callHandlerResumable(handler: string, request: string, maxBytes: number): Promise<{ text: string } | { status: number; error: string }> {
    if (this.pausedIn !== undefined) return { status: 503, error: `plugin ${this.id} is busy: ${this.pausedIn} waits for a fetch` };
    const instance = this.instance;
    if (!instance?.callResumable || (this.state !== 'running' && this.state !== 'reloading')) return this.callHandler(handler, request, maxBytes);
    const result = this.call(
      (i) => {
        if (!i.hasExport?.(handler)) return { error: `does not export ${handler}` };
        try {
          const r = i.callResumable!(handler, request, maxBytes);
          return typeof r === 'string' ? { text: r } : { pending: r };
        } catch (err) {
          if (err instanceof HostMarshalError) return { error: `${handler}: ${err.message}` };
          throw err;
        }
      },
      handler,
      false,
    );
    if (result === undefined) return { status: 500, error: `plugin ${this.id} crashed in ${handler}: ${this.errorMessage}` };
    if (result.error !== undefined) return { status: 502, error: `plugin ${this.id} ${result.error}` };
    if (result.text !== undefined) return { text: result.text };
    if (result.pending === undefined) return { status: 500, error: `plugin ${this.id} ${handler}: no answer` };
    this.pausedIn = handler;
    this.buffering = true;
    try {
      return { text: await result.pending };
    } catch (err) {
      if (err instanceof HostMarshalError) return { status: 502, error: `plugin ${this.id} ${handler}: ${err.message}` };
      if (this.instance === instance) this.crash(err);
      return { status: 500, error: `plugin ${this.id} crashed in ${handler}: ${message(err)}` };
    } finally {
      if (this.instance === instance) {
        this.pausedIn = undefined;
        this.buffering = false;
        this.flush();
        if (this.inbox.length > 0) this.deps.scheduler.wake(this);
        if (instance.hasHalData) this.scheduleHalData();
      }
    }
  }

  /** Runs one guarded call into the instance: a throw or a timeout is a crash; emitted deltas are published afterwards. */
  private call<T>(fn: (instance: PluginInstance) => T, what: string, charged = true): T | undefined {
    const instance = this.instance;
    if (!instance) return undefined;
    this.emitLineage = newLineage(1);
    const start = performance.now();
    try {
      return this.deps.guard.run(() => fn(instance), what);
    } catch (err) {
      this.crash(err);
      return undefined;
    } finally {
      if (charged) this.quota.cpu.charge(performance.now() - start);
      this.flush();
    }
  }

  flush(): void {
    this.checkCpuShare();
    if (this.outbox.length === 0) return;
    const batch = this.outbox;
    this.outbox = [];
    this.stats.emitted += batch.length;
    this.stats.feedbackDropped += this.deps.publish(batch, `plugin:${this.id}`);
  }

  /** Discards what waits in the inbox (crash, stop, failed start), counted as dropped. */
  private discardInbox(): void {
    this.stats.dropped += this.inbox.clear();
    this.deps.scheduler.cancel(this);
  }

  // ---- lifecycle ----

  /** Runs `op` after the operations before it; the promise rejects when `op` fails (later operations run regardless). */
  private run(op: () => Promise<void> | void): Promise<void> {
    const next = this.chain.then(op);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** As run(), for operations nobody awaits the outcome of: a failure is logged. */
  private enqueue(op: () => Promise<void> | void): Promise<void> {
    return this.run(op).catch((err: unknown) => this.log.error(`lifecycle operation failed: ${message(err)}`));
  }

  private event(text: string): void {
    this.events.push({ at: new Date().toISOString(), event: text });
    if (this.events.length > EVENT_HISTORY) this.events.shift();
  }

  private setState(state: PluginState, note?: string): void {
    this.state = state;
    this.event(note ? `${state}: ${note}` : state);
  }

  /** Starts the plugin when it is enabled (no-op when it runs already). */
  start(): Promise<void> {
    return this.enqueue(() => {
      if (!this.enabled || this.state === 'running') return;
      return this.startFresh('start');
    });
  }

  stop(): Promise<void> {
    return this.enqueue(() => this.halt(this.enabled ? 'stopped' : 'disabled'));
  }

  /** The operator asks for a restart: also the way out of `failed`. */
  restart(): Promise<void> {
    return this.enqueue(() => {
      if (!this.enabled) return;
      this.stopInstance();
      this.crashes = 0;
      return this.startFresh('restart requested');
    });
  }

  /** Rejects when the setting could not be saved (nothing changed then). */
  setEnabled(enabled: boolean): Promise<void> {
    return this.run(() => {
      writePluginConfig(this.configFile, { enabled, configuration: this.configuration }, null);
      this.enabled = enabled;
      this.errorMessage = '';
      if (!enabled) return this.halt('disabled');
      if (this.state === 'running' || this.state === 'reloading') return;
      this.crashes = 0;
      return this.startFresh('enabled');
    });
  }

  /** Upstream's debug switch: persisted; a running plugin restarts to get it in its start configuration. */
  setEnableDebug(enableDebug: boolean): Promise<void> {
    return this.run(() => {
      if (enableDebug === this.enableDebug) return;
      writePluginConfig(this.configFile, { enableDebug }, this.quota.config);
      this.enableDebug = enableDebug;
      if (this.state !== 'running' && this.state !== 'reloading') return;
      this.stopInstance();
      return this.startFresh('debug switched');
    });
  }

  /** Persists a (validated) configuration and restarts the plugin with it when it runs; rejects when it could not be saved (ConfigBoundsError: out of bounds). */
  setConfiguration(configuration: JsonValue): Promise<void> {
    return this.run(() => {
      writePluginConfig(this.configFile, { enabled: this.enabled, configuration }, this.quota.config);
      this.configuration = configuration;
      if (this.state !== 'running' && this.state !== 'reloading') return;
      this.stopInstance();
      return this.startFresh('configuration changed');
    });
  }

  /**
   * The .wasm file changed. A running plugin keeps running on the old module while the new one
   * compiles, then the two are swapped in one synchronous step, so no delta is missed. If the new
   * module does not load, the old instance stays in service and the cause is in errorMessage.
   * A plugin that is not running (error, failed, crashed) gets a fresh start with the new file.
   */
  reload(): Promise<void> {
    return this.enqueue(async () => {
      if (!this.enabled) {
        this.schemaKnown = false;
        return;
      }
      if (this.state !== 'running') {
        this.crashes = 0;
        return this.startFresh('module file changed');
      }
      const epoch = this.epoch;
      const old = this.instance;
      this.setState('reloading');
      let next: PluginInstance;
      try {
        next = await this.load();
      } catch (err) {
        if (epoch !== this.epoch) return;
        this.state = 'running';
        this.errorMessage = `reload failed, still running the previous module: ${message(err)}`;
        this.event(this.errorMessage);
        this.log.error(this.errorMessage);
        return;
      }
      if (epoch !== this.epoch || this.instance !== old) {
        next.close();
        return;
      }
      this.stopInstance();
      this.crashes = 0;
      this.errorMessage = '';
      this.activate(next, 'reloaded');
    });
  }

  private load(): Promise<PluginInstance> {
    const vfsRoot = ensurePluginStorage(this.deps.dataDir, this.id);
    const command = this.manifest.command;
    if (command) {
      const stdin = commandStdin(command, this.configuration);
      return loadCommandPlugin({ id: this.id, wasmPath: this.manifest.wasmPath, vfsRoot, host: this.host, hal: this.halHost, stdin, runawayMs: this.deps.guard.timeoutMs, events: this.commandEvents, ...this.deps.engine });
    }
    const guard = <T>(fn: () => T, what: string): T => this.deps.guard.run(fn, what);
    const storageQuotaBytes = this.deps.limits.plugins.storageMB * 1024 * 1024;
    return loadPlugin({ id: this.id, wasmPath: this.manifest.wasmPath, vfsRoot, host: this.host, hal: this.halHost, guard, storageQuotaBytes, ...this.deps.engine });
  }

  private async startFresh(reason: string): Promise<void> {
    this.clearRestartTimer();
    this.quota.cpu.reset();
    const epoch = ++this.epoch;
    // Deltas still queued for a previous instance (new configuration) go to the new one.
    this.buffering = true;
    this.setState('starting', reason);
    let instance: PluginInstance;
    try {
      instance = await this.load();
    } catch (err) {
      if (epoch !== this.epoch) return;
      this.buffering = false;
      this.discardInbox();
      this.errorMessage = message(err);
      this.setState('error', this.errorMessage);
      this.log.error(this.errorMessage);
      return;
    }
    if (epoch !== this.epoch) {
      instance.close();
      return;
    }
    this.activate(instance, 'running');
  }

  /** Starts a loaded instance with the configuration, then hands it what was buffered meanwhile. */
  private activate(instance: PluginInstance, note: string): void {
    this.instance = instance;
    this.name = instance.name || this.manifest.packageName;
    this.schema = instance.schema;
    this.schemaKnown = true;
    this.statusMessage = '';
    this.startError = undefined;
    const rc = this.call((i) => i.start(this.startConfig()), 'plugin_start');
    if (this.instance !== instance) return; // trapped or timed out in plugin_start: crash() took over
    if (typeof rc === 'object') {
      // Paused at a fetch: starting (also after a reload) with deltas waiting in the inbox, no
      // poll or PUT, until plugin_start returns.
      this.buffering = true;
      this.setState('starting', 'plugin_start waits for a fetch');
      rc.then(
        (result) => this.resumed(instance, () => this.started(instance, result, note)),
        (err: unknown) => this.resumed(instance, () => this.crash(err)),
      );
      return;
    }
    this.started(instance, rc, note);
  }

  /** After a paused plugin_start settled: what it emitted goes out, then `next` unless the instance was replaced meanwhile. */
  private resumed(instance: PluginInstance, next: () => void): void {
    if (this.instance !== instance) return;
    this.flush();
    next();
  }

  /** plugin_start returned `rc`: running, or an error state. */
  private started(instance: PluginInstance, rc: number | undefined, note: string): void {
    if (rc !== 0) {
      this.teardown();
      this.discardInbox();
      this.errorMessage = `plugin_start returned ${rc}${this.startError ? `: ${this.startError}` : ''}`;
      this.setState('error', this.errorMessage);
      this.log.error(this.errorMessage);
      return;
    }
    this.state = 'running';
    this.startedAt = Date.now();
    this.event(note);
    if (!this.statusMessage) this.statusMessage = 'Running';
    if (instance.hasPoll) {
      this.pollTimer = setInterval(() => this.pollOnce(), POLL_INTERVAL_MS);
      this.pollTimer.unref();
    }
    // What queued meanwhile goes out in the next batch, ahead of anything newer.
    this.buffering = false;
    if (!instance.hasDeltaHandler) this.inbox.clear();
    else if (this.inbox.length > 0) this.deps.scheduler.wake(this);
  }

  /**
   * Configuration JSON for plugin_start: the saved configuration with schema defaults filled in,
   * and `enableDebug` at its root as upstream passes it.
   */
  private startConfig(): string {
    const configuration = this.configuration ?? {};
    const checked = validateConfig(this.schema, configuration);
    const value = checked.ok ? checked.value : configuration;
    return JSON.stringify(typeof value === 'object' && value !== null && !Array.isArray(value) ? { ...value, enableDebug: this.enableDebug } : value);
  }

  debugEnabled(): boolean {
    return this.enableDebug;
  }

  private pollOnce(): void {
    if ((this.state !== 'running' && this.state !== 'reloading') || this.pausedIn !== undefined) return;
    if (!this.quota.cpu.allowed()) {
      this.checkCpuShare();
      return;
    }
    const rc = this.call((i) => i.poll(), 'poll');
    if (rc !== undefined && rc !== 0) this.log.limited('debug', 'poll', `poll() returned ${rc}`);
  }

  /** A trap or host-side exception out of the plugin: close it, then restart with backoff or give up. */
  private crash(err: unknown): void {
    const why = message(err);
    const policy = this.deps.restart;
    if ((this.state === 'running' || this.state === 'reloading') && Date.now() - this.startedAt >= policy.stableMs) this.crashes = 0;
    this.crashes++;
    this.epoch++;
    this.teardown();
    this.discardInbox();
    this.log.error(`crashed (${this.crashes} of ${policy.maxCrashes}): ${why}`);
    if (this.crashes >= policy.maxCrashes) {
      this.errorMessage = `failed: crashed ${this.crashes} times, last error: ${why}`;
      this.statusMessage = 'not restarting: enable or restart it through the API';
      this.setState('failed', this.errorMessage);
      this.log.error(`${this.errorMessage}; ${this.statusMessage}`);
      return;
    }
    const delay = Math.min(policy.baseMs * 2 ** (this.crashes - 1), policy.maxMs);
    this.errorMessage = `crashed: ${why}`;
    this.statusMessage = `restarting in ${delay} ms after crash ${this.crashes} of ${policy.maxCrashes}`;
    this.setState('crashed', `${why}; restart in ${delay} ms`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.restarts++;
      void this.enqueue(() => (this.state === 'crashed' ? this.startFresh(`restart ${this.restarts} after crash`) : undefined));
    }, delay);
  }

  /**
   * Graceful stop of the current instance (plugin_stop, then close). A trap or timeout here is
   * logged, not a crash. The inbox is kept: a reload or restart hands it to the next instance.
   */
  private stopInstance(): void {
    const instance = this.instance;
    if (instance) {
      this.emitLineage = newLineage(1);
      try {
        const rc = this.deps.guard.run(() => instance.stop(), 'plugin_stop');
        if (rc !== 0) this.log.warn(`plugin_stop returned ${rc}`);
      } catch (err) {
        this.log.warn(`plugin_stop failed: ${message(err)}`);
        this.event(`plugin_stop failed: ${message(err)}`);
      } finally {
        this.flush();
      }
    }
    this.teardown();
  }

  /** Drops the instance and everything tied to it. */
  private teardown(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    clearTimeout(this.throttleTimer);
    this.throttleTimer = undefined;
    clearTimeout(this.halDataDeferred);
    this.halDataDeferred = undefined;
    this.deps.puts.removePlugin(this.id);
    this.deps.resources.removePlugin(this.id);
    this.deps.weather.removePlugin(this.id);
    this.pausedIn = undefined;
    // The list stays known (a request is told the plugin is not running), the instance goes.
    if (this.endpoints) this.endpoints = { instance: undefined, list: this.endpoints.list };
    this.buffering = false;
    const instance = this.instance;
    this.instance = undefined;
    if (!instance) return;
    try {
      instance.close();
    } catch (err) {
      this.log.warn(`closing the instance failed: ${message(err)}`);
    }
  }

  private clearRestartTimer(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
  }

  private halt(state: 'stopped' | 'disabled' | 'failed'): void {
    this.epoch++;
    this.clearRestartTimer();
    this.stopInstance();
    this.discardInbox();
    this.statusMessage = '';
    this.setState(state);
  }

  // ---- views ----

  /** The plugin's JSON schema; loads the module once when it has not run yet (e.g. disabled). */
  async configSchema(): Promise<JsonValue | undefined> {
    if (this.schemaKnown) return this.schema;
    const instance = await this.load();
    try {
      this.schema = instance.schema;
      this.name = instance.name || this.name;
      this.schemaKnown = true;
    } finally {
      instance.close();
      this.outbox = [];
    }
    return this.schema;
  }

  config(): { enabled: boolean; enableDebug: boolean; configuration: JsonValue | undefined } {
    return { enabled: this.enabled, enableDebug: this.enableDebug, configuration: this.configuration };
  }

  get currentState(): PluginState {
    return this.state;
  }

  status(): PluginStatus {
    const { lastRejection, ...counts } = this.stats;
    return {
      id: this.id,
      name: this.name,
      packageName: this.manifest.packageName,
      version: this.manifest.version,
      description: this.manifest.description,
      state: this.state,
      enabled: this.enabled,
      statusMessage: this.statusMessage,
      errorMessage: this.errorMessage,
      crashes: this.crashes,
      restarts: this.restarts,
      capabilities: { ...this.policy.describe(), denied: this.denials.list() },
      hal: this.instance?.hal?.handles() ?? [],
      subscriptions: this.manifest.subscriptions ?? 'all',
      putHandlers: this.deps.puts.ofPlugin(this.id),
      resourceProvider: this.deps.resources.ofPlugin(this.id),
      weatherProvider: this.deps.weather.has(this.id),
      httpEndpoints: this.httpEndpoints().map(({ method, path }) => ({ method, path })),
      deltas: lastRejection === undefined ? counts : { ...counts, lastRejection },
      quota: this.quota.status(),
      putRefused: [...this.putRefused],
      wasmPath: this.manifest.wasmPath,
      events: [...this.events],
    };
  }
}
