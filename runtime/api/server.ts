// The runtime's HTTP server on fastify: Signal K discovery, REST, security endpoints, the edge status
// endpoint and the routes other parts add (plugins); the WebSocket stream on `ws`, attached to the
// same server. Every request and upgrade passes the security gate (runtime/security/gate.ts) first,
// in one onRequest hook; each route says who may call it in `config.access` (no access = admin).

import type { FastifyError, FastifyInstance } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { DeltaBus } from '../bus/bus.js';
import type { SignalKModel } from '../model/model.js';
import type { SourceStatus } from '../../hal/sources/source.js';
import type { MqttStatus } from '../mqtt/service.js';
import { createLogger } from '../../core/log.js';
import { SecurityGate, type AccessRule } from '../security/gate.js';
import { securityRoutes } from '../security/routes.js';
import { assertSafeBind, type SecuritySettings } from '../security/settings.js';
import type { Principal } from '../security/tokens.js';
import { discoveryDocument } from './discovery.js';
import { HttpError, MAX_BODY_BYTES } from './http.js';
import { restRoutes } from './rest.js';
import { STREAM_PATH, StreamServer, type StreamLimits } from './stream.js';
import type { BinaryStreamHub } from './binary-streams.js';
import type { ApiRoutes, PutDispatcher } from './types.js';
import { WebappDirectory, webappRoutes } from './webapps.js';
import { landingRoutes } from './landing.js';
import { PutRequests, requestRoutes } from './requests.js';
import { appDataRoutes } from './app-data.js';
import { lazySchemaCompilers } from './schema-compilers.js';
import { requireCjs } from '../../core/require-cjs.js';

const { fastify: Fastify } = requireCjs<typeof import('fastify')>('fastify');
const { fastifyCookie } = requireCjs<typeof import('@fastify/cookie')>('@fastify/cookie');
const { fastifyCors } = requireCjs<typeof import('@fastify/cors')>('@fastify/cors');

const log = createLogger('api');

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route; absent = admin only. */
    access?: AccessRule;
  }
  interface FastifyRequest {
    /** Set by the security gate before any handler runs. */
    principal: Principal;
  }
}

export interface ApiOptions {
  host: string;
  port: number;
  bus: DeltaBus;
  model: SignalKModel;
  sources: () => SourceStatus[];
  /** The MQTT connection and bridge, when configured. */
  mqtt?: () => MqttStatus;
  routes: ApiRoutes[];
  put: PutDispatcher;
  /** Send-queue bound and heartbeat of the stream (defaults in stream.ts). */
  streamLimits?: Partial<StreamLimits>;
  /** Authentication, allowed origins and host names, ACLs; absent = security off (loopback only). */
  security?: SecuritySettings;
  /** Holds users, tokens' key and access requests when security is on. */
  dataDir?: string;
  /** Binary streams from plugins (WebSocket upgrades under /signalk/v2/api/streams). */
  binaryStreams?: BinaryStreamHub;
  /** Folders searched for webapps (the plugin folders); absent = none served. */
  webappDirs?: string[];
}

export interface ApiServer {
  port: number;
  /** http://host:port */
  url: string;
  gate: SecurityGate;
  close(): Promise<void>;
}

export const STATUS_PATH = '/edge/v1/status';

function reject(socket: Duplex, status: number, text: string, error: string): void {
  const body = JSON.stringify({ error, statusCode: status });
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** Our JSON errors, also for fastify's own (bad body, 413, 415, 404). */
function errorBody(err: FastifyError | HttpError): { status: number; message: string } {
  if (err instanceof HttpError) return { status: err.status, message: err.message };
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, message: `request body larger than ${MAX_BODY_BYTES} bytes` };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, message: 'request body is empty; expected JSON' };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return {
        status: 400,
        message: 'request body is not valid JSON (or holds a __proto__ or constructor.prototype key)',
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        message: `unsupported content type; requests that change state take a JSON body (content-type: application/json)`,
      };
    default:
      return { status: err.statusCode && err.statusCode >= 400 ? err.statusCode : 500, message: err.message };
  }
}

