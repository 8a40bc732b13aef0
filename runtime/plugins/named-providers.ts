// Plugins registered as providers of one v2 API under the name they gave (weather, radar), in
// registration order, with the default provider as upstream keeps it: the first registered until
// the operator chooses another (POST .../_providers/_default/<id>), the next one when it goes away.

export class NamedProviders {
  /** plugin id → provider name, in registration order. */
  private readonly byPlugin = new Map<string, string>();
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

  removePlugin(pluginId: string): void {
    this.byPlugin.delete(pluginId);
    if (this.defaultId === pluginId) this.defaultId = this.byPlugin.keys().next().value;
  }
}
