// One plugin's lifecycle: load → start → deliver deltas / poll / PUT → stop, with crash recovery
// (exponential backoff, give up after a limit) and hot reload. Every call into the instance runs
// under the CallGuard (a call past plugins.callTimeoutMs is stopped) and turns a trap or a timeout
// into a crash: single calls through `call`, deltas queued in the inbox and delivered in batches
// by the DeliveryScheduler. What the plugin emitted is published only after the call or batch has
// returned, so no instance is ever re-entered.
// This class coordinates; the parts live beside it: the state table (lifecycle.ts), crash decisions
// (restart-policy.ts), the status (status.ts), grants and registrations (powers.ts), loading
// (instance-loader.ts), handler exports (export-calls.ts), the outbox and the operation queue.

import type { Delta } from '../../core/delta.js';
import type { JsonValue } from '../../core/json.js';
import type { BusDelta, DeltaVersion } from '../bus/bus.js';
import type { PutResult } from '../api/types.js';
import type { PluginRestartSettings } from '../config/settings.js';
import type { HostServices, PluginInstance } from '../engine/types.js';
import type { CommandEvents } from '../engine/command.js';
import type { SignalKModel } from '../model/model.js';
import { createLogger, type Logger } from '../../core/log.js';
import { configFile } from '../storage/plugin-storage.js';
import type { PluginManifest } from './discovery.js';
import type { DeviceHost, MqttAccess } from '../abi/devices/index.js';
import type { Flags } from '../capabilities/policy.js';
import type { HalDevices } from '../../hal/devices.js';
import type { EngineOptions } from './engine-options.js';
import { createHostServices, type HostTarget } from './host-services.js';
import { readPluginConfig, writePluginConfig } from './plugin-config.js';
import { subscriptionFilter, type DeltaFilter } from './subscriptions.js';
import type { CallGuard } from './call-guard.js';
import { QueuedDelta, type DeliveryScheduler, type DeliveryTarget } from './delivery.js';
import { BoundedQueue } from '../../core/bounded-queue.js';
import { answerTo, newLineage, type EmittedDelta, type Lineage } from './publisher.js';
import { Outbox } from './outbox.js';
import { OperationQueue } from './operation-queue.js';
import { PluginQuota } from './quotas.js';
import { logLine } from './host-services.js';
import {
  HTTP_RESPONSE_MAX_BYTES,
  matchEndpoint,
  parseResponse,
  requestJson,
  type HttpAnswer,
  type HttpEndpoint,
} from './endpoints.js';
import { HostMarshalError } from '../engine/marshal.js';
import type { Limits } from '../security/limits.js';
import { Lifecycle, type PluginState } from './lifecycle.js';
import { afterCrash } from './restart-policy.js';
import { PluginReport, type PluginStatus } from './status.js';
import { PluginPowers, type PowersDeps } from './powers.js';
import { loadInstance, startConfig, type InstanceSource } from './instance-loader.js';
import { callExport, EndpointList, type HandlerFailure } from './export-calls.js';

/** Deltas waiting for a plugin (while it starts, or between delivery runs); beyond this the oldest are dropped (and counted). */
const INBOX_LIMIT = 10_000;
const POLL_INTERVAL_MS = 1000;

