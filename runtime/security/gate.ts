// The one security gate every HTTP request and WebSocket upgrade passes before any route:
// host check → origin check (state changes and upgrades) → identity (token) → permission level.
// Routes declare who may call them (`access`); path ACLs are asked by the routes that know paths.

import { AclCheck, type CanRead } from './acl.js';
import { OriginPolicy } from './origins.js';
import { SECURITY_OFF, type SecuritySettings } from './settings.js';
import { SecurityStore, type Permission } from './store.js';
import { ANONYMOUS, TokenService, type Principal } from './tokens.js';
import { requireCjs } from '../../core/require-cjs.js';

const { fastifyCookie } = requireCjs<typeof import('@fastify/cookie')>('@fastify/cookie');

/** Who may call a route: anyone, or at least a readonly / readwrite / admin principal. */
export type Access = 'public' | 'read' | 'write' | 'admin';
/** A route's access, fixed or by method and path (one route serving reads and changes). */
export type AccessRule = Access | ((method: string, path: string) => Access);

export const AUTH_COOKIE = 'JAUTHENTICATION';

const RANK: Record<Permission | 'none', number> = { none: 0, readonly: 1, readwrite: 2, admin: 3 };
const NEED: Record<Access, number> = { public: 0, read: 1, write: 2, admin: 3 };
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Everyone is this when security is off (the loopback-only demo). */
const LOCAL: Principal = { id: 'local', kind: 'local', permission: 'admin' };

export interface GateRequest {
  method: string;
  /** Path and query, as in the request line. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  upgrade?: boolean;
}

export type GateResult = { ok: true; principal: Principal } | { ok: false; status: number; error: string };

const header = (h: GateRequest['headers'], name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/** The token a client sent: Authorization `Bearer`/`JWT` header, the login cookie, or `?token=` (WebSocket clients that cannot set headers). */
function tokenOf(req: GateRequest): string | undefined {
  const auth = header(req.headers, 'authorization');
  const m = auth ? /^(?:Bearer|JWT)\s+(\S+)$/i.exec(auth) : null;
  if (m) return m[1];
  const cookie = header(req.headers, 'cookie');
  const fromCookie = cookie ? fastifyCookie.parse(cookie)[AUTH_COOKIE] : undefined;
  if (fromCookie) return fromCookie;
  const q = req.url.indexOf('?');
  return q < 0 ? undefined : (new URLSearchParams(req.url.slice(q + 1)).get('token') ?? undefined);
}

export class SecurityGate {
  readonly settings: SecuritySettings;
  readonly origins: OriginPolicy;
  readonly store: SecurityStore | undefined;
  readonly tokens: TokenService | undefined;
  private readonly acl: AclCheck;

  constructor(opts: { security?: SecuritySettings; dataDir?: string; bindHost: string; selfContext: string }) {
    this.settings = opts.security ?? SECURITY_OFF;
    this.origins = new OriginPolicy(this.settings, opts.bindHost);
    if (this.settings.enabled) {
      if (opts.dataDir === undefined) throw new Error('security is on but no data folder holds its users and keys');
      this.store = new SecurityStore(opts.dataDir);
      this.tokens = new TokenService(this.store);
      this.store.secret(); // made now, so a bad key file stops the start, not the first login
    }
    this.acl = new AclCheck(this.settings.enabled ? this.settings.acls : [], opts.selfContext);
  }

  get enabled(): boolean {
    return this.settings.enabled;
  }

  /** The principal behind a request's token (anonymous without one), and why a token sent was not accepted. */
  async identify(req: GateRequest): Promise<{ principal: Principal; tokenError?: string }> {
    if (!this.tokens) return { principal: LOCAL };
    const token = tokenOf(req);
    const anonymous: Principal = this.settings.allowReadOnly ? { ...ANONYMOUS, permission: 'readonly' } : ANONYMOUS;
    if (token === undefined) return { principal: anonymous };
    const verified = await this.tokens.verify(token);
    return 'error' in verified ? { principal: anonymous, tokenError: verified.error } : { principal: verified };
  }

  async admit(req: GateRequest, rule: AccessRule): Promise<GateResult> {
    const host = header(req.headers, 'host');
    const badHost = this.origins.checkHost(host);
    if (badHost) return { ok: false, status: 403, error: badHost };
    if (req.upgrade || !SAFE_METHODS.has(req.method)) {
      const badOrigin = this.origins.checkOrigin(header(req.headers, 'origin'), host);
      if (badOrigin) return { ok: false, status: 403, error: badOrigin };
    }
    // CORS preflights carry no credentials; the request that follows is judged on its own.
    const access =
      req.method === 'OPTIONS' ? 'public' : typeof rule === 'function' ? rule(req.method, req.url.split('?')[0]) : rule;
    const { principal, tokenError } = await this.identify(req);
    if (RANK[principal.permission] >= NEED[access]) return { ok: true, principal };
    if (principal.kind === 'anonymous') {
      return {
        ok: false,
        status: 401,
        error:
          tokenError ??
          'authentication required: log in (POST /signalk/v1/auth/login) or request device access (POST /signalk/v1/access/requests)',
      };
    }
    return {
      ok: false,
      status: 403,
      error: `${principal.kind} ${principal.id} has ${principal.permission} permission; this needs ${access === 'read' ? 'readonly' : access === 'write' ? 'readwrite' : 'admin'}`,
    };
  }

  /** Whether the principal may PUT to `path` in `context` (path ACLs; always when security is off). */
  canPut(principal: Principal, context: string, path: string): boolean {
    return principal.kind === 'local' || this.acl.allows(principal.id, context, path, 'put');
  }

  /** The principal's read filter, or undefined when it may read every path. */
  readFilter(principal: Principal): CanRead | undefined {
    if (principal.kind === 'local' || !this.acl.active) return undefined;
    return (context, path) => this.acl.allows(principal.id, context, path, 'read');
  }
}
