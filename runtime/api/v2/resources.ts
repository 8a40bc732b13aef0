// The Signal K v2 resources API, served by plugins that registered as resource providers
// (sk_register_resource_provider + their resources_* exports), with upstream's routes and answers:
//   GET    /signalk/v2/api/resources                      the types served
//   GET    /signalk/v2/api/resources/<type>[?query]       every provider's list, merged (?provider=<id>: one)
//   GET    /signalk/v2/api/resources/<type>/_providers    the provider ids
//   GET    /signalk/v2/api/resources/<type>/_providers/_default            the default (write) provider
//   POST   /signalk/v2/api/resources/<type>/_providers/_default/<plugin>   choose it → 201 (runtime/plugins/resource-defaults.ts)
//   GET    /signalk/v2/api/resources/<type>/<id>[/<prop>] one resource (or a property of it)
//   POST   /signalk/v2/api/resources/<type>               a new resource, a new id   → 201 {state, statusCode, id}
//   PUT    /signalk/v2/api/resources/<type>/<id>          create or replace          → 200 {state, statusCode, message: id}
//   DELETE /signalk/v2/api/resources/<type>/<id>                                     → 200 {state, statusCode, message: id}
// A change is also published as a v2 delta `resources.<type>.<id>` (null when deleted), as upstream.
// New resources go to the type's default provider (or ?provider=); Signal K's own types are checked
// before a provider sees them (./resource-schemas.ts: 400 with the reason). Chart tiles are not
// served here, as upstream's resources API passes them by (see docs/api.md).
// Who may call: reading needs readonly, changes (the default provider too) readwrite.

import { randomUUID } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { isRecord, type JsonValue } from '../../../core/json.js';
import type { ApiRoutes } from '../types.js';
import { createLogger } from '../../../core/log.js';
import type { ProviderReply } from '../../plugins/provider-call.js';
import { queryProblem, resourceProblem, validResourceId } from './resource-schemas.js';

const log = createLogger('resources');
const BASE = '/signalk/v2/api/resources';
const ID = /^[A-Za-z0-9_.:~-]{1,128}$/;
/** A chart tile request, upstream's CHART_TILE_REGEX (charts/<id>/<z>/<x>/<y>). */
const CHART_TILE = /^charts\/[^?]+\/\d+\/\d+\/\d+$/;

export type ResourceOp = 'list_resources' | 'get_resource' | 'set_resource' | 'delete_resource';

export interface ResourceProviders {
  types(): string[];
  providers(type: string): readonly string[];
  /** The provider new resources of `type` go to; undefined when none serves it. */
  defaultProvider(type: string): string | undefined;
  /** Makes `pluginId` the default of `type`; throws when the choice could not be saved. */
  chooseDefault(type: string, pluginId: string): void;
  /** Calls the provider's `resources_<op>` export with the request JSON. */
  call(pluginId: string, op: ResourceOp, request: Record<string, JsonValue>): Promise<ProviderReply>;
  /** Publishes the v2 delta of a change a provider made (value null: deleted). */
  changed(pluginId: string, type: string, id: string, value: JsonValue): void;
}

interface Failed {
  state: 'FAILED';
  statusCode: number;
  message: string;
}
const failed = (statusCode: number, message: string): Failed => ({ state: 'FAILED', statusCode, message });

/** Upstream's query parsing: each value as JSON when it is JSON (`?distance=2000`, `?position=[1,2]`), else text. */
function parseQuery(search: string): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (const [k, v] of new URLSearchParams(search)) {
    if (k === 'token' || k === 'provider') continue;
    try {
      out[k] = JSON.parse(v) as JsonValue;
    } catch {
      out[k] = v;
    }
  }
  return out;
}

/** A provider's JSON object answer; undefined for anything else (logged). */
function objectAnswer(pluginId: string, what: string, reply: ProviderReply): Record<string, JsonValue> | undefined {
  if ('error' in reply) {
    log.limited('warn', `${pluginId}:${what}`, `${what} from ${pluginId}: ${reply.error}`);
    return undefined;
  }
  try {
    const v: unknown = JSON.parse(reply.text);
    if (isRecord(v)) return v as Record<string, JsonValue>;
  } catch {
    // fall through
  }
  log.limited(
    'warn',
    `${pluginId}:${what}:json`,
    `${what} from ${pluginId} is not a JSON object: ${JSON.stringify(reply.text.slice(0, 80))}`,
  );
  return undefined;
}

/** `{"error": ...}` (upstream examples' not-found answer) or an empty object: the provider does not have it. */
const isMiss = (v: Record<string, JsonValue>): boolean => Object.keys(v).length === 0 || typeof v.error === 'string';

