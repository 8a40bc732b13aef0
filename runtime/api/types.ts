// Contracts between the HTTP/WebSocket API and the parts that plug routes into it.

import type { FastifyInstance } from 'fastify';
import type { JsonValue } from '../../core/json.js';

/** An extra set of HTTP routes, registered on the API's fastify instance; each says its `config.access`. */
export type ApiRoutes = (app: FastifyInstance) => void;

/** Result of a Signal K PUT request, as in the specification's request/response shape. */
export interface PutResult {
  state: 'COMPLETED' | 'PENDING' | 'FAILED';
  statusCode: number;
  message?: string;
}

/** Handles a PUT to a model path; undefined when no handler is registered for the path. */
export type PutDispatcher = (
  context: string,
  path: string,
  value: JsonValue,
) => Promise<PutResult> | PutResult | undefined;
