// The provider routes the v2 weather and radar APIs share, with upstream's answers:
//   GET  <base>/_providers                  {<plugin id>: {name, isDefault}}
//   GET  <base>/_providers/_default         {id}
//   POST <base>/_providers/_default/<id>    choose the default → 200, 400 for an unknown id
// Who may call: reading needs readonly, choosing readwrite.

import type { FastifyInstance } from 'fastify';

export interface ProviderChoice {
  list(): { id: string; name: string; isDefault: boolean }[];
  getDefault(): string | undefined;
  /** False when the id is no registered provider. */
  setDefault(pluginId: string): boolean;
}

export function providerRoutes(app: FastifyInstance, base: string, providers: ProviderChoice): void {
  app.get(`${base}/_providers`, { config: { access: 'read' } }, () =>
    Object.fromEntries(providers.list().map((p) => [p.id, { name: p.name, isDefault: p.isDefault }])),
  );
  app.get(`${base}/_providers/_default`, { config: { access: 'read' } }, () => {
    const id = providers.getDefault();
    return id === undefined ? {} : { id };
  });
  app.post<{ Params: { id: string } }>(
    `${base}/_providers/_default/:id`,
    { config: { access: 'write' } },
    (req, reply) => {
      const { id } = req.params;
      if (!providers.setDefault(id))
        return reply.code(400).send({ state: 'FAILED', statusCode: 400, message: `Provider ${id} not found!` });
      return { statusCode: 200, state: 'COMPLETED', message: `Default provider set to ${id}.` };
    },
  );
}
