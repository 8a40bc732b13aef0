// The `security` settings: whether clients must authenticate, which browser origins and host names
// are served, token lifetimes and per-path ACLs. Absent = the local demo: no logins, loopback only.

import type { Reader } from '../../core/settings-reader.js';
import { parseAcls, type Acl } from './acl.js';

export interface SecuritySettings {
  /** Clients need a token; off only makes sense on a loopback bind (enforced at start). */
  enabled: boolean;
  /** Reading (REST GET, the stream) without a token, as a `readonly` client. */
  allowReadOnly: boolean;
  /** Browser origins (`http://chartplotter.local:8080`) allowed to call the API cross-origin. */
  allowedOrigins: string[];
  /** Host names the API answers to besides IP literals, localhost and this machine's name (DNS rebinding). */
  hostnames: string[];
  /** Lifetime of a login token, in seconds. */
  loginTtlSeconds: number;
  /** Lifetime of a device token issued on an approved access request, in seconds. */
  deviceTtlSeconds: number;
  /** Per-path ACLs in signalk-server's format; none = the permission level alone decides. */
  acls: Acl[];
}

export const DEFAULT_LOGIN_TTL_S = 24 * 3600;
export const DEFAULT_DEVICE_TTL_S = 365 * 24 * 3600;

/** The demo's: security off; the host and origin checks still apply. */
export const SECURITY_OFF: SecuritySettings = {
  enabled: false,
  allowReadOnly: true,
  allowedOrigins: [],
  hostnames: [],
  loginTtlSeconds: DEFAULT_LOGIN_TTL_S,
  deviceTtlSeconds: DEFAULT_DEVICE_TTL_S,
  acls: [],
};

function strings(r: Reader, v: unknown, key: string): string[] {
  if (!Array.isArray(v)) r.fail(key, 'must be an array of strings');
  return v.map((s: unknown, i: number) => r.str(s, `${key}[${i}]`));
}

export function parseSecuritySettings(r: Reader, raw: unknown): SecuritySettings {
  const o = r.obj(raw, 'security');
  r.known(o, 'security', [
    'enabled',
    'allowReadOnly',
    'allowedOrigins',
    'hostnames',
    'loginTtlSeconds',
    'deviceTtlSeconds',
    'acls',
  ]);
  const origins = o.allowedOrigins === undefined ? [] : strings(r, o.allowedOrigins, 'security.allowedOrigins');
  origins.forEach((origin, i) => {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      // reported below
    }
    if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin) {
      r.fail(
        `security.allowedOrigins[${i}]`,
        `must be an origin like http://plotter.local:8080 (scheme, host, optional port; no path), got ${JSON.stringify(origin)}`,
      );
    }
  });
  const hostnames = o.hostnames === undefined ? [] : strings(r, o.hostnames, 'security.hostnames');
  hostnames.forEach((h, i) => {
    if (!/^[A-Za-z0-9.-]{1,253}$/.test(h))
      r.fail(`security.hostnames[${i}]`, `must be a host name without port, got ${JSON.stringify(h)}`);
  });
  return {
    enabled: o.enabled === undefined ? true : r.bool(o.enabled, 'security.enabled'),
    allowReadOnly: o.allowReadOnly === undefined ? false : r.bool(o.allowReadOnly, 'security.allowReadOnly'),
    allowedOrigins: origins,
    hostnames: hostnames.map((h) => h.toLowerCase()),
    loginTtlSeconds:
      o.loginTtlSeconds === undefined
        ? DEFAULT_LOGIN_TTL_S
        : r.int(o.loginTtlSeconds, 'security.loginTtlSeconds', 60, 10 * 365 * 86400),
    deviceTtlSeconds:
      o.deviceTtlSeconds === undefined
        ? DEFAULT_DEVICE_TTL_S
        : r.int(o.deviceTtlSeconds, 'security.deviceTtlSeconds', 60, 10 * 365 * 86400),
    acls: o.acls === undefined ? [] : parseAcls(r, o.acls),
  };
}

/** 127.0.0.0/8, ::1 and localhost: reachable from this machine only. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** A start refused because it would put an open API on the network. */
export class UnsafeStartError extends Error {}

/** Refuses what would put an open API on the network; the message says how to fix it. */
export function assertSafeBind(host: string, security: SecuritySettings | undefined): void {
  if (security?.enabled || isLoopback(host)) return;
  throw new UnsafeStartError(
    `refusing to serve on ${host} with security off: any device on the network could switch the boat's equipment and rewrite plugin configuration. Turn security on ("security": {"enabled": true} in the settings, then create an admin with \`signalk-edge user add <name> --permission admin\`), or bind to 127.0.0.1.`,
  );
}
