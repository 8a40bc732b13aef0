// Which plugins serve the v2 radar API (sk_register_radar_provider), under the name they gave, and
// which radar ids each last listed; emptied when a plugin's instance goes away. The first registered
// is the default provider until the operator chooses another, as upstream's RadarApi.

export class RadarProviderRegistry {
  /** plugin id → provider name, in registration order. */
  private readonly byPlugin = new Map<string, string>();
  /** radar id → the plugin whose radar_get_radars listed it first. */
  private readonly claims = new Map<string, string>();
  private defaultId: string | undefined;

  add(pluginId: string, name: string): void {
    this.byPlugin.set(pluginId, name);
    this.defaultId ??= pluginId;
  }

  list(): { id: string; name: string; isDefault: boolean }[] {
    return [...this.byPlugin].map(([id, name]) => ({ id, name, isDefault: id === this.defaultId }));
  }

  has(pluginId: string): boolean {
    return this.byPlugin.has(pluginId);
  }

  getDefault(): string | undefined {
    return this.defaultId;
  }

  /** False when `pluginId` is no registered provider. */
  setDefault(pluginId: string): boolean {
    if (!this.byPlugin.has(pluginId)) return false;
    this.defaultId = pluginId;
    return true;
  }

  /**
   * The radar ids a provider listed; returns those it may serve: an id already claimed by another
   * provider stays theirs (upstream: the first provider to claim an id wins).
   */
  claim(pluginId: string, radarIds: readonly string[]): string[] {
    for (const [radar, owner] of this.claims) if (owner === pluginId && !radarIds.includes(radar)) this.claims.delete(radar);
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
    if (!this.byPlugin.has(pluginId)) return false;
    const owner = this.claims.get(radarId);
    return owner === undefined || owner === pluginId;
  }

  removePlugin(pluginId: string): void {
    this.byPlugin.delete(pluginId);
    for (const [radar, owner] of this.claims) if (owner === pluginId) this.claims.delete(radar);
    if (this.defaultId === pluginId) this.defaultId = this.byPlugin.keys().next().value;
  }
}
