// Contracts between the HTTP/WebSocket API and the parts that plug routes into it.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JsonValue } from '../bus/delta.js';

/** An extra HTTP route set; returns true when it handled the request. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean> | boolean;

/** Result of a Signal K PUT request, as in the specification's request/response shape. */
export interface PutResult {
  state: 'COMPLETED' | 'PENDING' | 'FAILED';
  statusCode: number;
  message?: string;
}

/** Handles a PUT to a model path; undefined when no handler is registered for the path. */
export type PutDispatcher = (context: string, path: string, value: JsonValue) => Promise<PutResult> | PutResult | undefined;
