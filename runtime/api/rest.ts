// The Signal K REST API: GET any subtree of the full model, PUT a value to a handler.
//   GET /signalk/v1/api/                          the full model                  (readonly and up)
//   GET /signalk/v1/api/vessels/self/navigation   a subtree (`self` resolves to the self vessel)
//   GET /signalk/v1/api/vessels/self/<path>/meta   metadata (units, description), also of paths without data
//   PUT /signalk/v1/api/vessels/self/<path>       body {"value": ...} → the PUT dispatcher (readwrite and up),
//                                                 recorded at /signalk/v1/requests/<id> (requests.ts)
// Path ACLs: a GET shows only the values the client may read; a PUT needs `put` on the path.
//   GET /signalk/v1/snapshot/...                  501: no history is kept

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isRecord, type JsonValue } from '../../core/json.js';
import type { SignalKModel } from '../model/model.js';
import { pruneTree } from '../security/acl.js';
import type { SecurityGate } from '../security/gate.js';
import { metaAtApiPath } from '../model/meta.js';
import { HttpError } from './http.js';
import type { PutRequests } from './requests.js';

export const API_PREFIX = '/signalk/v1/api';

/** The path segments after the API prefix, or undefined when the URL is not under it. */
export function apiSegments(pathname: string): string[] | undefined {
  if (pathname !== API_PREFIX && !pathname.startsWith(`${API_PREFIX}/`)) return undefined;
  const rest = pathname
    .slice(API_PREFIX.length)
    .split('/')
    .filter((s) => s !== '');
  try {
    return rest.map((s) => decodeURIComponent(s));
  } catch {
    throw new HttpError(400, `malformed percent-encoding in ${pathname}`);
  }
}

function segmentsOf(req: FastifyRequest): string[] {
  return apiSegments(req.url.split('?')[0]) ?? [];
}

export function getSubtree(model: SignalKModel, segments: string[]): unknown {
  const node = segments.length === 0 ? model.full() : (model.get(segments) ?? metaAtApiPath(model, segments));
  if (node === undefined) throw new HttpError(404, `no data at /${segments.join('/')}`);
  return node;
}

/** A PUT to `<context type>/<id>/<path...>`: its context, path and value. */
export function putTarget(
  model: SignalKModel,
  segments: string[],
  body: unknown,
): { context: string; path: string; value: JsonValue } {
  if (segments.length < 3) {
    throw new HttpError(
      400,
      'PUT needs a context and a path, e.g. /signalk/v1/api/vessels/self/steering/autopilot/state',
    );
  }
  if (!isRecord(body) || !('value' in body))
    throw new HttpError(400, 'request body must be a JSON object with a "value" member');
  // Parsed JSON is JSON data by construction.
  return {
    context: model.resolveContext(`${segments[0]}.${segments[1]}`),
    path: segments.slice(2).join('.'),
    value: body.value as JsonValue,
  };
}

export function restRoutes(deps: {
  model: SignalKModel;
  requests: PutRequests;
  gate: SecurityGate;
}): (app: FastifyInstance) => Promise<void> {
  const { model, requests, gate } = deps;
  const urls = [API_PREFIX, `${API_PREFIX}/*`];
  return async (app) => {
    // History is not kept: say so as the specification allows, instead of a bare 404.
    app.get('/signalk/v1/snapshot/*', { config: { access: 'read' } }, (_req, reply) =>
      reply.code(501).send({
        error: 'snapshots (/signalk/v1/snapshot) are not supported: signalk-edge keeps no history',
        statusCode: 501,
      }),
    );
    for (const url of urls) {
      app.get(url, { config: { access: 'read' } }, (req) => {
        const segments = segmentsOf(req);
        const node = getSubtree(model, segments);
        const canRead = gate.readFilter(req.principal);
        if (!canRead) return node;
        const visible = pruneTree(node, segments, canRead, (c) => model.resolveContext(c));
        if (visible === undefined) throw new HttpError(404, `no data at /${segments.join('/')}`);
        return visible;
      });
      app.put(url, { config: { access: 'write' } }, async (req, reply) => {
        const { context, path, value } = putTarget(model, segmentsOf(req), req.body);
        const r = await requests.perform(req.principal, context, path, value);
        return reply.code(r.statusCode).send(r);
      });
      // Other methods: a clear 405, not a 404 or a permission error.
      app.route({
        method: ['POST', 'DELETE', 'PATCH'],
        url,
        config: { access: 'public' },
        handler: (req) => {
          throw new HttpError(405, `${req.method} is not supported on ${req.url.split('?')[0]}`);
        },
      });
    }
  };
}
