// What a bench wires itself where the runtime would (runtime/app.ts): settings with plugins only,
// a data model fed by the delta bus.

import { DeltaBus } from '../runtime/bus/bus.js';
import type { Settings } from '../runtime/config/settings.js';
import { SignalKModel } from '../runtime/model/model.js';

/** Settings with no sources and the plugins in `pluginDir` (not watched); `extra` is added. */
export function pluginSettings(pluginDir: string, dataDir: string, extra: Partial<Settings> = {}): Settings {
  return { port: 0, host: '127.0.0.1', dataDir, sources: [], plugins: { dirs: [pluginDir], watch: false }, ...extra };
}

/** A data model and the delta bus that feeds it. */
export function modelAndBus(urn = 'urn:mrn:imo:mmsi:123456789'): { model: SignalKModel; bus: DeltaBus } {
  const model = new SignalKModel(urn);
  const bus = new DeltaBus(model.selfContext);
  bus.subscribe((m) => model.apply(m.delta));
  return { model, bus };
}