/** What every runner shares: the runtime's registries, bus, devices and settings (PowersDeps: grants, aliases, registries). */
export interface RunnerDeps extends PowersDeps {
  dataDir: string;
  /** AOT cache folder and per-plugin memory cap (see engine-options.ts). */
  engine: EngineOptions;
  restart: PluginRestartSettings;
  model: SignalKModel;
  /** Publishes deltas a plugin emitted (already validated and tagged); returns how many were cut as feedback. */
  publish(deltas: EmittedDelta[], origin: string): number;
  /** Bounds every call into the plugin (plugins.callTimeoutMs). */
  guard: CallGuard;
  /** Runs queued delta deliveries in guarded batches. */
  scheduler: DeliveryScheduler;
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
  /** Deliveries deferred while the plugin is over its CPU share. */
  private throttleTimer: NodeJS.Timeout | undefined;
  private readonly lifecycle: Lifecycle;
  private readonly report = new PluginReport();
  private enabled: boolean;
  private enableDebug: boolean;
  private configuration: JsonValue | undefined;
  private name: string;
  private schema: JsonValue | undefined;
  private schemaKnown = false;
  private crashes = 0;
  private restarts = 0;
  private readonly host: HostServices;
  private readonly filter: DeltaFilter;
  private readonly source: InstanceSource;
  private instance: PluginInstance | undefined;
  private readonly outbox = new Outbox((deltas) => this.deps.publish(deltas, `plugin:${this.id}`), this.report.deltas);
  /** Deltas waiting for delivery, in order; kept while the plugin starts or reloads. */
  private readonly inbox = new BoundedQueue<QueuedDelta>(INBOX_LIMIT);
  /** Starting: deltas queue in the inbox until the instance runs. */
  private buffering = false;
  /** Bumped whenever a pending load becomes obsolete (stop, crash, newer start). */
  private epoch = 0;
  private startedAt = 0;
  private pollTimer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  /** Lifecycle operations run one at a time. */
  private readonly operations = new OperationQueue((err) =>
    this.log.error(`lifecycle operation failed: ${message(err)}`),
  );
  private readonly powers: PluginPowers;
  /** A device handle has data: `hal_data` is called in the scheduler's next run. */
  private halDataWanted = false;
  /** The call the scheduler's run is in (names a timeout). */
  running = 'delta_handler';
  /** A provider handler paused for a fetch: nothing else may enter the instance until it returns. */
  private pausedIn: string | undefined;
  /** What the plugin last said with sk_set_error since its plugin_start began: the reason when the start fails. */
  private startError: string | undefined;
  private readonly endpoints: EndpointList;
  /** Lineage of a command plugin's last asynchronous output (see commandEvents). */
  private asyncLineage: Lineage | undefined;
  /** A command plugin runs on its own: its stdout deltas are published as they come, its end is a crash. */
  private readonly commandEvents: CommandEvents = {
    output: (lines) => {
      // Which input a line answers is unknown: each line starts a chain of its own, one generation
      // below the delta last written to stdin when one was delivered since the previous output
      // (deliverQueued set a new lineage), so loops through stdin are still cut at 16 generations.
      const generation = this.outbox.lineage === this.asyncLineage ? 1 : this.outbox.lineage.generation;
      for (const line of lines) {
        this.outbox.lineage = newLineage(generation);
        this.host.emitDelta(line, 1);
      }
      this.asyncLineage = this.outbox.lineage;
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
    this.filter = subscriptionFilter(manifest.subscriptions, deps.model.selfContext, (c) =>
      deps.model.resolveContext(c),
    );
    this.host = createHostServices(this);
    this.powers = new PluginPowers(manifest, deps, this.log, this.report);
    this.endpoints = new EndpointList(this.log);
    const hal: DeviceHost = {
      pluginId: this.id,
      devices: deps.devices,
      policy: () => this.powers.policy,
      deny: (capability, call) => this.powers.deny(capability, call),
      mqtt: () => deps.mqtt(),
      dataReady: () => this.scheduleHalData(),
    };
    this.source = {
      manifest,
      dataDir: deps.dataDir,
      engine: deps.engine,
      guard: deps.guard,
      storageMB: deps.limits.plugins.storageMB,
      host: this.host,
      hal,
      commandEvents: this.commandEvents,
    };
    let stored;
    try {
      stored = readPluginConfig(this.configFile);
    } catch (err) {
      this.log.error(`config file unreadable, plugin left disabled: ${message(err)}`);
      stored = { enabled: false, enableDebug: false, configuration: undefined };
      this.report.errorMessage = `config file unreadable: ${message(err)}`;
    }
    this.enabled = stored.enabled;
    this.enableDebug = stored.enableDebug;
    this.configuration = stored.configuration;
    this.lifecycle = new Lifecycle(this.enabled ? 'stopped' : 'disabled');
  }

  // ---- HostTarget (called by the host functions during a call into the plugin) ----

  capabilities(): Flags {
    return this.powers.policy.flags();
  }

  allowsNet(host: string, port: number): boolean {
    return this.powers.allowsNet(host, port);
  }

  addPutHandler(context: string, path: string): boolean {
    return this.powers.addPutHandler(context, path);
  }

  addResourceProvider(type: string): boolean {
    return this.powers.addResourceProvider(type);
  }

  addWeatherProvider(name: string): boolean {
    return this.powers.addWeatherProvider(name);
  }

  addRadarProvider(name: string): boolean {
    return this.powers.addRadarProvider(name);
  }

  emitBinary(streamId: string, data: Uint8Array): boolean {
    return this.powers.emitBinary(streamId, data);
  }

  /** The operator changed grants: applies them to the running instance at once (open handles included). */
  regrant(): void {
    this.powers.regrant();
    this.instance?.hal?.regrant();
    this.report.event('grants changed');
  }

  /**
   * New data on a device handle (signalk_hal): one `hal_data` call in the delivery scheduler's next
   * run, however many chunks arrived, in the same guarded run as the plugins' deltas.
   */
  private scheduleHalData(): void {
    if (!this.instance?.hasHalData) return;
    this.halDataWanted = true;
    // Over its CPU share, the throttle's timer wakes it when the share has refilled (the data waits
    // in the handle's queue, bounded there); paused at a fetch, the handler's return wakes it.
    if (!this.buffering && !this.throttleTimer) this.deps.scheduler.wake(this);
  }

  noteStatus(m: string): void {
    // As upstream: a new status replaces an earlier error.
    this.report.errorMessage = '';
    this.report.statusMessage = logLine(m);
    if (this.quota.admitLogLine()) this.log.info(`status: ${this.report.statusMessage}`);
  }
  noteError(m: string): void {
    this.report.errorMessage = logLine(m);
    this.startError = this.report.errorMessage;
    if (this.quota.admitLogLine()) this.log.warn(`error: ${this.report.errorMessage}`);
  }
  queueDelta(delta: Delta, version: DeltaVersion): void {
    this.outbox.queue(delta, version);
  }
  noteRejected(reason: string): void {
    this.report.deltas.rejected++;
    this.report.deltas.lastRejection = reason;
    this.log.limited('warn', 'rejected', `emitted delta refused: ${reason}`);
  }
  // ---- data path ----

  /**
   * A delta from the bus; the plugin gets it when it matches the subscriptions and is not its own.
   * It is queued and delivered in the scheduler's next batch; `lineage` places it in a chain of outputs.
   */
  offer(msg: BusDelta, lineage: Lineage): void {
    // A plugin without delta_handler gets no deltas, also while paused at a fetch (buffering).
    if (this.instance !== undefined && !this.instance.hasDeltaHandler) return;
    if (!this.buffering && !(this.instance !== undefined && this.lifecycle.serving)) return;
    const delta = msg.delta;
    const first = delta.updates[0];
    if (first !== undefined && first.$source === this.id && first.source?.type === 'plugin') return;
    if (!this.filter(delta)) return;
    if (this.inbox.push(new QueuedDelta(msg.json, lineage))) {
      this.report.deltas.dropped++;
      this.log.limited(
        'warn',
        'inbox',
        `inbox full (${INBOX_LIMIT} deltas): oldest dropped; the plugin cannot keep up`,
      );
    }
    // Over its CPU share, the throttle's timer wakes it when the share has refilled.
    if (!this.buffering && !this.throttleTimer) this.deps.scheduler.wake(this, this.inbox.length);
  }

  // ---- DeliveryTarget (called by the scheduler) ----

  deliverQueued(deadline: number): boolean {
    const instance = this.instance;
    if (!instance || this.buffering || !this.lifecycle.serving) return false;
    if (!this.quota.cpu.allowed()) {
      this.deferDeliveries();
      return false;
    }
    const start = performance.now();
    const until = Math.min(deadline, start + this.quota.cpu.available());
    try {
      if (this.halDataWanted) {
        this.halDataWanted = false;
        this.running = 'hal_data';
        this.outbox.lineage = newLineage(1);
        instance.halData();
      }
      this.running = 'delta_handler';
      for (let item = this.inbox.shift(); item !== undefined; item = this.inbox.shift()) {
        this.report.deltas.received++;
        this.outbox.lineage = answerTo(item.lineage);
        instance.deliverDelta(item.json);
        if (performance.now() >= until) break;
      }
    } finally {
      this.quota.cpu.charge(performance.now() - start);
    }
    return this.hasWork();
  }

  private hasWork(): boolean {
    return this.inbox.length > 0 || this.halDataWanted;
  }

  /**
   * Over its CPU share: deliveries and hal_data wait until the share has refilled (deltas queue
   * meanwhile, bounded by the inbox; device data in its handle's queue).
   */
  private deferDeliveries(): void {
    if (this.throttleTimer) return;
    this.throttleTimer = setTimeout(() => {
      this.throttleTimer = undefined;
      if (this.checkCpuShare() && this.hasWork()) this.deps.scheduler.wake(this);
    }, this.quota.cpu.waitMs());
  }

  /** Stops the plugin when it has been held at its CPU share for limits.plugins.cpuOverMs; false then. */
  private checkCpuShare(): boolean {
    if (!this.quota.cpu.over() || !this.instance) return true;
    const q = this.deps.limits.plugins;
    const why = `stopped: used its whole share of the main thread (limits.plugins.cpuShare ${q.cpuShare}) for ${q.cpuOverMs} ms without a break`;
    void this.operations.enqueue(() => {
      if (!this.instance) return;
      this.halt('failed');
      this.report.errorMessage = why;
      this.report.statusMessage = 'not restarting: over its CPU share; restart it through the API';
      this.report.event(why);
      this.log.error(`${why}; ${this.report.statusMessage}`);
    });
    return false;
  }

  fail(err: unknown): void {
    if (this.instance) this.crash(err);
  }

  /** Routes a PUT to the plugin's handler export. */
  handlePut(context: string, path: string, value: JsonValue): PutResult {
    if (!this.lifecycle.serving) {
      return { state: 'FAILED', statusCode: 503, message: `plugin ${this.id} is ${this.lifecycle.state}` };
    }
    if (this.pausedIn !== undefined)
      return {
        state: 'FAILED',
        statusCode: 503,
        message: `plugin ${this.id} is busy: ${this.pausedIn} waits for a fetch`,
      };
    const valueJson = JSON.stringify(value);
    // Not charged to the plugin's CPU share: the caller decides how often a PUT runs, and a client must not get a plugin stopped.
    const result = this.call((i) => i.handlePut(context, path, valueJson), 'PUT handler', false);
    return (
      result ?? {
        state: 'FAILED',
        statusCode: 500,
        message: `plugin ${this.id} crashed handling the PUT: ${this.report.errorMessage}`,
      }
    );
  }

  /** The instance's HTTP endpoints, the last instance's while none runs (see EndpointList). */
  httpEndpoints(): HttpEndpoint[] {
    return this.endpoints.of(this.instance);
  }

  /**
   * Answers a request to one of the plugin's HTTP endpoints (`path` below /plugins/<id>); undefined
   * when no endpoint matches. A trap or runaway is a crash (500); an unusable or oversized answer is 502.
   */
  handleHttp(req: {
    method: string;
    path: string;
    query: URLSearchParams;
    body: unknown;
    headers: Record<string, string | string[] | undefined>;
  }): HttpAnswer | undefined {
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

  /** Whether the running instance exports `name`; undefined while none runs. */
  hasExport(name: string): boolean | undefined {
    return this.instance?.hasExport?.(name);
  }

  /**
   * Calls a handler export (HTTP endpoint, provider) with a request JSON; its response JSON, or an
   * error with the HTTP status it stands for: 503 not running, 500 crashed or ran away (a crash,
   * restarted with backoff), 502 an answer over `maxBytes` (the plugin keeps running).
   */
  callHandler(handler: string, request: string, maxBytes: number): { text: string } | HandlerFailure {
    if (!this.lifecycle.serving) return { status: 503, error: `plugin ${this.id} is ${this.lifecycle.state}` };
    if (this.pausedIn !== undefined) return this.busy();
    return this.callHandlerExport(handler, (i) =>
      i.callHandler ? { text: i.callHandler(handler, request, maxBytes) } : undefined,
    );
  }

  /**
   * callHandler for a handler that may fetch (weather providers, as upstream resumes them): while
   * it waits for its fetch the plugin is busy (deltas queue, poll and hal_data wait, other calls
   * answer 503), and each re-entry runs under the call bound.
   */
  async callHandlerResumable(
    handler: string,
    request: string,
    maxBytes: number,
  ): Promise<{ text: string } | HandlerFailure> {
    if (this.pausedIn !== undefined) return this.busy();
    const instance = this.instance;
    if (!instance?.callResumable || !this.lifecycle.serving) return this.callHandler(handler, request, maxBytes);
    const result = this.callHandlerExport(handler, (i): { text: string } | { pending: Promise<string> } => {
      const r = i.callResumable!(handler, request, maxBytes);
      return typeof r === 'string' ? { text: r } : { pending: r };
    });
    if (!('pending' in result)) return result;
    this.pausedIn = handler;
    this.buffering = true;
    try {
      return { text: await result.pending };
    } catch (err) {
      if (err instanceof HostMarshalError)
        return { status: 502, error: `plugin ${this.id} ${handler}: ${err.message}` };
      if (this.instance === instance) this.crash(err);
      return { status: 500, error: `plugin ${this.id} crashed in ${handler}: ${message(err)}` };
    } finally {
      if (this.instance === instance) {
        this.pausedIn = undefined;
        this.buffering = false;
        this.flush();
        if (this.hasWork()) this.deps.scheduler.wake(this);
      }
    }
  }

  private busy(): HandlerFailure {
    return { status: 503, error: `plugin ${this.id} is busy: ${this.pausedIn} waits for a fetch` };
  }

  /** One uncharged call of a handler export (a client must not get a plugin stopped): a crash answers 500, an unusable answer 502. */
  private callHandlerExport<T extends object>(
    handler: string,
    body: (instance: PluginInstance) => T | undefined,
  ): T | HandlerFailure {
    const result = this.call((i) => callExport(i, handler, () => body(i)), handler, false);
    if (result === undefined)
      return { status: 500, error: `plugin ${this.id} crashed in ${handler}: ${this.report.errorMessage}` };
    if ('error' in result) return { status: 502, error: `plugin ${this.id} ${result.error}` };
    return result;
  }

  /** Runs one guarded call into the instance: a throw or a timeout is a crash; emitted deltas are published afterwards. */
  private call<T>(fn: (instance: PluginInstance) => T, what: string, charged = true): T | undefined {
    const instance = this.instance;
    if (!instance) return undefined;
    this.outbox.lineage = newLineage(1);
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
    this.outbox.flush();
  }

  /** Discards what waits in the inbox (crash, stop, failed start), counted as dropped. */
  private discardInbox(): void {
    this.report.deltas.dropped += this.inbox.clear();
    this.deps.scheduler.cancel(this);
  }

  // ---- lifecycle ----

  private setState(state: PluginState, note?: string): void {
    this.lifecycle.moveTo(state);
    this.report.event(note ? `${state}: ${note}` : state);
  }

  /** Starts the plugin when it is enabled (no-op when it runs already). */
  start(): Promise<void> {
    return this.operations.enqueue(() => {
      if (!this.enabled || this.lifecycle.state === 'running') return;
      return this.startFresh('start');
    });
  }

  stop(): Promise<void> {
    return this.operations.enqueue(() => this.halt(this.enabled ? 'stopped' : 'disabled'));
  }

  /** The operator asks for a restart: also the way out of `failed`. */
  restart(): Promise<void> {
    return this.operations.enqueue(() => {
      if (!this.enabled) return;
      this.stopInstance();
      this.crashes = 0;
      return this.startFresh('restart requested');
    });
  }

  /** Rejects when the setting could not be saved (nothing changed then). */
  setEnabled(enabled: boolean): Promise<void> {
    return this.operations.run(() => {
      writePluginConfig(this.configFile, { enabled, configuration: this.configuration }, null);
      this.enabled = enabled;
      this.report.errorMessage = '';
      if (!enabled) return this.halt('disabled');
      if (this.lifecycle.serving) return;
      this.crashes = 0;
      return this.startFresh('enabled');
    });
  }

  /** Upstream's debug switch: persisted; a running plugin restarts to get it in its start configuration. */
  setEnableDebug(enableDebug: boolean): Promise<void> {
    return this.operations.run(() => {
      if (enableDebug === this.enableDebug) return;
      writePluginConfig(this.configFile, { enableDebug }, this.quota.config);
      this.enableDebug = enableDebug;
      if (!this.lifecycle.serving) return;
      this.stopInstance();
      return this.startFresh('debug switched');
    });
  }

  /** Persists a (validated) configuration and restarts the plugin with it when it runs; rejects when it could not be saved (ConfigBoundsError: out of bounds). */
  setConfiguration(configuration: JsonValue): Promise<void> {
    return this.operations.run(() => {
      writePluginConfig(this.configFile, { enabled: this.enabled, configuration }, this.quota.config);
      this.configuration = configuration;
      if (!this.lifecycle.serving) return;
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
    return this.operations.enqueue(async () => {
      if (!this.enabled) {
        this.schemaKnown = false;
        return;
      }
      if (this.lifecycle.state !== 'running') {
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
        this.lifecycle.moveTo('running');
        this.report.errorMessage = `reload failed, still running the previous module: ${message(err)}`;
        this.report.event(this.report.errorMessage);
        this.log.error(this.report.errorMessage);
        return;
      }
      if (epoch !== this.epoch || this.instance !== old) {
        next.close();
        return;
      }
      this.stopInstance();
      this.crashes = 0;
      this.report.errorMessage = '';
      this.activate(next, 'reloaded');
    });
  }

  private load(): Promise<PluginInstance> {
    return loadInstance(this.source, this.configuration);
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
      this.report.errorMessage = message(err);
      this.setState('error', this.report.errorMessage);
      this.log.error(this.report.errorMessage);
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
    this.report.statusMessage = '';
    this.startError = undefined;
    const rc = this.call(
      (i) => i.start(startConfig(this.schema, this.configuration, this.enableDebug)),
      'plugin_start',
    );
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
      this.report.errorMessage = `plugin_start returned ${rc}${this.startError ? `: ${this.startError}` : ''}`;
      this.setState('error', this.report.errorMessage);
      this.log.error(this.report.errorMessage);
      return;
    }
    this.lifecycle.moveTo('running');
    this.startedAt = Date.now();
    this.report.event(note);
    if (!this.report.statusMessage) this.report.statusMessage = 'Running';
    if (instance.hasPoll) {
      this.pollTimer = setInterval(() => this.pollOnce(), POLL_INTERVAL_MS);
      this.pollTimer.unref();
    }
    // What queued meanwhile goes out in the next batch, ahead of anything newer.
    this.buffering = false;
    if (!instance.hasDeltaHandler) this.inbox.clear();
    if (this.hasWork()) this.deps.scheduler.wake(this);
  }

  debugEnabled(): boolean {
    return this.enableDebug;
  }

  private pollOnce(): void {
    if (!this.lifecycle.serving || this.pausedIn !== undefined) return;
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
    const { maxCrashes } = this.deps.restart;
    const decision = afterCrash(
      this.deps.restart,
      this.crashes,
      this.lifecycle.serving ? Date.now() - this.startedAt : undefined,
    );
    this.crashes = decision.crashes;
    this.epoch++;
    this.teardown();
    this.discardInbox();
    this.log.error(`crashed (${this.crashes} of ${maxCrashes}): ${why}`);
    if (decision.action === 'give-up') {
      this.report.errorMessage = `failed: crashed ${this.crashes} times, last error: ${why}`;
      this.report.statusMessage = 'not restarting: enable or restart it through the API';
      this.setState('failed', this.report.errorMessage);
      this.log.error(`${this.report.errorMessage}; ${this.report.statusMessage}`);
      return;
    }
    const delay = decision.delayMs;
    this.report.errorMessage = `crashed: ${why}`;
    this.report.statusMessage = `restarting in ${delay} ms after crash ${this.crashes} of ${maxCrashes}`;
    this.setState('crashed', `${why}; restart in ${delay} ms`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.restarts++;
      void this.operations.enqueue(() =>
        this.lifecycle.state === 'crashed' ? this.startFresh(`restart ${this.restarts} after crash`) : undefined,
      );
    }, delay);
  }

  /**
   * Graceful stop of the current instance (plugin_stop, then close). A trap or timeout here is
   * logged, not a crash. The inbox is kept: a reload or restart hands it to the next instance.
   */
  private stopInstance(): void {
    const instance = this.instance;
    if (instance) {
      this.outbox.lineage = newLineage(1);
      try {
        const rc = this.deps.guard.run(() => instance.stop(), 'plugin_stop');
        if (rc !== 0) this.log.warn(`plugin_stop returned ${rc}`);
      } catch (err) {
        this.log.warn(`plugin_stop failed: ${message(err)}`);
        this.report.event(`plugin_stop failed: ${message(err)}`);
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
    this.halDataWanted = false;
    this.powers.unregister();
    this.pausedIn = undefined;
    // The list stays known (a request is told the plugin is not running), the instance goes.
    this.endpoints.release();
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
    this.report.statusMessage = '';
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
      this.outbox.discard();
    }
    return this.schema;
  }

  config(): { enabled: boolean; enableDebug: boolean; configuration: JsonValue | undefined } {
    return { enabled: this.enabled, enableDebug: this.enableDebug, configuration: this.configuration };
  }

  get currentState(): PluginState {
    return this.lifecycle.state;
  }

  status(): PluginStatus {
    const report = this.report.snapshot();
    const { capabilities, putHandlers, resourceProvider, weatherProvider, radarProvider } = this.powers.status();
    return {
      id: this.id,
      name: this.name,
      packageName: this.manifest.packageName,
      version: this.manifest.version,
      description: this.manifest.description,
      state: this.lifecycle.state,
      enabled: this.enabled,
      statusMessage: report.statusMessage,
      errorMessage: report.errorMessage,
      crashes: this.crashes,
      restarts: this.restarts,
      capabilities,
      hal: this.instance?.hal?.handles() ?? [],
      subscriptions: this.manifest.subscriptions ?? 'all',
      putHandlers,
      resourceProvider,
      weatherProvider,
      radarProvider,
      httpEndpoints: this.httpEndpoints().map(({ method, path }) => ({ method, path })),
      deltas: report.deltas,
      quota: this.quota.status(),
      putRefused: report.putRefused,
      wasmPath: this.manifest.wasmPath,
      events: report.events,
    };
  }
}
