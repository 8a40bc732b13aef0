// Application data, as signalk-server serves it: webapps (KIP, Freeboard) keep their settings here.
//   GET  /signalk/v1/applicationData/{global|user}/<app>             the stored versions
//   GET  /signalk/v1/applicationData/{global|user}/<app>/<version>[/<a>/<b>...][?keys=true]
//   POST the same                 body: the document (no sub-path), the value at the sub-path, or a
//                                 JSON Patch (RFC 6902) array applied to the document
// Stored as <data>/applicationData/global/<app>/<version>.json and .../users/<user>/<app>/... .
// Who may call (as upstream): global reads need readonly, global writes admin; user data belongs
// to the logged-in user or device and needs readonly to read, readwrite to write. With security
// off there is no user, and writes are refused with 405 as upstream does.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Operation } from 'fast-json-patch';
import type { Principal } from '../security/tokens.js';
import { writeFileAtomic } from '../storage/atomic.js';
import { HttpError } from './http.js';
import { isRecord } from '../../core/json.js';
import { requireCjs } from '../../core/require-cjs.js';

const fastJsonPatch = requireCjs<typeof import('fast-json-patch')>('fast-json-patch');

export const APP_DATA_PREFIX = '/signalk/v1/applicationData';
/** A stored document is at most this large: a webapp's settings, not a database. */
export const MAX_DOCUMENT_BYTES = 1024 * 1024;
const APP_ID = /^[A-Za-z0-9@._-]{1,64}$/;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

type Scope = 'global' | 'user';

/** Upstream coerces versions with semver: `1`, `1.2` and `1.2.3-x` mean 1.0.0, 1.2.0, 1.2.3. */
export function normalizeVersion(raw: string): string | undefined {
  const m = /^v?(\d{1,9})(?:\.(\d{1,9}))?(?:\.(\d{1,9}))?/.exec(raw);
  return m ? `${Number(m[1])}.${Number(m[2] ?? 0)}.${Number(m[3] ?? 0)}` : undefined;
}

/** The principal's own folder name: users and devices apart, names encoded so no name is a path. */
function ownerFolder(p: Principal): string {
  return join(p.kind === 'device' ? 'devices' : 'users', encodeURIComponent(p.id));
}

function appDir(dataDir: string, scope: Scope, principal: Principal, app: string): string {
  return join(dataDir, 'applicationData', scope === 'global' ? 'global' : ownerFolder(principal), app);
}

function readDocument(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    // Absent (or damaged: upstream starts from an empty document too).
    return {};
  }
}

function checkKeys(keys: string[]): void {
  for (const k of keys) if (FORBIDDEN_KEYS.has(k)) throw new HttpError(400, `invalid path: ${k} is not allowed`);
}

function getAt(doc: unknown, keys: string[]): unknown {
  let node = doc;
  for (const k of keys) {
    if (!isRecord(node) && !Array.isArray(node)) return undefined;
    node = Object.hasOwn(node, k) ? (node as Record<string, unknown>)[k] : undefined;
  }
  return node;
}

function setAt(doc: unknown, keys: string[], value: unknown): unknown {
  const root = isRecord(doc) ? doc : {};
  let node: Record<string, unknown> = root;
  for (const k of keys.slice(0, -1)) {
    if (!isRecord(node[k])) node[k] = {};
    node = node[k] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]] = value;
  return root;
}

function applyPatch(doc: unknown, ops: unknown[]): unknown {
  for (const op of ops) {
    if (!isRecord(op)) throw new HttpError(400, 'a JSON Patch is an array of operation objects');
    for (const field of ['path', 'from'])
      if (typeof op[field] === 'string') checkKeys((op[field] as string).split('/'));
  }
  try {
    // validate: a malformed operation is refused before anything is applied.
    return fastJsonPatch.applyPatch(doc, ops as Operation[], true).newDocument;
  } catch (err) {
    throw new HttpError(400, `JSON Patch refused: ${(err as Error).message.split('\n')[0]}`);
  }
}

interface Target {
  dir: string;
  /** Undefined for `/<app>` alone (the list of versions). */
  file: string | undefined;
  keys: string[];
}

export function appDataRoutes(opts: { dataDir: string; securityEnabled: boolean }): (app: FastifyInstance) => void {
  const target = (req: FastifyRequest, scope: Scope): Target => {
    const parts = req.url
      .split('?')[0]
      .slice(`${APP_DATA_PREFIX}/${scope}/`.length)
      .split('/')
      .filter((s) => s !== '');
    let decoded: string[];
    try {
      decoded = parts.map((s) => decodeURIComponent(s));
    } catch {
      throw new HttpError(400, 'malformed percent-encoding');
    }
    const [appId, rawVersion, ...keys] = decoded;
    if (appId === undefined || !APP_ID.test(appId) || appId === '.' || appId === '..')
      throw new HttpError(400, 'invalid application id');
    const version = rawVersion === undefined ? undefined : normalizeVersion(rawVersion);
    if (rawVersion !== undefined && version === undefined) throw new HttpError(400, 'invalid application version');
    checkKeys(keys);
    const dir = appDir(opts.dataDir, scope, req.principal, appId);
    return { dir, file: version === undefined ? undefined : join(dir, `${version}.json`), keys };
  };

  const read = (req: FastifyRequest<{ Querystring: { keys?: string } }>, scope: Scope): unknown => {
    const t = target(req, scope);
    if (t.file === undefined) {
      if (!existsSync(t.dir)) throw new HttpError(404, 'no data stored for this application');
      return readdirSync(t.dir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => f.slice(0, -5));
    }
    let data = readDocument(t.file);
    if (t.keys.length > 0) {
      data = getAt(data, t.keys);
      if (data === undefined) throw new HttpError(404, `no data at ${t.keys.join('/')}`);
    }
    if (req.query.keys === 'true') {
      if (typeof data !== 'object' || data === null) throw new HttpError(404, 'not an object: it has no keys');
      return Object.keys(data);
    }
    return data;
  };

  const write = (req: FastifyRequest, scope: Scope): void => {
    if (!opts.securityEnabled)
      throw new HttpError(405, 'security is not enabled: application data needs a logged-in user');
    const t = target(req, scope);
    if (t.file === undefined) throw new HttpError(400, 'a write needs an application version: .../<app>/<version>');
    let doc: unknown;
    if (t.keys.length > 0) doc = setAt(readDocument(t.file), t.keys, req.body);
    else if (Array.isArray(req.body)) doc = applyPatch(readDocument(t.file), req.body);
    else doc = req.body;
    const text = JSON.stringify(doc, null, 2);
    if (Buffer.byteLength(text) > MAX_DOCUMENT_BYTES)
      throw new HttpError(413, `application data larger than ${MAX_DOCUMENT_BYTES} bytes`);
    writeFileAtomic(t.file, text, 0o600);
  };

  return (app) => {
    for (const scope of ['global', 'user'] as const) {
      const url = `${APP_DATA_PREFIX}/${scope}/*`;
      const userScope = scope === 'user';
      app.get<{ Querystring: { keys?: string } }>(url, { config: { access: 'read' } }, (req) => {
        if (userScope && req.principal.kind === 'anonymous')
          throw new HttpError(401, 'user application data needs a login');
        return read(req, scope);
      });
      app.post(url, { config: { access: userScope ? 'write' : 'admin' } }, (req, reply) => {
        write(req, scope);
        // Upstream answers a JSON string; KIP parses it.
        return reply.type('application/json').send(JSON.stringify('ApplicationData saved'));
      });
    }
  };
}
