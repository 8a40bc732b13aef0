// Placeholder so the runtime assembles while the plugin host is written; replaced by runtime/plugins.
import type { Settings } from '../config/settings.js';
import type { DeltaBus } from '../bus/bus.js';
import type { SignalKModel } from '../model/model.js';
import type { PutDispatcher, RouteHandler } from '../api/types.js';

export interface PluginSummary {
  id: string;
  state: string;
}

export class PluginManager {
  static async create(_deps: { settings: Settings; bus: DeltaBus; model: SignalKModel }): Promise<PluginManager> {
    return new PluginManager();
  }
  routes(): RouteHandler[] {
    return [];
  }
  putDispatcher(): PutDispatcher {
    return () => undefined;
  }
  list(): PluginSummary[] {
    return [];
  }
  async startAll(): Promise<void> {}
  async stopAll(): Promise<void> {}
}
