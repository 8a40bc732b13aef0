// Who may use the API, kept in <data>/security/ (every file 0600, written atomically):
//   secret.key      the JWT signing key, made at first use
//   users.json      users with scrypt password hashes and a permission
//   devices.json    devices whose access request was approved, with the id of their current token
//   requests.json   device access requests (pending, approved with the token to hand out once, denied)
//   revoked.json    ids of revoked tokens until they expire
// The CLI (`signalk-edge user|access`) and the runtime share these files; the runtime sees a change
// within REFRESH_MS, so an approval, a removed user or a revocation applies to a running service.

import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../storage/atomic.js';

export const PERMISSIONS = ['readonly', 'readwrite', 'admin'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export interface User {
  username: string;
  permission: Permission;
  password: string;
}

export interface Device {
  clientId: string;
  description: string;
  permission: Permission;
  /** Only the token with this id is valid for the device: approving it again replaces its token. */
  tokenId: string;
  approvedAt: string;
}

export interface AccessRequest {
  requestId: string;
  clientId: string;
  description: string;
  permission: Permission;
  state: 'PENDING' | 'APPROVED' | 'DENIED';
  requestedAt: string;
  ip: string;
  /** Set on approval, removed once the device has fetched it. */
  token?: string;
}

interface Revoked {
  jti: string;
  /** Seconds since the epoch: after it the token is expired anyway and the entry goes. */
  exp: number;
}

export class SecurityError extends Error {}

const REFRESH_MS = 250;
/** Pending requests kept at most; more are refused (a flood must not grow the file without bound). */
export const MAX_PENDING_REQUESTS = 100;
/** Answered requests are kept this long for the device to poll, then dropped. */
const ANSWERED_KEEP_MS = 24 * 3600 * 1000;

/** One JSON file `{"<key>": [...]}`, re-read when it changed on disk (checked at most every REFRESH_MS). */
class JsonList<T> {
  private cached: T[] | undefined;
  private stamp = '';
  private checkedAt = 0;

  constructor(
    readonly path: string,
    private readonly key: string,
    private readonly complete: (v: Record<string, unknown>) => boolean,
  ) {}

  read(): T[] {
    const now = Date.now();
    if (this.cached !== undefined && now - this.checkedAt < REFRESH_MS) return this.cached;
    this.checkedAt = now;
    let stamp: string;
    try {
      const st = statSync(this.path);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      stamp = 'absent';
    }
    if (stamp === this.stamp && this.cached !== undefined) return this.cached;
    this.stamp = stamp;
    if (stamp === 'absent') return (this.cached = []);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch (err) {
      throw new SecurityError(`${this.path}: ${(err as Error).message}`);
    }
    const list = typeof json === 'object' && json !== null ? (json as Record<string, unknown>)[this.key] : undefined;
    if (
      !Array.isArray(list) ||
      !list.every((x) => typeof x === 'object' && x !== null && this.complete(x as Record<string, unknown>))
    ) {
      throw new SecurityError(`${this.path}: expected {"${this.key}": [...]} with complete entries`);
    }
    return (this.cached = list as T[]);
  }

  write(list: T[]): void {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    writeFileAtomic(this.path, `${JSON.stringify({ [this.key]: list }, null, 2)}\n`, 0o600);
    this.cached = list;
    this.checkedAt = 0;
    this.stamp = '';
  }
}

export function checkUsername(name: string): void {
  if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(name))
    throw new SecurityError(`user name must be 1-64 letters, digits, _ . @ or -, got ${JSON.stringify(name)}`);
}

const isPermission = (v: unknown): v is Permission => PERMISSIONS.includes(v as Permission);

