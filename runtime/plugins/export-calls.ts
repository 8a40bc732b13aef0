// Calls to a plugin's named handler exports (HTTP endpoints, resource and weather providers): the
// checks and answers they share, and the endpoint list read once per instance.

import { HostMarshalError } from '../engine/marshal.js';
import type { PluginInstance } from '../engine/types.js';
import type { Logger } from '../../core/log.js';
import { parseEndpoints, type HttpEndpoint } from './endpoints.js';

/** What a handler call answers when it cannot serve: the HTTP status it stands for. */
export interface HandlerFailure {
  status: number;
  error: string;
}

/**
 * Runs `body` for the export `handler` inside a call into `instance`: a missing export (or `body`
 * finding no way to call it) and an unusable answer (HostMarshalError) become an error; a trap
 * propagates (the caller's guard makes it a crash).
 */
export function callExport<T extends object>(
  instance: PluginInstance,
  handler: string,
  body: () => T | undefined,
): T | { error: string } {
  if (!instance.hasExport?.(handler)) return { error: `does not export ${handler}` };
  try {
    return body() ?? { error: `does not export ${handler}` };
  } catch (err) {
    if (err instanceof HostMarshalError) return { error: `${handler}: ${err.message}` };
    throw err;
  }
}

/**
 * The running instance's HTTP endpoints (http_endpoints export), read once per instance; the last
 * instance's list while none runs (so a request to one is told the plugin is stopped). Entries it
 * cannot serve are logged once.
 */
export class EndpointList {
  private read: { instance: PluginInstance | undefined; list: HttpEndpoint[] } | undefined;

  constructor(private readonly log: Logger) {}

  of(instance: PluginInstance | undefined): HttpEndpoint[] {
    if (!instance) return this.read?.list ?? [];
    if (this.read?.instance !== instance) {
      const { endpoints, problems } = parseEndpoints(
        instance.httpEndpoints,
        (name) => instance.hasExport?.(name) ?? false,
      );
      for (const p of problems) this.log.warn(`http_endpoints: ${p}`);
      this.read = { instance, list: endpoints };
    }
    return this.read.list;
  }

  /** The instance is gone: the list stays known, tied to no instance. */
  release(): void {
    if (this.read) this.read = { instance: undefined, list: this.read.list };
  }
}
