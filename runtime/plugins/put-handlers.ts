// Which plugin answers a PUT to (context, path): filled by sk_register_put_handler, emptied when
// the plugin's instance goes away. A path belongs to the plugin that registered it first: another
// plugin cannot take it over (it would answer for the first, and leave 405 behind when disabled).

export interface PutRoute {
  pluginId: string;
  /** The context as the plugin registered it: the handler export's name is derived from it. */
  context: string;
  path: string;
}

export class PutHandlerRegistry {
  private readonly routes = new Map<string, PutRoute>();

  /** `resolveContext` maps `vessels.self` to the self vessel so both spellings find the handler. */
  constructor(private readonly resolveContext: (context: string) => string) {}

  private key(context: string, path: string): string {
    return `${this.resolveContext(context)}\u0000${path}`;
  }

  /**
   * Routes (context, path) to the plugin unless another plugin owns it: the first registration
   * holds until its plugin's instance goes away. Returns the owner that refused, else undefined.
   */
  add(route: PutRoute): string | undefined {
    const key = this.key(route.context, route.path);
    const owner = this.routes.get(key);
    if (owner !== undefined && owner.pluginId !== route.pluginId) return owner.pluginId;
    this.routes.set(key, route);
    return undefined;
  }

  find(context: string, path: string): PutRoute | undefined {
    return this.routes.get(this.key(context, path));
  }

  removePlugin(pluginId: string): void {
    for (const [k, r] of this.routes) if (r.pluginId === pluginId) this.routes.delete(k);
  }

  ofPlugin(pluginId: string): { context: string; path: string }[] {
    return [...this.routes.values()]
      .filter((r) => r.pluginId === pluginId)
      .map(({ context, path }) => ({ context, path }));
  }
}
