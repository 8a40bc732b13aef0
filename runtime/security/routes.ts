// Signal K's security endpoints, as clients of signalk-server speak them:
//   POST /signalk/v1/auth/login        {username, password, rememberMe?} → {token, timeToLive} + cookie
//   PUT|POST /signalk/v1/auth/logout   revokes the token sent, clears the cookie
//   GET  /skServer/loginStatus         who the request is logged in as (admin UIs ask this)
//   POST /signalk/v1/access/requests   a device asks {clientId, description, permissions?} → 202 + href
//   GET  /signalk/v1/requests/<id>     the request's state; once approved, its token (handed out once):
//                                      answered by runtime/api/requests.ts, which also holds PUT requests
// All public: they are how a client gets a token. Registered only when security is on (with
// security off, loginStatus answers that no authentication is required, as upstream).

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from '../api/http.js';
import { isRecord } from '../../core/json.js';
import { verifyPassword } from './passwords.js';
import { AUTH_COOKIE, type SecurityGate } from './gate.js';
import { PERMISSIONS, SecurityError, type AccessRequest, type Permission } from './store.js';

/** Failed logins allowed per client address per window before it has to wait (password guessing). */
const MAX_FAILED_LOGINS = 10;
const FAILED_WINDOW_MS = 60_000;
const MAX_TRACKED_ADDRESSES = 1000;
/** Requests are small; 4 KiB is plenty for credentials or an access request. */
const BODY_LIMIT = 4096;

function field(body: Record<string, unknown>, key: string, max: number): string {
  const v = body[key];
  if (typeof v !== 'string' || v === '' || v.length > max)
    throw new HttpError(400, `"${key}" must be a non-empty string of at most ${max} characters`);
  return v;
}

function requestReply(r: AccessRequest, token?: string): Record<string, unknown> {
  const reply: Record<string, unknown> = { requestId: r.requestId, href: `/signalk/v1/requests/${r.requestId}` };
  if (r.state === 'PENDING') return { ...reply, state: 'PENDING', statusCode: 202 };
  return {
    ...reply,
    state: 'COMPLETED',
    statusCode: 200,
    accessRequest: { permission: r.state === 'APPROVED' ? 'APPROVED' : 'DENIED', ...(token ? { token } : {}) },
  };
}

export function securityRoutes(gate: SecurityGate): (app: FastifyInstance) => void {
  const { store, tokens, settings } = gate;
  return (app) => {
    if (!store || !tokens) {
      // Security off: upstream's answer without security (webapps such as Freeboard-SK ask before anything else).
      app.get('/skServer/loginStatus', { config: { access: 'public' } }, () => ({
        status: 'notLoggedIn',
        readOnlyAccess: false,
        authenticationRequired: false,
      }));
      return;
    }
    const failures = new Map<string, { count: number; since: number }>();
    const isSecure = (proto: string) => proto === 'https';

    const setCookie = (reply: FastifyReply, token: string, maxAge: number | undefined, secure: boolean) =>
      reply.setCookie(AUTH_COOKIE, token, {
        httpOnly: true,
        sameSite: 'strict',
        path: '/',
        secure,
        ...(maxAge ? { maxAge } : {}),
      });

    app.post('/signalk/v1/auth/login', { config: { access: 'public' }, bodyLimit: BODY_LIMIT }, async (req, reply) => {
      const ip = req.ip;
      const now = Date.now();
      const f = failures.get(ip);
      if (f && now - f.since < FAILED_WINDOW_MS && f.count >= MAX_FAILED_LOGINS) {
        throw new HttpError(
          429,
          `too many failed logins from ${ip}; try again in ${Math.ceil((f.since + FAILED_WINDOW_MS - now) / 1000)} s`,
        );
      }
      if (!isRecord(req.body)) throw new HttpError(400, 'request body must be a JSON object {username, password}');
      const username = field(req.body, 'username', 64);
      const password = field(req.body, 'password', 1024);
      const user = store.user(username);
      if (!(await verifyPassword(password, user?.password)) || !user) {
        const entry = f && now - f.since < FAILED_WINDOW_MS ? f : { count: 0, since: now };
        entry.count++;
        failures.set(ip, entry);
        // Bounded: addresses whose window is over are forgotten when the table grows.
        if (failures.size > MAX_TRACKED_ADDRESSES)
          for (const [k, v] of failures) if (now - v.since >= FAILED_WINDOW_MS) failures.delete(k);
        throw new HttpError(401, 'Invalid username/password');
      }
      failures.delete(ip);
      const { token } = await tokens.issueForUser(username, settings.loginTtlSeconds);
      setCookie(
        reply,
        token,
        req.body.rememberMe === true ? settings.loginTtlSeconds : undefined,
        isSecure(req.protocol),
      );
      return { token, timeToLive: settings.loginTtlSeconds, type: 'Bearer' };
    });

    const logout = async (req: FastifyRequest, reply: FastifyReply) => {
      const { principal } = await gate.identify({ method: req.method, url: req.url, headers: req.headers });
      if (principal.jti !== undefined && principal.exp !== undefined && principal.kind === 'user')
        store.revoke(principal.jti, principal.exp);
      reply.clearCookie(AUTH_COOKIE, { path: '/' });
      return { message: principal.jti ? 'logged out; the token is revoked' : 'logged out' };
    };
    app.put('/signalk/v1/auth/logout', { config: { access: 'public' } }, logout);
    app.post('/signalk/v1/auth/logout', { config: { access: 'public' } }, logout);

    app.get('/skServer/loginStatus', { config: { access: 'public' } }, async (req) => {
      const { principal } = await gate.identify({ method: req.method, url: req.url, headers: req.headers });
      const loggedIn = principal.kind === 'user' || principal.kind === 'device';
      return {
        status: loggedIn ? 'loggedIn' : 'notLoggedIn',
        authenticationRequired: true,
        readOnlyAccess: settings.allowReadOnly,
        ...(loggedIn ? { username: principal.id, userLevel: principal.permission } : {}),
      };
    });

    app.post(
      '/signalk/v1/access/requests',
      { config: { access: 'public' }, bodyLimit: BODY_LIMIT },
      async (req, reply) => {
        if (!isRecord(req.body))
          throw new HttpError(400, 'request body must be a JSON object {clientId, description, permissions?}');
        const clientId = field(req.body, 'clientId', 128);
        const description = field(req.body, 'description', 256);
        const asked = req.body.permissions ?? 'readonly';
        if (!PERMISSIONS.includes(asked as Permission))
          throw new HttpError(400, `"permissions" must be one of ${PERMISSIONS.join(', ')}`);
        let created: AccessRequest;
        try {
          created = store.addRequest({ clientId, description, permission: asked as Permission, ip: req.ip });
        } catch (err) {
          if (err instanceof SecurityError) throw new HttpError(503, err.message);
          throw err;
        }
        reply.code(202);
        return requestReply(created);
      },
    );
  };
}

/** `GET /signalk/v1/requests/<id>` for a device access request (route in runtime/api/requests.ts); undefined when there is none. */
export function accessRequestReply(gate: SecurityGate, id: string): Record<string, unknown> | undefined {
  const found = gate.store?.request(id);
  if (!found) return undefined;
  return requestReply(found, found.state === 'APPROVED' ? gate.store?.takeToken(found.requestId) : undefined);
}
