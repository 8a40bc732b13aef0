// Checks against browsers used as attackers (always on, security or not: the demo on 127.0.0.1 is
// reachable from any web page the operator opens):
// - Host: a page on evil.example whose name is re-pointed at this machine (DNS rebinding) sends
//   `Host: evil.example`. Served: IP literals, localhost, this machine's name (and name.local), the
//   bind name and the configured `security.hostnames`.
// - Origin: a browser names the page's origin on cross-site requests and WebSocket upgrades. A
//   state change or an upgrade from an origin that is neither this server nor in
//   `security.allowedOrigins` is refused (CSRF, cross-site WebSocket hijacking). Clients that are not
//   browsers send no Origin and are judged by their token alone.

import { hostname } from 'node:os';
import { isIP } from 'node:net';
import type { SecuritySettings } from './settings.js';

/** The host name of a Host header, without port or IPv6 brackets; undefined when malformed. */
function hostOf(header: string): string | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+))(?::\d{1,5})?$/.exec(header);
  return m ? (m[1] ?? m[2]).toLowerCase() : undefined;
}

export class OriginPolicy {
  private readonly names: Set<string>;
  private readonly origins: Set<string>;

  constructor(security: SecuritySettings, bindHost: string) {
    const own = hostname().toLowerCase();
    this.names = new Set(['localhost', own, `${own}.local`, bindHost.toLowerCase(), ...security.hostnames]);
    this.origins = new Set(security.allowedOrigins);
  }

  /** Why a Host header is refused, or undefined when it is served. */
  checkHost(header: string | undefined): string | undefined {
    if (header === undefined) return undefined; // HTTP/1.0 clients; browsers always send Host
    const host = hostOf(header);
    if (host !== undefined && (isIP(host) !== 0 || this.names.has(host) || host.endsWith('.localhost')))
      return undefined;
    return `host ${JSON.stringify(header.slice(0, 100))} is not served here; add the name to security.hostnames if this server is reached by it`;
  }

  /** Whether `origin` may read responses (CORS) and make changes. */
  allowedCrossOrigin(origin: string): boolean {
    return this.origins.has(origin);
  }

  /** Why a browser request from `origin` is refused, or undefined when it may go on. */
  checkOrigin(origin: string | undefined, hostHeader: string | undefined): string | undefined {
    if (origin === undefined) return undefined;
    if (this.origins.has(origin)) return undefined;
    try {
      if (hostHeader !== undefined && new URL(origin).host === hostHeader.toLowerCase()) return undefined;
    } catch {
      // `null` or garbage: refused below
    }
    return `origin ${JSON.stringify(origin.slice(0, 100))} is not allowed; add it to security.allowedOrigins to let that web app use this server`;
  }
}
