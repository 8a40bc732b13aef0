// Which plugins serve the v2 weather API (sk_register_weather_provider), under the name they gave;
// emptied when a plugin's instance goes away. The first registered is the default, as upstream.

export class WeatherProviderRegistry {
  /** plugin id → provider name, in registration order. */
  private readonly byPlugin = new Map<string, string>();

  add(pluginId: string, name: string): void {
    this.byPlugin.set(pluginId, name);
  }

  list(): { id: string; name: string }[] {
    return [...this.byPlugin].map(([id, name]) => ({ id, name }));
  }

  has(pluginId: string): boolean {
    return this.byPlugin.has(pluginId);
  }

  removePlugin(pluginId: string): void {
    this.byPlugin.delete(pluginId);
  }
}
