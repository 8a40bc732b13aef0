// Which plugin answers a PUT to (context, path): filled by sk_register_put_handler, emptied when
// the plugin's instance goes away.

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

  add(route: PutRoute): void {
    this.routes.set(this.key(route.context, route.path), route);
  }

  find(context: string, path: string): PutRoute | undefined {
    return this.routes.get(this.key(context, path));
  }

  removePlugin(pluginId: string): void {
    for (const [k, r] of this.routes) if (r.pluginId === pluginId) this.routes.delete(k);
  }

  ofPlugin(pluginId: string): { context: string; path: string }[] {
    return [...this.routes.values()].filter((r) => r.pluginId === pluginId).map(({ context, path }) => ({ context, path }));
  }
}
