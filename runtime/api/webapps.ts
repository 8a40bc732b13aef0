// Webapps: npm packages with the `signalk-webapp` or `signalk-embeddable-webapp` keyword in a plugin
// folder, served as signalk-server does at `/<package name>/` from their `public/` folder (or the
// package root when there is none), and listed at `GET /skServer/webapps`.
// Files are served by @fastify/static (`send`: no path traversal, content types, ETag and
// Last-Modified); a webapp's files are code, not boat data, so they are public even with
// security on, which lets a webapp show its login page (docs/security.md).
// The folders are scanned again at most every RESCAN_MS, so an app installed with
// `signalk-edge install-webapp` is served without a restart.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { candidateFolders } from '../plugins/discovery.js';
import { isRecord } from '../../core/json.js';
import { requireCjs } from '../../core/require-cjs.js';

const { fastifyStatic } = requireCjs<typeof import('@fastify/static')>('@fastify/static');

export const WEBAPP_KEYWORDS = ['signalk-webapp', 'signalk-embeddable-webapp'];
const RESCAN_MS = 2000;
/** Bundles and assets; the entry page is revalidated instead (send below). */
const MAX_AGE_MS = 3_600_000;

export interface Webapp {
  name: string;
  version: string;
  description: string;
  keywords: string[];
  /** package.json `signalk` (appIcon, displayName): the admin UI and our landing page read it. */
  signalk: Record<string, unknown>;
  /** The folder files are served from. */
  root: string;
}

/** The webapp in one package folder, undefined when it is none. */
export function readWebapp(dir: string): Webapp | undefined {
  let pkg: unknown;
  try {
    pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  } catch {
    return undefined;
  }
  if (!isRecord(pkg) || typeof pkg.name !== 'string' || !Array.isArray(pkg.keywords)) return undefined;
  const keywords = pkg.keywords.filter((k): k is string => typeof k === 'string');
  if (!keywords.some((k) => WEBAPP_KEYWORDS.includes(k))) return undefined;
  const pub = join(dir, 'public');
  return {
    name: pkg.name,
    version: typeof pkg.version === 'string' ? pkg.version : '0.0.0',
    description: typeof pkg.description === 'string' ? pkg.description : '',
    keywords,
    signalk: isRecord(pkg.signalk) ? pkg.signalk : {},
    root: existsSync(pub) && statSync(pub).isDirectory() ? pub : dir,
  };
}

/** Every webapp in the plugin folders; the first of a name wins, as upstream's uniqBy. */
export function discoverWebapps(dirs: string[]): Webapp[] {
  const found = new Map<string, Webapp>();
  for (const dir of dirs) {
    for (const folder of candidateFolders(dir)) {
      const app = readWebapp(folder);
      if (app && !found.has(app.name)) found.set(app.name, app);
    }
  }
  return [...found.values()];
}

/** What `GET /skServer/webapps` answers per app: its package.json fields, as upstream lists them. */
export function webappListing(app: Webapp): Record<string, unknown> {
  const { root: _root, ...listed } = app;
  return listed;
}

export class WebappDirectory {
  private cached: Webapp[] = [];
  private scannedAt = -Infinity;

  constructor(private readonly dirs: string[]) {}

  list(): Webapp[] {
    const now = Date.now();
    if (now - this.scannedAt >= RESCAN_MS) {
      this.cached = discoverWebapps(this.dirs);
      this.scannedAt = now;
    }
    return this.cached;
  }

  /** The webapp a URL path belongs to and the file path inside it (`/@scope/name/a/b.js` → `a/b.js`). */
  resolve(pathname: string): { app: Webapp; file: string } | undefined {
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return undefined;
    }
    for (const app of this.list()) {
      const prefix = `/${app.name}`;
      if (decoded === prefix || decoded.startsWith(`${prefix}/`))
        return { app, file: decoded.slice(prefix.length + 1) };
    }
    return undefined;
  }
}

function send(reply: FastifyReply, app: Webapp, file: string): FastifyReply {
  const name = file === '' ? 'index.html' : file;
  // The entry page is revalidated every time: it names the current bundles.
  const entry = name.endsWith('.html') || name.endsWith('/');
  if (entry) reply.header('cache-control', 'no-cache');
  return reply.sendFile(name, app.root, {
    maxAge: MAX_AGE_MS,
    cacheControl: !entry,
    dotfiles: 'deny',
    index: ['index.html'],
  });
}

/**
 * `GET /skServer/webapps` and the files of every webapp. Webapps are found by a catch-all GET route,
 * which fastify tries only after every other route: an app cannot shadow an API path.
 */
export function webappRoutes(directory: WebappDirectory): (app: FastifyInstance) => Promise<void> {
  return async (app) => {
    await app.register(fastifyStatic, { serve: false, root: process.cwd() });
    // Public: an app list names installed software, no boat data; the landing page shows it before login.
    app.get('/skServer/webapps', { config: { access: 'public' } }, () => directory.list().map(webappListing));
    app.get('/*', { config: { access: 'public' } }, (req, reply) => {
      const pathname = req.url.split('?')[0];
      const hit = directory.resolve(pathname);
      if (!hit) return reply.code(404).send({ error: `no such endpoint: GET ${pathname}`, statusCode: 404 });
      // `/kip` → `/kip/`, so the app's relative URLs resolve inside it.
      if (hit.file === '' && !pathname.endsWith('/')) return reply.redirect(`${pathname}/`, 301);
      return send(reply, hit.app, hit.file);
    });
  };
}
