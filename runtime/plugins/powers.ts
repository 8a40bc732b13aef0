// What one plugin may do and what it has registered with the runtime: its capability policy
// (rebuilt when the operator changes grants) with the calls it was refused, and the PUT paths,
// resource, weather and radar providers and binary streams it registers, each checked against its grants.

import { validStreamId, type BinaryStreamHub } from '../api/binary-streams.js';
import { DenialLog } from '../capabilities/denials.js';
import { CapabilityPolicy } from '../capabilities/policy.js';
import type { GrantTable } from '../capabilities/store.js';
import type { Logger } from '../../core/log.js';
import type { PluginManifest } from './discovery.js';
import type { PutHandlerRegistry } from './put-handlers.js';
import { validResourceType, type ResourceProviderRegistry } from './resource-providers.js';
import type { PluginReport, PluginStatus } from './status.js';
import type { WeatherProviderRegistry } from './weather-providers.js';
import type { RadarProviderRegistry } from './radar-providers.js';
import type { NamedProviders } from './named-providers.js';

export interface PowersDeps {
  grants: GrantTable;
  /** Board device aliases (nmea1 → /dev/ttyUSB0). */
  aliases: Readonly<Record<string, string>>;
  puts: PutHandlerRegistry;
  resources: ResourceProviderRegistry;
  weather: WeatherProviderRegistry;
  radars: RadarProviderRegistry;
  binaryStreams: BinaryStreamHub;
}

export class PluginPowers {
  private current: CapabilityPolicy;
  private readonly denials: DenialLog;
  private readonly id: string;

  constructor(
    private readonly manifest: PluginManifest,
    private readonly deps: PowersDeps,
    private readonly log: Logger,
    private readonly report: PluginReport,
  ) {
    this.id = manifest.id;
    this.current = this.build();
    this.denials = new DenialLog(this.id, log);
  }

  private build(): CapabilityPolicy {
    const { requested, requests } = this.manifest;
    return new CapabilityPolicy({
      requestedFlags: requested,
      requests,
      granted: this.deps.grants.grantsFor(this.id),
      aliases: this.deps.aliases,
    });
  }

  /** The plugin's capabilities now. */
  get policy(): CapabilityPolicy {
    return this.current;
  }

  /** The operator changed grants: the policy is rebuilt and the refusals start afresh. */
  regrant(): void {
    this.current = this.build();
    this.denials.clear();
  }

  /** Records a refusal (logged once per capability, shown in status); returns the text for the plugin. */
  deny(capability: string, call: string): string {
    return this.denials.deny(capability, call);
  }

  allowsNet(host: string, port: number): boolean {
    if (this.current.net(host, port)) return true;
    this.denials.deny(`net:${host}:${port}`, 'network access (raw socket or HTTP fetch)');
    return false;
  }

  addPutHandler(context: string, path: string): boolean {
    const owner = this.deps.puts.add({ pluginId: this.id, context, path });
    if (owner === undefined) return true;
    const why = `PUT handler for ${context} ${path} refused: plugin ${owner} owns that path`;
    this.report.refusedPut({ context, path, owner });
    this.report.errorMessage = why;
    this.report.event(why);
    this.log.warn(why);
    return false;
  }

  addResourceProvider(type: string): boolean {
    if (!validResourceType(type)) {
      this.log.warn(
        `resource provider for ${JSON.stringify(type.slice(0, 80))} refused: a type is a letter then letters, digits, _ or -, at most 64`,
      );
      return false;
    }
    if (!this.current.flag('resourceProvider')) {
      this.denials.deny('resourceProvider', `sk_register_resource_provider(${type})`);
      return false;
    }
    this.deps.resources.add(type, this.id);
    this.report.event(`resource provider for ${type}`);
    return true;
  }

  addWeatherProvider(name: string): boolean {
    return this.addNamedProvider('weather', this.deps.weather, name);
  }

  addRadarProvider(name: string): boolean {
    return this.addNamedProvider('radar', this.deps.radars, name);
  }

  /** Weather and radar providers: a name each, allowed by the `<kind>Provider` grant. */
  private addNamedProvider(kind: 'weather' | 'radar', registry: NamedProviders, name: string): boolean {
    if (!this.current.flag(`${kind}Provider`)) {
      this.denials.deny(`${kind}Provider`, `sk_register_${kind}_provider(${name.slice(0, 80)})`);
      return false;
    }
    registry.add(this.id, name.slice(0, 120));
    this.report.event(`${kind} provider ${name.slice(0, 120)}`);
    return true;
  }

  emitBinary(streamId: string, data: Uint8Array): boolean {
    // Spokes only from a registered radar provider, for radar ids no other provider listed.
    const radar =
      streamId.startsWith('radars/') &&
      this.current.flag('radarProvider') &&
      this.deps.radars.mayEmit(this.id, streamId.slice(7));
    const own = streamId.startsWith(`plugins/${this.id}/`) || radar;
    if (!validStreamId(streamId) || !own) {
      this.log.limited(
        'warn',
        'binary-stream',
        `binary stream ${JSON.stringify(streamId.slice(0, 100))} refused: a plugin emits on plugins/${this.id}/<name> (or radars/<id> of its own as a registered radarProvider)`,
      );
      return false;
    }
    this.deps.binaryStreams.emit(streamId, data);
    return true;
  }

  /** The instance is gone: what it registered goes with it. */
  unregister(): void {
    this.deps.puts.removePlugin(this.id);
    this.deps.resources.removePlugin(this.id);
    this.deps.weather.removePlugin(this.id);
    this.deps.radars.removePlugin(this.id);
  }

  status(): Pick<
    PluginStatus,
    'capabilities' | 'putHandlers' | 'resourceProvider' | 'weatherProvider' | 'radarProvider'
  > {
    return {
      capabilities: { ...this.current.describe(), denied: this.denials.list() },
      putHandlers: this.deps.puts.ofPlugin(this.id),
      resourceProvider: this.deps.resources.ofPlugin(this.id),
      weatherProvider: this.deps.weather.has(this.id),
      radarProvider: this.deps.radars.has(this.id),
    };
  }
}
