// Tokens are JWTs (jose, HS256 with the store's secret): subject `user:<name>` or
// `device:<clientId>`, a random id (jti) for revocation, an expiry. The permission is not in the
// token: it is looked up on every use, so removing a user or device, lowering a permission, revoking
// a token id or approving a device again (new token id) takes effect on the next request.
// A token whose signature was verified is remembered (bounded), so a client's later requests cost a
// map lookup instead of an HMAC through WebCrypto (jose's path on Node, ~0.1 ms); the expiry,
// revocation and user/device lookups still run on every request. jose is loaded at the first
// token signed or verified: a runtime with security off never needs it (decision 0098).

import { randomBytes, webcrypto } from 'node:crypto';
import type * as Jose from 'jose';
import type { Device, Permission, SecurityStore } from './store.js';

export interface Principal {
  /** User name or device clientId; `anonymous` without a token, `local` when security is off. */
  id: string;
  kind: 'user' | 'device' | 'anonymous' | 'local';
  permission: Permission | 'none';
  /** Token id and expiry (seconds) when the principal came from a token. */
  jti?: string;
  exp?: number;
}

export const ANONYMOUS: Principal = { id: 'anonymous', kind: 'anonymous', permission: 'none' };

/** Verified tokens remembered at most; the oldest is forgotten first. */
const VERIFIED_MAX = 1024;

interface Claims {
  sub: string;
  jti: string;
  exp: number;
}

let joseModule: Promise<typeof Jose> | undefined;
const jose = (): Promise<typeof Jose> => (joseModule ??= import('jose'));

export class TokenService {
  private key: Promise<webcrypto.CryptoKey> | undefined;
  private readonly verified = new Map<string, Claims>();

  constructor(private readonly store: SecurityStore) {}

  private secret(): Promise<webcrypto.CryptoKey> {
    return (this.key ??= webcrypto.subtle.importKey(
      'raw',
      this.store.secret(),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    ));
  }

  /** The token's claims when its signature is good, from the bounded cache or verified now. */
  private async claims(token: string): Promise<Claims | { error: string }> {
    const known = this.verified.get(token);
    if (known) return known.exp * 1000 > Date.now() ? known : { error: 'token expired: log in again' };
    const { jwtVerify, errors } = await jose();
    let payload;
    try {
      ({ payload } = await jwtVerify(token, await this.secret(), { algorithms: ['HS256'] }));
    } catch (err) {
      return { error: err instanceof errors.JWTExpired ? 'token expired: log in again' : 'invalid token' };
    }
    const { sub, jti, exp } = payload;
    if (typeof sub !== 'string' || typeof jti !== 'string' || typeof exp !== 'number')
      return { error: 'invalid token' };
    if (this.verified.size >= VERIFIED_MAX) this.verified.delete(this.verified.keys().next().value as string);
    const claims = { sub, jti, exp };
    this.verified.set(token, claims);
    return claims;
  }

  private async sign(subject: string, jti: string, ttlSeconds: number): Promise<{ token: string; exp: number }> {
    const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
    const { SignJWT } = await jose();
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(subject)
      .setJti(jti)
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(await this.secret());
    return { token, exp };
  }

  issueForUser(username: string, ttlSeconds: number): Promise<{ token: string; exp: number }> {
    return this.sign(`user:${username}`, randomBytes(12).toString('hex'), ttlSeconds);
  }

  async issueForDevice(device: Device, ttlSeconds: number): Promise<string> {
    return (await this.sign(`device:${device.clientId}`, device.tokenId, ttlSeconds)).token;
  }

  /** The principal a token stands for, or why it does not stand for anyone. */
  async verify(token: string): Promise<Principal | { error: string }> {
    const claims = await this.claims(token);
    if ('error' in claims) return claims;
    const { sub, jti, exp } = claims;
    if (this.store.isRevoked(jti)) return { error: 'token revoked' };
    const sep = sub.indexOf(':');
    const kind = sub.slice(0, sep);
    const id = sub.slice(sep + 1);
    if (kind === 'user') {
      const user = this.store.user(id);
      return user ? { id, kind, permission: user.permission, jti, exp } : { error: `user ${id} no longer exists` };
    }
    if (kind === 'device') {
      const device = this.store.device(id);
      if (!device || device.tokenId !== jti) return { error: 'token revoked' };
      return { id, kind, permission: device.permission, jti, exp };
    }
    return { error: 'invalid token' };
  }
}
