// Tokens are JWTs (jose, HS256 with the store's secret): subject `user:<name>` or
// `device:<clientId>`, a random id (jti) for revocation, an expiry. The permission is not in the
// token: it is looked up on every use, so removing a user or device, lowering a permission, revoking
// a token id or approving a device again (new token id) takes effect on the next request.

import { randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify, errors } from 'jose';
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

export class TokenService {
  private key: Uint8Array | undefined;

  constructor(private readonly store: SecurityStore) {}

  private secret(): Uint8Array {
    return (this.key ??= this.store.secret());
  }

  private async sign(subject: string, jti: string, ttlSeconds: number): Promise<{ token: string; exp: number }> {
    const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(subject).setJti(jti).setIssuedAt().setExpirationTime(exp).sign(this.secret());
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
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.secret(), { algorithms: ['HS256'] }));
    } catch (err) {
      return { error: err instanceof errors.JWTExpired ? 'token expired: log in again' : 'invalid token' };
    }
    const { sub, jti, exp } = payload;
    if (typeof sub !== 'string' || typeof jti !== 'string' || typeof exp !== 'number') return { error: 'invalid token' };
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
