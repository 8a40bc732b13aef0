// What happens after a plugin crashes, decided from its crash count and how long it ran: restart
// after an exponentially growing delay, or give up at the limit. Pure: the runner owns the timer.

import type { PluginRestartSettings } from '../config/settings.js';

export type RestartDecision =
  { action: 'restart'; crashes: number; delayMs: number } | { action: 'give-up'; crashes: number };

/**
 * `crashes`: the count before this crash; `ranMs`: how long the crashed instance had run since its
 * start (undefined when it crashed before running, e.g. in plugin_start). A run of at least
 * `stableMs` forgives the earlier crashes; the returned `crashes` includes this one.
 */
export function afterCrash(
  settings: PluginRestartSettings,
  crashes: number,
  ranMs: number | undefined,
): RestartDecision {
  const count = (ranMs !== undefined && ranMs >= settings.stableMs ? 0 : crashes) + 1;
  if (count >= settings.maxCrashes) return { action: 'give-up', crashes: count };
  return { action: 'restart', crashes: count, delayMs: Math.min(settings.baseMs * 2 ** (count - 1), settings.maxMs) };
}
