// The HTTP client behind plugin fetches (./as-fetch.ts): one request, bounded in time and in the
// size of what comes back. Injectable, so tests and other hosts can answer without a network.
// Redirects are not followed: the grant was checked for the first host only, so a 3xx answer is
// handed to the plugin as it is.

import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** A plugin fetch's bound; the provider calls that may wait on one allow for it (plugins/provider-call.ts). */
export const FETCH_TIMEOUT_MS = 10_000;

export interface HttpRequest {
  url: URL;
  method: 'GET' | 'POST';
  headers: [string, string][];
  body?: Uint8Array;
  timeoutMs: number;
  /** Larger responses are refused (the request is aborted), never buffered whole. */
  maxBytes: number;
}

export interface HttpResponse {
  status: number;
  body: Uint8Array;
}

export type HttpTransport = (req: HttpRequest) => Promise<HttpResponse>;

export class HttpFetchError extends Error {}

/** node:http / node:https. */
export const nodeHttpTransport: HttpTransport = (req) =>
  new Promise((resolve, reject) => {
    const send = req.url.protocol === 'https:' ? httpsRequest : httpRequest;
    const headers: Record<string, string> = {};
    for (const [name, value] of req.headers) headers[name] = value;
    if (req.body) headers['content-length'] = String(req.body.length);
    const fail = (err: Error): void => reject(err instanceof HttpFetchError ? err : new HttpFetchError(err.message));
    const r = send(req.url, { method: req.method, headers, timeout: req.timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > req.maxBytes) {
        r.destroy(new HttpFetchError(`response of ${declared} bytes is over the ${req.maxBytes}-byte bound`));
        return;
      }
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > req.maxBytes) r.destroy(new HttpFetchError(`response over the ${req.maxBytes}-byte bound`));
        else chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: new Uint8Array(Buffer.concat(chunks)) }));
      res.on('error', fail);
    });
    // `timeout` is for an idle socket; the whole exchange is bounded too.
    const timer = setTimeout(
      () => r.destroy(new HttpFetchError(`no complete answer within ${req.timeoutMs} ms`)),
      req.timeoutMs,
    );
    r.on('timeout', () => r.destroy(new HttpFetchError(`no answer within ${req.timeoutMs} ms`)));
    r.on('error', fail);
    r.on('close', () => clearTimeout(timer));
    r.end(req.body);
  });
