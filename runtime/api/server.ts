// The runtime's HTTP server: Signal K discovery, REST and WebSocket stream, the edge status
// endpoint, and the routes other parts add (plugins). node:http and ws only.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DeltaBus } from '../bus/bus.js';
import type { SignalKModel } from '../model/model.js';
import type { SourceStatus } from '../../hal/source.js';
import type { MqttStatus } from '../../hal/net/mqtt-service.js';
import { createLogger } from '../log.js';
import { discoveryDocument } from './discovery.js';
import { HttpError, sendError, sendJson } from './http.js';
import { apiSegments, getSubtree, putValue } from './rest.js';
import { STREAM_PATH, StreamServer, type StreamLimits } from './stream.js';
import type { PutDispatcher, RouteHandler } from './types.js';

const log = createLogger('api');

export interface ApiOptions {
  host: string;
  port: number;
  bus: DeltaBus;
  model: SignalKModel;
  sources: () => SourceStatus[];
  /** The MQTT connection and bridge, when configured. */
  mqtt?: () => MqttStatus;
  routes: RouteHandler[];
  put: PutDispatcher;
  /** Send-queue bound and heartbeat of the stream (defaults in stream.ts). */
  streamLimits?: Partial<StreamLimits>;
}

export interface ApiServer {
  port: number;
  /** http://host:port */
  url: string;
  close(): Promise<void>;
}

export const STATUS_PATH = '/edge/v1/status';

export async function startApi(opts: ApiOptions): Promise<ApiServer> {
  const stream = new StreamServer({ bus: opts.bus, model: opts.model, limits: opts.streamLimits });
  let fallbackHost = `${opts.host}:${opts.port}`;

  const route = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    if (path === '/signalk' || path === '/signalk/') {
      if (method !== 'GET') throw new HttpError(405, `${method} is not supported on ${path}`);
      sendJson(res, 200, discoveryDocument(req, String(opts.model.get(['version'])), fallbackHost));
      return;
    }
    const segments = apiSegments(path);
    if (segments !== undefined) {
      if (method === 'GET') getSubtree(res, opts.model, segments);
      else if (method === 'PUT') await putValue(req, res, opts.model, opts.put, segments);
      else throw new HttpError(405, `${method} is not supported on ${path}`);
      return;
    }
    if (path === STATUS_PATH) {
      const { accepted, rejected, lastRejection } = opts.bus.stats;
      sendJson(res, 200, { sources: opts.sources(), bus: { accepted, rejected, lastRejection }, stream: stream.stats(), mqtt: opts.mqtt?.() });
      return;
    }
    for (const handler of opts.routes) {
      if (await handler(req, res, url)) return;
    }
    sendError(res, 404, `no such endpoint: ${method} ${path}`);
  };

  const server = createServer((req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      sendError(res, 400, 'malformed request URL');
      return;
    }
    route(req, res, url).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
      } else if (err instanceof HttpError) {
        if (err.status === 413) res.setHeader('connection', 'close');
        sendError(res, err.status, err.message);
      } else {
        log.error(`${req.method} ${url.pathname} failed: ${(err as Error).stack ?? String(err)}`);
        sendError(res, 500, `internal error: ${(err as Error).message}`);
      }
    });
  });

  server.on('upgrade', (req: IncomingMessage, socket, head: Buffer) => {
    let url: URL | undefined;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      // answered as not found below
    }
    if (url?.pathname !== STREAM_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    stream.handleUpgrade(req, socket, head, url);
  });
  server.on('clientError', (err, socket) => {
    log.limited('warn', 'client-error', `bad HTTP request: ${err.message}`);
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostInUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  fallbackHost = `${hostInUrl}:${port}`;

  return {
    port,
    url: `http://${fallbackHost}`,
    close: () =>
      new Promise<void>((resolve) => {
        stream.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
