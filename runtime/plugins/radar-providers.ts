// Which plugins serve the v2 radar API (sk_register_radar_provider), under the name they gave, and
// which radar ids each last listed; emptied when a plugin's instance goes away. The first registered
// is the default provider until the operator chooses another, as upstream's RadarApi.

import { NamedProviders } from './named-providers.js';

export class RadarProviderRegistry extends NamedProviders {
  /** radar id → the plugin whose radar_get_radars listed it first. */
  private readonly claims = new Map<string, string>();

  /**
   * The radar ids a provider listed; returns those it may serve: an id already claimed by another
   * provider stays theirs (upstream: the first provider to claim an id wins).
   */
  claim(pluginId: string, radarIds: readonly string[]): string[] {
    for (const [radar, owner] of this.claims)
      if (owner === pluginId && !radarIds.includes(radar)) this.claims.delete(radar);
    const own: string[] = [];
    for (const radar of radarIds) {
      const owner = this.claims.get(radar) ?? pluginId;
      if (owner !== pluginId) continue;
      this.claims.set(radar, pluginId);
      own.push(radar);
    }
    return own;
  }

  /** A provider may send spokes for its own radars and for ids nobody has claimed yet (before the first listing). */
  mayEmit(pluginId: string, radarId: string): boolean {
    if (!this.has(pluginId)) return false;
    const owner = this.claims.get(radarId);
    return owner === undefined || owner === pluginId;
  }

  override removePlugin(pluginId: string): void {
    super.removePlugin(pluginId);
    for (const [radar, owner] of this.claims) if (owner === pluginId) this.claims.delete(radar);
  }
}
