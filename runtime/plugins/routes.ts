// The plugin REST API, under /plugins (and /skServer/plugins, where upstream's admin UI looks):
//   GET  /plugins                         every plugin with state, messages, capabilities, counters
//   GET  /plugins/<id>                    one plugin, with its recent lifecycle events
//   GET  /plugins/<id>/config             {enabled, configuration, schema}
//   PUT|POST /plugins/<id>/config         {configuration?, enabled?, enableDebug?}: validated, saved, plugin restarted
//   POST /plugins/<id>/enable|disable|restart
// Errors are JSON `{error, details?}` with a 4xx status.

import type { IncomingMessage } from 'node:http';
import type { JsonValue } from '../bus/delta.js';
import type { RouteHandler } from '../api/types.js';
import { HttpError, isRecord, readJsonBody, sendJson } from '../api/http.js';
import { validateConfig } from './config-schema.js';
import type { BrokenPackage } from './discovery.js';
import type { PluginRunner } from './runner.js';

const PREFIXES = ['/plugins', '/skServer/plugins'];

export interface PluginDirectory {
  list(): unknown[];
  runner(id: string): PluginRunner | undefined;
  broken(id: string): BrokenPackage | undefined;
}

/** A refused configuration: one line per bad property. */
class InvalidConfig extends HttpError {
  constructor(
    message: string,
    readonly details: string[],
  ) {
    super(400, message);
  }
}

function allow(method: string | undefined, allowed: string[]): void {
  if (!allowed.includes(method ?? '')) throw new HttpError(405, `method ${method} not allowed here (allowed: ${allowed.join(', ')})`);
}

async function saveConfig(runner: PluginRunner, req: IncomingMessage): Promise<unknown> {
  const body = await readJsonBody(req);
  if (!isRecord(body)) throw new HttpError(400, 'request body must be a JSON object {configuration, enabled}');
  const { configuration, enabled, enableDebug } = body;
  if (configuration === undefined && enabled === undefined && enableDebug === undefined) {
    throw new HttpError(400, 'request body needs "configuration" (an object), "enabled" and/or "enableDebug" (true or false)');
  }
  if (enabled !== undefined && typeof enabled !== 'boolean') throw new HttpError(400, `enabled must be true or false, got ${JSON.stringify(enabled)}`);
  if (enableDebug !== undefined && typeof enableDebug !== 'boolean') throw new HttpError(400, `enableDebug must be true or false, got ${JSON.stringify(enableDebug)}`);
  if (configuration !== undefined) {
    if (!isRecord(configuration)) throw new HttpError(400, 'configuration must be a JSON object');
    let schema: JsonValue | undefined;
    try {
      schema = await runner.configSchema();
    } catch (err) {
      throw new HttpError(409, `cannot read the plugin's schema to validate against: ${(err as Error).message}`);
    }
    const checked = validateConfig(schema, configuration as JsonValue);
    if (!checked.ok) throw new InvalidConfig(`invalid configuration for plugin ${runner.id}`, checked.errors);
    await runner.setConfiguration(checked.value);
  }
  if (enableDebug !== undefined) await runner.setEnableDebug(enableDebug);
  if (enabled !== undefined) await runner.setEnabled(enabled);
  return { message: `Saved configuration for plugin ${runner.id}`, ...runner.config(), state: runner.currentState };
}

/** `configured: false` marks a plugin never configured (upstream omits `configuration` then). */
async function configView(runner: PluginRunner): Promise<unknown> {
  const { enabled, enableDebug, configuration } = runner.config();
  const view = { enabled, enableDebug, configuration: configuration ?? {}, configured: configuration !== undefined };
  try {
    return { ...view, schema: (await runner.configSchema()) ?? {} };
  } catch (err) {
    return { ...view, schema: {}, schemaError: (err as Error).message };
  }
}

async function handle(dir: PluginDirectory, req: IncomingMessage, rest: string): Promise<{ status: number; body: unknown }> {
  const parts = rest.split('/').filter((p) => p !== '');
  if (parts.length === 0) {
    allow(req.method, ['GET']);
    return { status: 200, body: dir.list() };
  }
  let id: string;
  try {
    id = decodeURIComponent(parts[0]);
  } catch {
    throw new HttpError(400, `bad plugin id in URL: ${parts[0]}`);
  }
  const runner = dir.runner(id);
  const broken = dir.broken(id);
  if (!runner && !broken) throw new HttpError(404, `no plugin ${JSON.stringify(id)}`);
  const action = parts.slice(1).join('/');
  if (action === '') {
    allow(req.method, ['GET']);
    return { status: 200, body: runner ? runner.status() : { ...broken, state: 'error', enabled: false, errorMessage: broken?.error } };
  }
  if (!runner) throw new HttpError(409, `plugin ${id} cannot be used: ${broken?.error}`);
  switch (action) {
    case 'config':
      allow(req.method, ['GET', 'PUT', 'POST']);
      if (req.method === 'GET') return { status: 200, body: await configView(runner) };
      return { status: 200, body: await saveConfig(runner, req) };
    case 'enable':
    case 'disable':
      allow(req.method, ['POST', 'PUT']);
      await runner.setEnabled(action === 'enable');
      return { status: 200, body: runner.status() };
    case 'restart':
      allow(req.method, ['POST', 'PUT']);
      if (!runner.config().enabled) throw new HttpError(409, `plugin ${id} is disabled; enable it instead`);
      await runner.restart();
      return { status: 200, body: runner.status() };
    default:
      throw new HttpError(404, `no such plugin endpoint: ${action}`);
  }
}

export function pluginRoutes(dir: PluginDirectory): RouteHandler {
  return async (req, res, url) => {
    const prefix = PREFIXES.find((p) => url.pathname === p || url.pathname.startsWith(`${p}/`));
    if (prefix === undefined) return false;
    try {
      const { status, body } = await handle(dir, req, url.pathname.slice(prefix.length));
      sendJson(res, status, body);
    } catch (err) {
      if (err instanceof InvalidConfig) sendJson(res, err.status, { error: err.message, details: err.details });
      else if (err instanceof HttpError) sendJson(res, err.status, { error: err.message });
      else sendJson(res, 500, { error: (err as Error).message });
    }
    return true;
  };
}
