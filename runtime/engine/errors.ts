// Load failures name the plugin and the cause, so the operator sees `plugin foo: missing import env.sk_bar`.

export class PluginLoadError extends Error {
  constructor(
    readonly pluginId: string,
    readonly reason: string,
  ) {
    super(`plugin ${pluginId}: ${reason}`);
    this.name = 'PluginLoadError';
  }
}
