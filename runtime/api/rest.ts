// The Signal K REST API: GET any subtree of the full model, PUT a value to a handler.
//   GET /signalk/v1/api/                          the full model
//   GET /signalk/v1/api/vessels/self/navigation   a subtree (`self` resolves to the self vessel)
//   GET /signalk/v1/api/vessels/self/<path>/meta   metadata (units, description), also of paths without data
//   PUT /signalk/v1/api/vessels/self/<path>       body {"value": ...} → the PUT dispatcher

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JsonValue } from '../bus/delta.js';
import type { SignalKModel } from '../model/model.js';
import { metaAtApiPath } from '../model/meta.js';
import { HttpError, isRecord, readJsonBody, sendError, sendJson } from './http.js';
import type { PutDispatcher } from './types.js';

export const API_PREFIX = '/signalk/v1/api';

/** The path segments after the API prefix, or undefined when the URL is not under it. */
export function apiSegments(pathname: string): string[] | undefined {
  if (pathname !== API_PREFIX && !pathname.startsWith(`${API_PREFIX}/`)) return undefined;
  const rest = pathname.slice(API_PREFIX.length).split('/').filter((s) => s !== '');
  try {
    return rest.map((s) => decodeURIComponent(s));
  } catch {
    throw new HttpError(400, `malformed percent-encoding in ${pathname}`);
  }
}

export function getSubtree(res: ServerResponse, model: SignalKModel, segments: string[]): void {
  const node = segments.length === 0 ? model.full() : (model.get(segments) ?? metaAtApiPath(model, segments));
  if (node === undefined) {
    sendError(res, 404, `no data at /${segments.join('/')}`);
    return;
  }
  sendJson(res, 200, node);
}

/**
 * A PUT to `<context type>/<id>/<path...>`. The answer follows the specification's request/response
 * shape; the HTTP status is the result's status code.
 */
export async function putValue(
  req: IncomingMessage,
  res: ServerResponse,
  model: SignalKModel,
  put: PutDispatcher,
  segments: string[],
): Promise<void> {
  if (segments.length < 3) {
    throw new HttpError(400, 'PUT needs a context and a path, e.g. /signalk/v1/api/vessels/self/steering/autopilot/state');
  }
  const body = await readJsonBody(req);
  if (!isRecord(body) || !('value' in body)) throw new HttpError(400, 'request body must be a JSON object with a "value" member');
  // Parsed JSON is JSON data by construction.
  const value = body.value as JsonValue;
  const context = model.resolveContext(`${segments[0]}.${segments[1]}`);
  const path = segments.slice(2).join('.');
  const result = await put(context, path, value);
  if (result === undefined) {
    throw new HttpError(405, `no PUT handler is registered for ${path} in ${context}`);
  }
  const statusCode = Number.isInteger(result.statusCode) && result.statusCode >= 100 && result.statusCode <= 599 ? result.statusCode : 500;
  const reply: Record<string, JsonValue> = { state: result.state, statusCode, requestId: randomUUID() };
  if (result.message !== undefined) reply.message = result.message;
  sendJson(res, statusCode, reply);
}