export async function startApi(opts: ApiOptions): Promise<ApiServer> {
  assertSafeBind(opts.host, opts.security);
  const gate = new SecurityGate({
    security: opts.security,
    dataDir: opts.dataDir,
    bindHost: opts.host,
    selfContext: opts.model.selfContext,
  });
  const stream = new StreamServer({ bus: opts.bus, model: opts.model, limits: opts.streamLimits });
  let fallbackHost = `${opts.host}:${opts.port}`;

  // requestTimeout: a client gets 30 s to send a request (fastify's default is none; Node's 300 s).
  const app: FastifyInstance = Fastify({
    bodyLimit: MAX_BODY_BYTES,
    requestTimeout: 30_000,
    routerOptions: { ignoreTrailingSlash: true },
    forceCloseConnections: true,
    logger: false,
    schemaController: { compilersFactory: lazySchemaCompilers },
  });
  // JSON only: form and text bodies (what a cross-site page can send without a preflight) get 415.
  app.removeAllContentTypeParsers();
  // fastify's own JSON parser: refuses `__proto__` and `constructor.prototype` keys (prototype poisoning).
  app.addContentTypeParser('application/json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));
  await app.register(fastifyCookie);
  await app.register(fastifyCors, {
    origin: (origin, cb) => cb(null, origin !== undefined && gate.origins.allowedCrossOrigin(origin)),
    credentials: true,
    methods: ['GET', 'PUT', 'POST', 'DELETE'],
  });
  app.decorateRequest('principal');
  app.addHook('onRequest', async (req, reply) => {
    const verdict = await gate.admit(
      { method: req.method, url: req.url, headers: req.headers },
      req.routeOptions.config?.access ?? 'admin',
    );
    if (!verdict.ok) return reply.code(verdict.status).send({ error: verdict.error, statusCode: verdict.status });
    req.principal = verdict.principal;
  });
  app.setErrorHandler((err: FastifyError | HttpError, req, reply) => {
    const { status, message } = errorBody(err);
    if (status >= 500) log.error(`${req.method} ${req.url.split('?')[0]} failed: ${err.stack ?? String(err)}`);
    if (status === 413) reply.header('connection', 'close');
    return reply.code(status).send({
      error: status >= 500 && !(err instanceof HttpError) ? `internal error: ${message}` : message,
      statusCode: status,
    });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: `no such endpoint: ${req.method} ${req.url.split('?')[0]}`, statusCode: 404 }),
  );

  app.get('/signalk', { config: { access: 'public' } }, (req) =>
    discoveryDocument(req.raw, String(opts.model.get(['version'])), fallbackHost),
  );
  const requests = new PutRequests(opts.model, opts.put, gate);
  app.register(restRoutes({ model: opts.model, requests, gate }));
  app.register(async (scoped) => requestRoutes(requests, gate)(scoped));
  app.get(STATUS_PATH, { config: { access: 'read' } }, () => {
    const { accepted, rejected, lastRejection } = opts.bus.stats;
    return {
      sources: opts.sources(),
      bus: { accepted, rejected, lastRejection },
      stream: stream.stats(),
      mqtt: opts.mqtt?.(),
    };
  });
  app.register(async (scoped) => securityRoutes(gate)(scoped));
  for (const routes of opts.routes) app.register(async (scoped) => routes(scoped));
  app.register(async (scoped) => landingRoutes(scoped));
  if (opts.dataDir)
    app.register(async (scoped) =>
      appDataRoutes({ dataDir: opts.dataDir!, securityEnabled: gate.settings.enabled })(scoped),
    );
  app.register(webappRoutes(new WebappDirectory(opts.webappDirs ?? [])));

  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    let url: URL | undefined;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      // answered as not found below
    }
    const binaryStream = url ? opts.binaryStreams?.match(url.pathname) : undefined;
    if (!url || (url.pathname !== STREAM_PATH && binaryStream === undefined))
      return reject(socket, 404, 'Not Found', `no WebSocket endpoint at ${url?.pathname ?? '?'}`);
    gate.admit({ method: 'GET', url: req.url ?? '/', headers: req.headers, upgrade: true }, 'read').then(
      (verdict) => {
        if (!verdict.ok)
          return reject(socket, verdict.status, verdict.status === 401 ? 'Unauthorized' : 'Forbidden', verdict.error);
        if (binaryStream !== undefined) {
          opts.binaryStreams?.accept(req, socket, head, binaryStream);
          return;
        }
        // Each PUT looks the token up again: a revoked token or lowered permission applies to an open stream too.
        const identity = { method: 'GET', url: req.url ?? '/', headers: req.headers };
        const put = (msg: Record<string, unknown>, send: (reply: unknown) => void) =>
          void gate
            .identify(identity)
            .then(({ principal }) => requests.fromStream(principal, msg, send))
            .catch((err: unknown) => {
              log.error(`stream PUT failed: ${(err as Error).stack ?? String(err)}`);
              send({ requestId: msg.requestId, state: 'FAILED', statusCode: 500, message: 'internal error' });
            });
        stream.handleUpgrade(req, socket, head, url, gate.readFilter(verdict.principal), put);
      },
      (err: unknown) => {
        log.error(`WebSocket upgrade failed: ${(err as Error).stack ?? String(err)}`);
        reject(socket, 500, 'Internal Server Error', 'internal error');
      },
    );
  });

  await app.listen({ port: opts.port, host: opts.host });
  const port = (app.server.address() as { port: number }).port;
  const hostInUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  fallbackHost = `${hostInUrl}:${port}`;

  return {
    port,
    url: `http://${fallbackHost}`,
    gate,
    close: async () => {
      stream.close();
      opts.binaryStreams?.close();
      await app.close();
    },
  };
}
