// HTTP and WebSocket clients with full control over headers (Host, Origin, Cookie, Authorization),
// for the security tests; users put straight into a data folder's security store; and a runtime
// started with security on and its users, as every test of who-may-call-what sets it up.

import type { ExecutionContext } from 'ava';
import { request } from 'node:http';
import WebSocket from 'ws';
import { hashPassword } from '../../runtime/security/passwords.js';
import { SecurityStore, type Permission } from '../../runtime/security/store.js';
import { SECURITY_OFF, type SecuritySettings } from '../../runtime/security/settings.js';
import { startTestRuntime, type RuntimeOptions, type TestRuntime } from './runtime.js';
import { tempDir } from './temp.js';

export interface Reply {
  status: number;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

export interface CallOptions {
  /** A JSON value (sent as application/json), or raw text or bytes (with `contentType`). */
  body?: unknown;
  contentType?: string;
  token?: string;
  headers?: Record<string, string>;
}

export function call(base: string, method: string, path: string, opts: CallOptions = {}): Promise<Reply> {
  const raw =
    opts.body === undefined
      ? undefined
      : (typeof opts.body === 'string' || Buffer.isBuffer(opts.body)) && opts.contentType
        ? opts.body
        : JSON.stringify(opts.body);
  const headers: Record<string, string> = { ...opts.headers };
  if (raw !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // keep the text for the assertion message
        }
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(raw);
  });
}

/** A WebSocket upgrade: 101 and the open socket, or the HTTP status it was refused with. */
export function upgrade(
  wsBase: string,
  query: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; ws?: WebSocket; messages: unknown[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${wsBase}/signalk/v1/stream?${query}`, { headers });
    const messages: unknown[] = [];
    ws.on('message', (data) => messages.push(JSON.parse(String(data))));
    ws.once('open', () => resolve({ status: 101, ws, messages }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, messages });
      ws.terminate();
    });
    ws.once('error', (err) => {
      if (ws.readyState !== WebSocket.CLOSED) reject(err);
    });
  });
}

export async function addUser(
  dataDir: string,
  username: string,
  permission: Permission,
  password = `${username}-secret-pw`,
): Promise<void> {
  new SecurityStore(dataDir).putUser({ username, permission, password: await hashPassword(password) });
}

/** Users of a test: name → permission; each one's password is `<name>-secret-pw` (see `login`). */
export type Users = Record<string, Permission>;

export async function addUsers(dataDir: string, users: Users): Promise<void> {
  for (const [username, permission] of Object.entries(users)) await addUser(dataDir, username, permission);
}

/**
 * A runtime for one test with these users in a fresh data folder and security on (`securityOn()`
 * unless `opts.security` says otherwise); stopped when the test ends.
 */
export async function startSecuredRuntime(
  t: Pick<ExecutionContext, 'teardown'>,
  users: Users,
  opts: Omit<RuntimeOptions, 'dataDir'> = {},
): Promise<TestRuntime> {
  const dataDir = tempDir(t, 'ske-data-');
  await addUsers(dataDir, users);
  const rt = await startTestRuntime({ ...opts, security: opts.security ?? securityOn(), dataDir });
  t.teardown(rt.stop);
  return rt;
}

/** Security on, as the installer writes it, with overrides. */
export function securityOn(overrides: Partial<SecuritySettings> = {}): SecuritySettings {
  return { ...SECURITY_OFF, enabled: true, allowReadOnly: false, ...overrides };
}

export async function login(base: string, username: string, password = `${username}-secret-pw`): Promise<string> {
  const r = await call(base, 'POST', '/signalk/v1/auth/login', { body: { username, password } });
  if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${JSON.stringify(r.body)}`);
  return (r.body as { token: string }).token;
}
