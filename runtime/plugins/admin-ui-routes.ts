// The plugin endpoints signalk-server's admin UI reads, in its shapes (interfaces/plugins.js was
// read for them): our richer status stays at /plugins (routes.ts).
//   GET  /skServer/plugins               [{id, name, packageName, keywords, version, description,
//                                          schema, statusMessage, uiSchema, state, data, type}]
//   GET  /skServer/plugins/<id>/config   {enabled, enableLogging, enableDebug, configuration}
//   POST /skServer/plugins/<id>/config   the same shape: validated, saved, plugin restarted →
//                                        "Saved configuration for plugin <id>"
// Admin only: `data.configuration` may hold credentials. Other /skServer/plugins/<id>/... URLs
// are answered by routes.ts.

import type { ApiRoutes } from '../api/types.js';
import { HttpError } from '../api/http.js';
import { saveConfig, type PluginDirectory } from './routes.js';
import type { PluginRunner } from './runner.js';

const PREFIX = '/skServer/plugins';

/** The stored options as upstream's getPluginOptions returns them; logging is always on here. */
function options(runner: PluginRunner): Record<string, unknown> {
  const { enabled, enableDebug, configuration } = runner.config();
  return { enabled, enableLogging: true, enableDebug, ...(configuration === undefined ? {} : { configuration }) };
}

async function listing(runner: PluginRunner): Promise<Record<string, unknown>> {
  const s = runner.status();
  let schema: unknown = {};
  try {
    schema = (await runner.configSchema()) ?? {};
  } catch {
    // A plugin that cannot load has no schema; its state says why.
  }
  return {
    id: s.id,
    name: s.name,
    packageName: s.packageName,
    keywords: ['signalk-node-server-plugin', 'signalk-wasm-plugin'],
    version: s.version,
    description: s.description,
    schema,
    statusMessage: s.statusMessage ?? '',
    uiSchema: undefined,
    state: s.state,
    data: options(runner),
    type: 'wasm',
    bundled: false,
  };
}

export function adminUiRoutes(dir: PluginDirectory & { ids(): string[] }): ApiRoutes {
  const runnerOf = (id: string): PluginRunner => {
    const runner = dir.runner(id);
    if (runner) return runner;
    const broken = dir.broken(id);
    throw new HttpError(
      broken ? 409 : 404,
      broken ? `plugin ${id} cannot be used: ${broken.error}` : `no plugin ${JSON.stringify(id)}`,
    );
  };
  return (app) => {
    app.get(PREFIX, { config: { access: 'admin' } }, async () => {
      const all = await Promise.all(dir.ids().flatMap((id) => (dir.runner(id) ? [listing(dir.runner(id)!)] : [])));
      return all.sort((a, b) => String(a.name).localeCompare(String(b.name)));
    });
    app.get<{ Params: { id: string } }>(`${PREFIX}/:id/config`, { config: { access: 'admin' } }, (req) =>
      options(runnerOf(req.params.id)),
    );
    app.post<{ Params: { id: string } }>(
      `${PREFIX}/:id/config`,
      { config: { access: 'admin' } },
      async (req, reply) => {
        const runner = runnerOf(req.params.id);
        await saveConfig(runner, req.body);
        // Upstream answers a JSON string.
        return reply.type('application/json').send(JSON.stringify(`Saved configuration for plugin ${runner.id}`));
      },
    );
  };
}