/** Success of set/delete: an empty answer or JSON without `error`; otherwise the provider's reason. */
function writeOutcome(reply: ProviderReply): { ok: true } | { ok: false; status: number; message: string } {
  if ('error' in reply) return { ok: false, status: reply.status, message: reply.error };
  const text = reply.text.trim();
  if (text === '') return { ok: true };
  try {
    const v: unknown = JSON.parse(text);
    if (isRecord(v) && v.error !== undefined) return { ok: false, status: 400, message: String(v.error) };
    return { ok: true };
  } catch {
    return { ok: false, status: 400, message: text.slice(0, 200) };
  }
}

/** The body of a POST or PUT as a resource of `type`; a 400 reply with the reason when it cannot be one. */
function resourceBody(type: string, body: unknown, reply: FastifyReply): Record<string, JsonValue> | undefined {
  const problem = isRecord(body) ? resourceProblem(type, body) : 'the body must be a JSON object (the resource)';
  if (!problem) return body as Record<string, JsonValue>;
  void reply.code(400).send(failed(400, problem));
  return undefined;
}

export function resourceRoutes(providers: ResourceProviders): ApiRoutes {
  /** The providers a request addresses: `?provider=<id>` or all of the type; a reply when there are none. */
  const addressed = (type: string, search: string, reply: FastifyReply): readonly string[] | undefined => {
    const all = providers.providers(type);
    const wanted = new URLSearchParams(search).get('provider');
    const chosen = wanted === null ? all : all.filter((p) => p === wanted);
    if (chosen.length > 0) return chosen;
    void reply
      .code(404)
      .send(
        failed(
          404,
          wanted === null ? `no provider for resource type ${type}` : `${wanted} is not a provider of ${type}`,
        ),
      );
    return undefined;
  };
  const search = (url: string): string => url.split('?', 2)[1] ?? '';

  /** The first provider (of those addressed) that has the resource. */
  const holder = async (
    type: string,
    id: string,
    ids: readonly string[],
  ): Promise<{ pluginId: string; value: Record<string, JsonValue> } | undefined> => {
    for (const pluginId of ids) {
      const value = objectAnswer(
        pluginId,
        `resources_get_resource(${type}/${id})`,
        await providers.call(pluginId, 'get_resource', { id, resourceType: type }),
      );
      if (value && !isMiss(value)) return { pluginId, value };
    }
    return undefined;
  };

  const write = async (
    reply: FastifyReply,
    type: string,
    id: string,
    pluginId: string,
    value: JsonValue | null,
    created: boolean,
  ): Promise<FastifyReply> => {
    const op = value === null ? 'delete_resource' : 'set_resource';
    const outcome = writeOutcome(
      await providers.call(
        pluginId,
        op,
        value === null ? { id, resourceType: type } : { id, value, resourceType: type },
      ),
    );
    if (!outcome.ok)
      return reply
        .code(outcome.status)
        .send(
          failed(
            outcome.status,
            `${value === null ? 'deleting' : 'saving'} ${type} resource ${id} failed: ${outcome.message}`,
          ),
        );
    providers.changed(pluginId, type, id, value);
    if (created) return reply.code(201).send({ state: 'COMPLETED', statusCode: 201, id });
    return reply.code(200).send({ state: 'COMPLETED', statusCode: 200, message: id });
  };

  return (app) => {
    app.get(BASE, { config: { access: 'read' } }, () => {
      const paths: Record<string, { description: string }> = {};
      for (const type of providers.types())
        paths[type] = { description: `Path containing ${type.endsWith('s') ? type.slice(0, -1) : type} resources` };
      return paths;
    });

    app.get<{ Params: { type: string } }>(`${BASE}/:type/_providers`, { config: { access: 'read' } }, (req) => [
      ...providers.providers(req.params.type),
    ]);

    app.get<{ Params: { type: string } }>(
      `${BASE}/:type/_providers/_default`,
      { config: { access: 'read' } },
      (req, reply) => {
        const id = providers.defaultProvider(req.params.type);
        // Upstream answers the id as a JSON string.
        return id === undefined
          ? reply.code(404).send(failed(404, `Resource type not found! (${req.params.type})`))
          : reply.type('application/json').send(JSON.stringify(id));
      },
    );

    app.post<{ Params: { type: string; providerId: string } }>(
      `${BASE}/:type/_providers/_default/:providerId`,
      { config: { access: 'write' } },
      (req, reply) => {
        const { type, providerId } = req.params;
        if (providers.providers(type).length === 0)
          return reply.code(400).send(failed(400, `Invalid resource type (${type}) supplied!`));
        if (!providers.providers(type).includes(providerId))
          return reply.code(400).send(failed(400, `Resource provider not found for ${type}!`));
        try {
          providers.chooseDefault(type, providerId);
        } catch (err) {
          return reply
            .code(500)
            .send(failed(500, `the default provider of ${type} could not be saved: ${(err as Error).message}`));
        }
        return reply.code(201).send({ state: 'COMPLETED', statusCode: 201, message: providerId });
      },
    );

    app.get<{ Params: { type: string } }>(`${BASE}/:type`, { config: { access: 'read' } }, async (req, reply) => {
      const { type } = req.params;
      const ids = addressed(type, search(req.url), reply);
      if (!ids) return reply;
      const parsed = parseQuery(search(req.url));
      const problem = queryProblem(type, parsed);
      if (problem) return reply.code(400).send(failed(400, problem));
      const query = { ...parsed, resourceType: type };
      const lists = await Promise.all(
        ids.map(async (p) =>
          objectAnswer(p, `resources_list_resources(${type})`, await providers.call(p, 'list_resources', query)),
        ),
      );
      if (lists.every((l) => l === undefined))
        return reply.code(502).send(failed(502, `no provider of ${type} answered the list (see the log)`));
      return Object.assign({}, ...lists.filter((l) => l !== undefined)) as Record<string, JsonValue>;
    });

    const getOne = async (
      type: string,
      id: string,
      property: string | undefined,
      url: string,
      reply: FastifyReply,
    ): Promise<unknown> => {
      if (CHART_TILE.test(`${type}/${id}/${(property ?? '').replace(/\./g, '/')}`)) {
        return reply
          .code(404)
          .send(
            failed(
              404,
              'chart tiles are not served through the resources API: a WebAssembly chart provider has no tile export (upstream serves tiles from JavaScript chart plugins)',
            ),
          );
      }
      const ids = addressed(type, search(url), reply);
      if (!ids) return reply;
      const found = await holder(type, id, ids);
      if (!found) return reply.code(404).send(failed(404, `Resource not found! (${id})`));
      if (property === undefined) return found.value;
      let node: JsonValue | undefined = found.value;
      for (const key of property.split('.'))
        node = isRecord(node) ? (node as Record<string, JsonValue>)[key] : undefined;
      return node === undefined
        ? reply.code(404).send(failed(404, `Resource property not found! (${id}/${property.replace(/\./g, '/')})`))
        : node;
    };
    app.get<{ Params: { type: string; id: string } }>(
      `${BASE}/:type/:id`,
      { config: { access: 'read' } },
      (req, reply) => getOne(req.params.type, req.params.id, undefined, req.url, reply),
    );
    app.get<{ Params: { type: string; id: string; '*': string } }>(
      `${BASE}/:type/:id/*`,
      { config: { access: 'read' } },
      (req, reply) =>
        getOne(
          req.params.type,
          req.params.id,
          req.params['*']
            .split('/')
            .filter((p) => p !== '')
            .join('.') || undefined,
          req.url,
          reply,
        ),
    );

    app.post<{ Params: { type: string } }>(`${BASE}/:type`, { config: { access: 'write' } }, async (req, reply) => {
      const { type } = req.params;
      const ids = addressed(type, search(req.url), reply);
      if (!ids) return reply;
      const resource = resourceBody(type, req.body, reply);
      if (!resource) return reply;
      const target = ids.length === 1 ? ids[0] : (providers.defaultProvider(type) ?? ids[0]);
      // A chart is known by its identifier, as upstream.
      const identifier = type === 'charts' && typeof resource.identifier === 'string' ? resource.identifier : undefined;
      if (identifier !== undefined && !validResourceId(type, identifier))
        return reply.code(400).send(failed(400, `Invalid resource id provided (${identifier.slice(0, 140)})`));
      return write(reply, type, identifier ?? randomUUID(), target, resource, true);
    });

    app.put<{ Params: { type: string; id: string } }>(
      `${BASE}/:type/:id`,
      { config: { access: 'write' } },
      async (req, reply) => {
        const { type, id } = req.params;
        if (!ID.test(id) || !validResourceId(type, id))
          return reply.code(400).send(failed(400, `Invalid resource id provided (${id.slice(0, 140)})`));
        const ids = addressed(type, search(req.url), reply);
        if (!ids) return reply;
        const resource = resourceBody(type, req.body, reply);
        if (!resource) return reply;
        // The provider that holds it, else the type's default provider.
        const owner =
          ids.length === 1
            ? ids[0]
            : ((await holder(type, id, ids))?.pluginId ?? providers.defaultProvider(type) ?? ids[0]);
        return write(reply, type, id, owner, resource, false);
      },
    );

    app.delete<{ Params: { type: string; id: string } }>(
      `${BASE}/:type/:id`,
      { config: { access: 'write' } },
      async (req, reply) => {
        const { type, id } = req.params;
        const ids = addressed(type, search(req.url), reply);
        if (!ids) return reply;
        const owner = await holder(type, id, ids);
        if (!owner) return reply.code(404).send(failed(404, `Resource not found! (${id})`));
        return write(reply, type, id, owner.pluginId, null, false);
      },
    );
  };
}
