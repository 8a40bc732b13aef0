// Signal K requests: PUTs (over REST and over the WebSocket stream) get a request id whose state a
// client can read at `GET /signalk/v1/requests/<id>`, as signalk-server answers it; the same URL
// answers device access requests (runtime/security/routes.ts).
//   stream message: {"context": "vessels.self", "requestId": "<id>", "put": {"path": "a.b", "value": 1}}
//   its answer:     {"requestId", "state", "statusCode", "message"?, "href"}
// Records are kept for an hour, at most MAX_RECORDS of them (the oldest go first), so clients that
// send many PUTs cannot grow the process. A record is only shown to readonly principals and up.

import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { isRecord, type JsonValue } from '../../core/json.js';
import type { SignalKModel } from '../model/model.js';
import type { SecurityGate } from '../security/gate.js';
import { accessRequestReply } from '../security/routes.js';
import type { Principal } from '../security/tokens.js';
import { HttpError } from './http.js';
import type { PutDispatcher } from './types.js';

export const REQUESTS_PATH = '/signalk/v1/requests';
const MAX_RECORDS = 1000;
const KEEP_MS = 3_600_000;
/** A client's own request id: upstream takes it as the record's id. */
const MAX_ID_LENGTH = 100;

export interface PutReply {
  requestId: string;
  state: 'COMPLETED' | 'PENDING' | 'FAILED';
  statusCode: number;
  message?: string;
  href: string;
}

interface PutRecord {
  reply: PutReply;
  put: { path: string; value: JsonValue };
  context: string;
  at: number;
}

export class PutRequests {
  /** Insertion order = age: the first entries are the oldest. */
  private readonly records = new Map<string, PutRecord>();

  constructor(
    private readonly model: SignalKModel,
    private readonly put: PutDispatcher,
    private readonly gate: SecurityGate,
  ) {}

  /**
   * One PUT: permission, the plugin's handler, a record. `requestId` is the client's (stream) or
   * undefined (REST: a new one). A refusal (permission, no handler) is an HttpError, recorded too.
   */
  async perform(
    principal: Principal,
    rawContext: string,
    path: string,
    value: JsonValue,
    requestId?: string,
  ): Promise<PutReply> {
    const id = requestId ?? randomUUID();
    const context = this.model.resolveContext(rawContext);
    const answer = (statusCode: number, state: PutReply['state'], message?: string): PutReply => {
      const reply: PutReply = { requestId: id, state, statusCode, href: `${REQUESTS_PATH}/${encodeURIComponent(id)}` };
      if (message !== undefined) reply.message = message;
      this.remember(id, { reply, put: { path, value }, context, at: Date.now() });
      return reply;
    };
    const refuse = (status: number, message: string): never => {
      answer(status, 'COMPLETED', message);
      throw new HttpError(status, message);
    };
    if (principal.kind !== 'local' && principal.permission !== 'readwrite' && principal.permission !== 'admin') {
      refuse(
        principal.kind === 'anonymous' ? 401 : 403,
        `PUT needs readwrite permission; ${principal.kind} ${principal.id} has ${principal.permission}`,
      );
    }
    if (!this.gate.canPut(principal, context, path))
      refuse(403, `no PUT permission for ${path} in ${context} (security.acls)`);
    const result = await this.put(context, path, value);
    if (result === undefined) refuse(405, `no PUT handler is registered for ${path} in ${context}`);
    const statusCode =
      Number.isInteger(result!.statusCode) && result!.statusCode >= 100 && result!.statusCode <= 599
        ? result!.statusCode
        : 500;
    return answer(statusCode, result!.state, result!.message);
  }

  /** A stream message with `put`: checked, performed, answered through `send`. */
  async fromStream(principal: Principal, msg: Record<string, unknown>, send: (reply: unknown) => void): Promise<void> {
    const { requestId, put, context } = msg;
    const validId =
      typeof requestId === 'string' && requestId !== '' && requestId.length <= MAX_ID_LENGTH ? requestId : undefined;
    const fail = (message: string) =>
      send({ ...(validId ? { requestId: validId } : {}), state: 'COMPLETED', statusCode: 400, message });
    if (requestId !== undefined && validId === undefined)
      return fail(`requestId must be a string of 1 to ${MAX_ID_LENGTH} characters`);
    if (validId !== undefined && this.records.has(validId))
      return fail(`requestId ${JSON.stringify(validId)} is already in use`);
    if (!isRecord(put) || typeof put.path !== 'string' || put.path === '' || !('value' in put))
      return fail('put must be an object {path, value}');
    if (context !== undefined && (typeof context !== 'string' || context === ''))
      return fail('context must be a non-empty string');
    const id = validId ?? randomUUID();
    try {
      send(
        await this.perform(
          principal,
          (context as string | undefined) ?? 'vessels.self',
          put.path,
          put.value as JsonValue,
          id,
        ),
      );
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 500;
      send({
        requestId: id,
        state: status === 500 ? 'FAILED' : 'COMPLETED',
        statusCode: status,
        message: (err as Error).message,
        href: `${REQUESTS_PATH}/${encodeURIComponent(id)}`,
      });
    }
  }

  private remember(id: string, record: PutRecord): void {
    this.records.delete(id);
    this.records.set(id, record);
    const cutoff = Date.now() - KEEP_MS;
    for (const [key, r] of this.records) {
      if (this.records.size <= MAX_RECORDS && r.at >= cutoff) break;
      this.records.delete(key);
    }
  }

  /** What `GET /signalk/v1/requests/<id>` shows of a PUT (upstream's shape, without ip and user). */
  lookup(id: string): Record<string, unknown> | undefined {
    const r = this.records.get(id);
    if (!r || r.at < Date.now() - KEEP_MS) return undefined;
    return { ...r.reply, put: r.put, context: r.context };
  }
}

export function requestRoutes(requests: PutRequests, gate: SecurityGate): (app: FastifyInstance) => void {
  return (app) => {
    // Public: a device polls its access request before it has a token; PUT records need readonly.
    app.get<{ Params: { id: string } }>(`${REQUESTS_PATH}/:id`, { config: { access: 'public' } }, (req) => {
      const access = accessRequestReply(gate, req.params.id);
      if (access) return access;
      const put = requests.lookup(req.params.id);
      if (put) {
        if (req.principal.permission === 'none')
          throw new HttpError(401, 'authentication required to read a PUT request');
        return put;
      }
      throw new HttpError(404, `no request ${JSON.stringify(req.params.id.slice(0, 40))}`);
    });
  };
}
