// Which plugins serve which resource type (routes, waypoints, notes, or a type of their own):
// filled by sk_register_resource_provider, emptied when the plugin's instance goes away. Several
// plugins may serve one type; the v2 resources API asks them all (see runtime/api/v2/resources.ts).

/** Resource type names: a URL path segment and a Signal K path key. */
const TYPE = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

export function validResourceType(type: string): boolean {
  return TYPE.test(type);
}

export class ResourceProviderRegistry {
  /** type → plugin ids, in registration order (the first is the default for writes). */
  private readonly byType = new Map<string, string[]>();

  add(type: string, pluginId: string): void {
    const ids = this.byType.get(type) ?? [];
    if (!ids.includes(pluginId)) ids.push(pluginId);
    this.byType.set(type, ids);
  }

  providers(type: string): readonly string[] {
    return this.byType.get(type) ?? [];
  }

  types(): string[] {
    return [...this.byType.keys()];
  }

  ofPlugin(pluginId: string): string[] {
    return [...this.byType].filter(([, ids]) => ids.includes(pluginId)).map(([type]) => type);
  }

  removePlugin(pluginId: string): void {
    for (const [type, ids] of this.byType) {
      const rest = ids.filter((id) => id !== pluginId);
      if (rest.length === 0) this.byType.delete(type);
      else this.byType.set(type, rest);
    }
  }
}