export class SecurityStore {
  readonly dir: string;
  private readonly users: JsonList<User>;
  private readonly devices: JsonList<Device>;
  private readonly requests: JsonList<AccessRequest>;
  private readonly revoked: JsonList<Revoked>;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'security');
    const file = (name: string) => join(this.dir, name);
    this.users = new JsonList(
      file('users.json'),
      'users',
      (u) => typeof u.username === 'string' && typeof u.password === 'string' && isPermission(u.permission),
    );
    this.devices = new JsonList(
      file('devices.json'),
      'devices',
      (d) => typeof d.clientId === 'string' && typeof d.tokenId === 'string' && isPermission(d.permission),
    );
    this.requests = new JsonList(
      file('requests.json'),
      'requests',
      (r) => typeof r.requestId === 'string' && typeof r.clientId === 'string' && typeof r.state === 'string',
    );
    this.revoked = new JsonList(
      file('revoked.json'),
      'revoked',
      (r) => typeof r.jti === 'string' && typeof r.exp === 'number',
    );
  }

  /** The signing key: 32 random bytes made once, kept 0600. */
  secret(): Uint8Array {
    const path = join(this.dir, 'secret.key');
    try {
      const hex = readFileSync(path, 'utf8').trim();
      if (/^[0-9a-f]{64}$/.test(hex)) return Buffer.from(hex, 'hex');
      throw new SecurityError(
        `${path}: not a 64-digit hex key; remove it to make a new one (every token becomes invalid)`,
      );
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const key = randomBytes(32);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileAtomic(path, `${key.toString('hex')}\n`, 0o600);
    return key;
  }

  // --- users ---
  listUsers(): User[] {
    return this.users.read();
  }
  user(username: string): User | undefined {
    return this.users.read().find((u) => u.username === username);
  }
  putUser(user: User): void {
    checkUsername(user.username);
    this.users.write([...this.users.read().filter((u) => u.username !== user.username), user]);
  }
  removeUser(username: string): boolean {
    const users = this.users.read();
    const kept = users.filter((u) => u.username !== username);
    if (kept.length !== users.length) this.users.write(kept);
    return kept.length !== users.length;
  }

  // --- devices and access requests ---
  device(clientId: string): Device | undefined {
    return this.devices.read().find((d) => d.clientId === clientId);
  }
  listDevices(): Device[] {
    return this.devices.read();
  }
  removeDevice(clientId: string): boolean {
    const devices = this.devices.read();
    const kept = devices.filter((d) => d.clientId !== clientId);
    if (kept.length !== devices.length) this.devices.write(kept);
    return kept.length !== devices.length;
  }
  listRequests(): AccessRequest[] {
    const cutoff = Date.now() - ANSWERED_KEEP_MS;
    return this.requests.read().filter((r) => r.state === 'PENDING' || Date.parse(r.requestedAt) > cutoff);
  }
  request(requestId: string): AccessRequest | undefined {
    return this.listRequests().find((r) => r.requestId === requestId);
  }
  /** A new pending request; a clientId with one pending already gets that one back. */
  addRequest(req: Omit<AccessRequest, 'requestId' | 'state' | 'requestedAt'>): AccessRequest {
    const list = this.listRequests();
    const existing = list.find((r) => r.clientId === req.clientId && r.state === 'PENDING');
    if (existing) return existing;
    if (list.filter((r) => r.state === 'PENDING').length >= MAX_PENDING_REQUESTS) {
      throw new SecurityError(
        `too many pending access requests (${MAX_PENDING_REQUESTS}); an admin must answer some first (signalk-edge access list)`,
      );
    }
    const added: AccessRequest = {
      ...req,
      requestId: randomBytes(12).toString('hex'),
      state: 'PENDING',
      requestedAt: new Date().toISOString(),
    };
    this.requests.write([...list, added]);
    return added;
  }
  /** Approves (making the device and its token with `issue`) or denies the pending request of `idOrClient`. */
  async answerRequest(
    idOrClient: string,
    approve: boolean,
    issue: (device: Device) => Promise<string>,
    permission?: Permission,
  ): Promise<AccessRequest> {
    const list = this.listRequests();
    const req = list.find((r) => r.state === 'PENDING' && (r.requestId === idOrClient || r.clientId === idOrClient));
    if (!req)
      throw new SecurityError(
        `no pending access request ${JSON.stringify(idOrClient)} (signalk-edge access list shows them)`,
      );
    if (approve) {
      const device: Device = {
        clientId: req.clientId,
        description: req.description,
        permission: permission ?? req.permission,
        tokenId: '',
        approvedAt: new Date().toISOString(),
      };
      device.tokenId = randomBytes(12).toString('hex');
      req.token = await issue(device);
      req.permission = device.permission;
      this.devices.write([...this.devices.read().filter((d) => d.clientId !== device.clientId), device]);
    }
    req.state = approve ? 'APPROVED' : 'DENIED';
    this.requests.write(list);
    return req;
  }
  /** The token of an approved request, handed out once. */
  takeToken(requestId: string): string | undefined {
    const list = this.listRequests();
    const req = list.find((r) => r.requestId === requestId);
    const token = req?.token;
    if (req && token !== undefined) {
      delete req.token;
      this.requests.write(list);
    }
    return token;
  }

  // --- revocation ---
  isRevoked(jti: string): boolean {
    return this.revoked.read().some((r) => r.jti === jti);
  }
  revoke(jti: string, exp: number): void {
    const now = Date.now() / 1000;
    this.revoked.write([...this.revoked.read().filter((r) => r.exp > now && r.jti !== jti), { jti, exp }]);
  }
}
