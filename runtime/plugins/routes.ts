// The plugin REST API, under /plugins (and /skServer/plugins, where upstream's admin UI looks; its
// list and config there answer in upstream's shape, admin-ui-routes.ts):
//   GET  /plugins                         every plugin with state, messages, capabilities, counters
//   GET  /plugins/<id>                    one plugin, with its recent lifecycle events
//   GET  /plugins/<id>/config             {enabled, configuration, schema}
//   PUT|POST /plugins/<id>/config         {configuration?, enabled?, enableDebug?}: validated, saved, plugin restarted
//   POST /plugins/<id>/enable|disable|restart
//   GET|POST|PUT|DELETE /plugins/<id>/<path>   the plugin's own endpoints (http_endpoints), see ./endpoints.ts
// Errors are JSON `{error, details?}` with a 4xx status.
// Who may call: reading the list and a plugin's status takes readonly; its config (which may hold
// credentials) and every change take admin; a plugin's own endpoints likewise: GET readonly, the
// other methods admin (upstream's default for plugin routes).

import { isRecord, type JsonValue } from '../../core/json.js';
import type { ApiRoutes } from '../api/types.js';
import type { Access } from '../security/gate.js';
import { HttpError } from '../api/http.js';
import { validateConfig } from './config-schema.js';
import { checkConfigBounds } from './plugin-config.js';
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

function allow(method: string, allowed: string[]): void {
  if (!allowed.includes(method))
    throw new HttpError(405, `method ${method} not allowed here (allowed: ${allowed.join(', ')})`);
}

export async function saveConfig(runner: PluginRunner, body: unknown): Promise<unknown> {
  if (body === undefined) throw new HttpError(400, 'request body is empty; expected JSON');
  if (!isRecord(body)) throw new HttpError(400, 'request body must be a JSON object {configuration, enabled}');
  const { configuration, enabled, enableDebug } = body;
  if (configuration === undefined && enabled === undefined && enableDebug === undefined) {
    throw new HttpError(
      400,
      'request body needs "configuration" (an object), "enabled" and/or "enableDebug" (true or false)',
    );
  }
  if (enabled !== undefined && typeof enabled !== 'boolean')
    throw new HttpError(400, `enabled must be true or false, got ${JSON.stringify(enabled)}`);
  if (enableDebug !== undefined && typeof enableDebug !== 'boolean')
    throw new HttpError(400, `enableDebug must be true or false, got ${JSON.stringify(enableDebug)}`);
  if (configuration !== undefined) {
    if (!isRecord(configuration)) throw new HttpError(400, 'configuration must be a JSON object');
    // Before validation, which walks the value: too deep or too big is a 400 with the reason.
    checkConfigBounds(configuration as JsonValue, runner.quota.config);
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

interface PluginRequest {
  method: string;
  body: unknown;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
}

async function handle(
  dir: PluginDirectory,
  req: PluginRequest,
  rest: string,
): Promise<{ status: number; body: unknown; headers?: Record<string, string> }> {
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
    return {
      status: 200,
      body: runner ? runner.status() : { ...broken, state: 'error', enabled: false, errorMessage: broken?.error },
    };
  }
  if (!runner) throw new HttpError(409, `plugin ${id} cannot be used: ${broken?.error}`);
  switch (action) {
    case 'config':
      allow(req.method, ['GET', 'PUT', 'POST']);
      if (req.method === 'GET') return { status: 200, body: await configView(runner) };
      return { status: 200, body: await saveConfig(runner, req.body) };
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
    default: {
      const path = `/${action}`;
      const answer = runner.handleHttp({
        method: req.method,
        path,
        query: req.query,
        body: req.body,
        headers: req.headers,
      });
      if (!answer) throw new HttpError(404, `no such plugin endpoint: ${req.method} ${path}`);
      return answer;
    }
  }
}

/** Plugin status is for any reader; configuration and changes are for admins. */
function access(method: string, path: string): Access {
  return method === 'GET' && !/\/config\/?$/.test(path) ? 'read' : 'admin';
}

export function pluginRoutes(dir: PluginDirectory): ApiRoutes {
  return (app) => {
    // `GET /skServer/plugins` and `<id>/config` there answer in upstream's shape (admin-ui-routes.ts).
    for (const [prefix, url] of PREFIXES.flatMap((p) => (p === '/plugins' ? [[p, p]] : []).concat([[p, `${p}/*`]]))) {
      app.route({
        method: ['GET', 'PUT', 'POST', 'DELETE', 'PATCH'],
        url,
        config: { access },
        handler: async (req, reply) => {
          try {
            const [path, search = ''] = req.url.split('?', 2);
            const { status, body, headers } = await handle(
              dir,
              { method: req.method, body: req.body, query: new URLSearchParams(search), headers: req.headers },
              path.slice(prefix.length),
            );
            if (headers) reply.headers(headers);
            return reply.code(status).send(body);
          } catch (err) {
            if (err instanceof InvalidConfig)
              return reply.code(err.status).send({ error: err.message, details: err.details });
            if (err instanceof HttpError) return reply.code(err.status).send({ error: err.message });
            return reply.code(500).send({ error: (err as Error).message });
          }
        },
      });
    }
  };
}
