// A plugin's own HTTP endpoints, as upstream's `http_endpoints` export declares them:
// `[{"method": "GET", "path": "/api/info", "handler": "handle_get_info"}]`, mounted at
// /plugins/<id><path>. Here: reading that list, matching a request to an entry (express-style
// `:name` segments), the request JSON handed to the handler and the response JSON it answers
// (`{statusCode, headers, body}`), all as upstream's plugin-routes does it, with bounds.

import { isRecord } from '../../core/json.js';

export interface HttpEndpoint {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  handler: string;
}

const METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE']);
/** Upstream's Rust handlers get a 64 KiB response buffer; AssemblyScript strings are bounded the same (in characters, as UTF-16 bytes ×2). */
export const HTTP_RESPONSE_MAX_BYTES = 64 * 1024;
/** More endpoints than this is a broken list, not an API. */
const MAX_ENDPOINTS = 64;
const HANDLER_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const PATH = /^\/[A-Za-z0-9_\-.~:/]{0,255}$/;

/** The endpoints a plugin declares, and a line per entry that was skipped. */
export function parseEndpoints(
  text: string | undefined,
  hasExport: (name: string) => boolean,
): { endpoints: HttpEndpoint[]; problems: string[] } {
  if (text === undefined) return { endpoints: [], problems: [] };
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch (err) {
    return { endpoints: [], problems: [`http_endpoints() is not JSON: ${(err as Error).message}`] };
  }
  if (!Array.isArray(list)) return { endpoints: [], problems: ['http_endpoints() is not a JSON array'] };
  const endpoints: HttpEndpoint[] = [];
  const problems: string[] = [];
  for (const entry of list.slice(0, MAX_ENDPOINTS)) {
    const e = isRecord(entry) ? entry : {};
    const method = typeof e.method === 'string' ? e.method.toUpperCase() : '';
    const { path, handler } = e;
    const what = JSON.stringify(entry).slice(0, 120);
    if (!METHODS.has(method)) problems.push(`${what}: method must be GET, POST, PUT or DELETE`);
    else if (typeof path !== 'string' || !PATH.test(path))
      problems.push(`${what}: path must start with / and use URL path characters`);
    else if (typeof handler !== 'string' || !HANDLER_NAME.test(handler))
      problems.push(`${what}: handler must be an export name`);
    else if (!hasExport(handler)) problems.push(`${what}: the module does not export ${handler}`);
    else endpoints.push({ method: method as HttpEndpoint['method'], path, handler });
  }
  if (list.length > MAX_ENDPOINTS)
    problems.push(`only the first ${MAX_ENDPOINTS} of ${list.length} endpoints are served`);
  return { endpoints, problems };
}

/** The endpoint answering `method path`, with its `:name` parameters; the first match wins, as in express. */
export function matchEndpoint(
  endpoints: readonly HttpEndpoint[],
  method: string,
  path: string,
): { endpoint: HttpEndpoint; params: Record<string, string> } | undefined {
  const parts = path.split('/').filter((p) => p !== '');
  for (const endpoint of endpoints) {
    if (endpoint.method !== method) continue;
    const pattern = endpoint.path.split('/').filter((p) => p !== '');
    if (pattern.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < pattern.length && ok; i++) {
      if (pattern[i].startsWith(':') && pattern[i].length > 1) params[pattern[i].slice(1)] = decodeSegment(parts[i]);
      else ok = pattern[i] === parts[i];
    }
    if (ok) return { endpoint, params };
  }
  return undefined;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Headers that carry the client's credentials: the plugin never sees them. */
const SECRET_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

/** The request JSON upstream hands a handler: {method, path, query, params, body, headers}, without credentials. */
export function requestJson(req: {
  method: string;
  path: string;
  query: URLSearchParams;
  params: Record<string, string>;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}): string {
  const query: Record<string, string | string[]> = {};
  for (const key of new Set(req.query.keys())) {
    if (key === 'token') continue; // a WebSocket-style credential
    const all = req.query.getAll(key);
    query[key] = all.length === 1 ? all[0] : all;
  }
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers))
    if (v !== undefined && !SECRET_HEADERS.has(k.toLowerCase())) headers[k] = v;
  return JSON.stringify({
    method: req.method,
    path: req.path,
    query,
    params: req.params,
    body: req.body ?? {},
    headers,
  });
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  /** A string is sent as it is; anything else as JSON. */
  body: unknown;
}

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]{1,64}$/;
/** Headers the server owns (framing, the login cookie, security policy): a plugin's value is dropped. */
const SERVER_HEADERS = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'set-cookie',
  'access-control-allow-origin',
  'access-control-allow-credentials',
]);

/** The handler's response JSON as an answer; a string when it is unusable (the reason). */
export function parseResponse(text: string): HttpAnswer | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return `returned invalid JSON: ${JSON.stringify(text.slice(0, 80))}`;
  }
  if (!isRecord(v)) return 'returned JSON that is not an object {statusCode, headers, body}';
  const status = v.statusCode ?? 200;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599)
    return `returned statusCode ${JSON.stringify(status)}, not an HTTP status`;
  const headers: Record<string, string> = {};
  if (isRecord(v.headers)) {
    for (const [k, value] of Object.entries(v.headers)) {
      if (!HEADER_NAME.test(k) || SERVER_HEADERS.has(k.toLowerCase())) continue;
      if (typeof value === 'string' && !/[\r\n]/.test(value)) headers[k.toLowerCase()] = value;
      else if (typeof value === 'number') headers[k.toLowerCase()] = String(value);
    }
  }
  let body = v.body ?? '';
  // Upstream: a string body declared JSON is sent as that JSON (plugins escape their JSON into it).
  if (typeof body === 'string' && (headers['content-type'] ?? '').includes('application/json')) {
    try {
      body = JSON.parse(body);
    } catch {
      // sent as the text it is
    }
  }
  return { status, headers, body };
}
