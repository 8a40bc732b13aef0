// One way to call a provider plugin's handler export (resources_*, weather_*, radar_*) for the v2
// APIs: the request JSON in, the answer text out, bounded in size and time. A handler may fetch
// (AssemblyScript as-fetch, resumed as upstream does); the HTTP request waits at most
// PROVIDER_TIMEOUT_MS for it and is then answered 504. A trap or runaway is the plugin's crash
// (500), an oversized answer 502, a plugin not running 503 (see PluginRunner.callHandler).

import type { JsonValue } from '../../core/json.js';
import { FETCH_TIMEOUT_MS } from '../abi/http-transport.js';
import type { PluginRunner } from './runner.js';

/** A provider's answer (its export's JSON text), or why there is none and the HTTP status that stands for. */
export type ProviderReply = { text: string } | { status: number; error: string };

/** A provider's answer (a list of routes can be long): the Rust buffer, and AssemblyScript string bytes. */
export const PROVIDER_RESPONSE_MAX_BYTES = 1024 * 1024;
/** A handler's fetch is bounded by as-fetch's 10 s; beyond that and some margin the client is told. */
export const PROVIDER_TIMEOUT_MS = FETCH_TIMEOUT_MS + 5_000;

export type ProviderCall = (
  pluginId: string,
  handler: string,
  request: Record<string, JsonValue>,
) => Promise<ProviderReply>;

/** Calls `handler` of the plugin `runner(pluginId)` returns; 504 when it has not answered within `timeoutMs`. */
export function providerCaller(
  runner: (pluginId: string) => PluginRunner | undefined,
  timeoutMs = PROVIDER_TIMEOUT_MS,
): ProviderCall {
  return async (pluginId, handler, request) => {
    const r = runner(pluginId);
    if (!r) return { status: 503, error: `no plugin ${pluginId}` };
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<ProviderReply>((resolve) => {
      timer = setTimeout(
        () => resolve({ status: 504, error: `plugin ${pluginId}: ${handler} did not answer within ${timeoutMs} ms` }),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([
        r.callHandlerResumable(handler, JSON.stringify(request), PROVIDER_RESPONSE_MAX_BYTES),
        late,
      ]);
    } finally {
      clearTimeout(timer);
    }
  };
}
