import test from 'ava';
import type { JsonValue } from '../../core/json.js';
import type { PutResult } from '../../runtime/api/types.js';
import { SERVER_VERSION } from '../../runtime/api/discovery.js';
import { MAX_BODY_BYTES } from '../../runtime/api/http.js';
import { SECURITY_OFF } from '../../runtime/security/settings.js';
import { startBareApi, TEST_SELF_URN, type BareApi } from '../helpers/runtime.js';
import { call, type Reply } from '../helpers/security.js';

const SELF = `vessels.${TEST_SELF_URN}`;

/** A request whose body is sent as it is, as application/json: what the API makes of the text is the subject. */
function send(
  base: string,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return call(base, method, path, { body, contentType: 'application/json', headers });
}

async function withApi(
  opts: Parameters<typeof startBareApi>[0],
  t: { teardown(fn: () => Promise<void>): void },
): Promise<BareApi> {
  const api = await startBareApi(opts);
  t.teardown(() => api.api.close());
  return api;
}

function publishNav(api: BareApi): void {
  const reason = api.bus.publish(
    {
      updates: [
        {
          source: { label: 'gps', type: 'NMEA0183', talker: 'GP', sentence: 'RMC' },
          timestamp: '2024-06-15T10:15:00.000Z',
          values: [
            { path: 'navigation.speedOverGround', value: 3.14 },
            { path: 'navigation.position', value: { latitude: 50.77, longitude: -1.3 } },
          ],
        },
      ],
    },
    'test',
  );
  if (reason) throw new Error(reason);
}

test('GET /signalk: discovery document with URLs from the Host header and the server version', async (t) => {
  // A name the API is reached by must be configured (DNS rebinding: test/security-browser.test.ts).
  const api = await withApi({ security: { ...SECURITY_OFF, hostnames: ['boat.local'] } }, t);
  const direct = await send(api.url, 'GET', '/signalk');
  t.is(direct.status, 200);
  const host = api.url.slice('http://'.length);
  t.deepEqual(direct.body, {
    endpoints: {
      v1: {
        version: '1.7.0',
        'signalk-http': `http://${host}/signalk/v1/api/`,
        'signalk-ws': `ws://${host}/signalk/v1/stream`,
      },
    },
    server: { id: 'signalk-edge', version: SERVER_VERSION },
  });
  t.regex(SERVER_VERSION, /^\d+\.\d+\.\d+/);

  const proxied = await send(api.url, 'GET', '/signalk/', undefined, { host: 'boat.local:8080' });
  t.like(proxied.body, {
    endpoints: {
      v1: {
        'signalk-http': 'http://boat.local:8080/signalk/v1/api/',
        'signalk-ws': 'ws://boat.local:8080/signalk/v1/stream',
      },
    },
  });
});

test('GET /signalk/v1/api: full model and sub-paths, self resolved, trailing slash tolerated', async (t) => {
  const api = await withApi({}, t);
  publishNav(api);

  const full = await send(api.url, 'GET', '/signalk/v1/api/');
  t.is(full.status, 200);
  t.like(full.body, {
    version: '1.7.0',
    self: SELF,
    vessels: {
      [TEST_SELF_URN]: {
        navigation: { speedOverGround: { value: 3.14, $source: 'gps.GP', timestamp: '2024-06-15T10:15:00.000Z' } },
      },
    },
    sources: { gps: { GP: { talker: 'GP', sentences: { RMC: '2024-06-15T10:15:00.000Z' } } } },
  });
  t.deepEqual((await send(api.url, 'GET', '/signalk/v1/api')).body, full.body);

  const sog = await send(api.url, 'GET', '/signalk/v1/api/vessels/self/navigation/speedOverGround');
  t.is(sog.status, 200);
  t.like(sog.body, { value: 3.14, $source: 'gps.GP', sentence: 'RMC' });
  t.deepEqual((await send(api.url, 'GET', '/signalk/v1/api/vessels/self/navigation/speedOverGround/')).body, sog.body);
  t.deepEqual(
    (
      await send(
        api.url,
        'GET',
        `/signalk/v1/api/vessels/${encodeURIComponent(TEST_SELF_URN)}/navigation/speedOverGround`,
      )
    ).body,
    sog.body,
  );

  const position = await send(api.url, 'GET', '/signalk/v1/api/vessels/self/navigation/position/value');
  t.deepEqual(position.body, { latitude: 50.77, longitude: -1.3 });
  const nav = await send(api.url, 'GET', '/signalk/v1/api/vessels/self/navigation');
  t.deepEqual(Object.keys(nav.body as object).sort(), ['position', 'speedOverGround']);
});

test('unknown paths and methods get JSON errors', async (t) => {
  const api = await withApi({}, t);
  publishNav(api);
  for (const path of [
    '/signalk/v1/api/vessels/self/navigation/courseOverGroundTrue',
    '/signalk/v1/api/vessels/nobody',
    '/signalk/v1/api/vessels/self/__proto__',
    '/nothing/here',
  ]) {
    const r = await send(api.url, 'GET', path);
    t.is(r.status, 404, path);
    t.is(typeof (r.body as { error?: unknown }).error, 'string', path);
  }
  const post = await send(api.url, 'POST', '/signalk/v1/api/vessels/self', '{}');
  t.is(post.status, 405);
  const badEscape = await send(api.url, 'GET', '/signalk/v1/api/vessels/%E0%A4%A');
  t.is(badEscape.status, 400);
});

test('PUT without a handler answers 405 with a clear message', async (t) => {
  const api = await withApi({}, t);
  const r = await send(
    api.url,
    'PUT',
    '/signalk/v1/api/vessels/self/electrical/switches/anchorLight/state',
    JSON.stringify({ value: 1 }),
  );
  t.is(r.status, 405);
  t.regex(
    String((r.body as { error: string }).error),
    /no PUT handler is registered for electrical\.switches\.anchorLight\.state/,
  );
});

test('PUT with a dispatcher: context and path resolved, spec response shape, status from the result', async (t) => {
  const seen: { context: string; path: string; value: JsonValue }[] = [];
  const results: Record<string, PutResult> = {
    'electrical.switches.anchorLight.state': { state: 'COMPLETED', statusCode: 200 },
    'steering.autopilot.target.headingTrue': { state: 'PENDING', statusCode: 202, message: 'turning' },
    'steering.autopilot.state': { state: 'COMPLETED', statusCode: 400, message: 'unknown mode' },
  };
  const api = await withApi(
    {
      put: (context, path, value) => {
        seen.push({ context, path, value });
        return results[path];
      },
    },
    t,
  );
  const ok = await send(
    api.url,
    'PUT',
    '/signalk/v1/api/vessels/self/electrical/switches/anchorLight/state',
    JSON.stringify({ value: true }),
  );
  t.is(ok.status, 200);
  t.like(ok.body, { state: 'COMPLETED', statusCode: 200 });
  t.regex(String((ok.body as { requestId: unknown }).requestId), /^[0-9a-f-]{36}$/);

  const pending = await send(
    api.url,
    'PUT',
    '/signalk/v1/api/vessels/self/steering/autopilot/target/headingTrue',
    JSON.stringify({ value: 1.5 }),
  );
  t.is(pending.status, 202);
  t.like(pending.body, { state: 'PENDING', statusCode: 202, message: 'turning' });

  const refused = await send(
    api.url,
    'PUT',
    '/signalk/v1/api/vessels/self/steering/autopilot/state',
    JSON.stringify({ value: { mode: 'warp' } }),
  );
  t.is(refused.status, 400);
  t.like(refused.body, { state: 'COMPLETED', statusCode: 400, message: 'unknown mode' });

  t.deepEqual(seen, [
    { context: SELF, path: 'electrical.switches.anchorLight.state', value: true },
    { context: SELF, path: 'steering.autopilot.target.headingTrue', value: 1.5 },
    { context: SELF, path: 'steering.autopilot.state', value: { mode: 'warp' } },
  ]);
});

test('PUT bodies: malformed, wrong shape and oversized bodies are refused before the dispatcher', async (t) => {
  let calls = 0;
  const api = await withApi(
    {
      put: () => {
        calls++;
        return { state: 'COMPLETED', statusCode: 200 };
      },
    },
    t,
  );
  const path = '/signalk/v1/api/vessels/self/electrical/switches/anchorLight/state';
  const cases: [string | Buffer, number, RegExp][] = [
    ['{"value": tru', 400, /not valid JSON/],
    ['', 400, /empty/],
    ['[1,2]', 400, /"value" member/],
    ['{"val": 1}', 400, /"value" member/],
    ['{"value": {"__proto__": {"polluted": true}}}', 400, /__proto__/],
    [Buffer.alloc(MAX_BODY_BYTES + 10, 0x20), 413, /larger than/],
  ];
  for (const [body, status, message] of cases) {
    const r = await send(api.url, 'PUT', path, body);
    t.is(r.status, status, String(body).slice(0, 20));
    t.regex(String((r.body as { error: string }).error), message);
  }
  const short = await send(api.url, 'PUT', '/signalk/v1/api/vessels/self', '{"value":1}');
  t.is(short.status, 400);
  t.is(calls, 0);
  // Still serving after all that.
  t.is((await send(api.url, 'GET', '/signalk/v1/api/')).status, 200);
});

test('GET /edge/v1/status: source statuses and bus counters', async (t) => {
  const api = await withApi(
    {
      sources: () => [
        {
          id: 'nmea1',
          type: 'serial',
          state: 'open',
          lines: 12,
          deltas: 10,
          errors: { checksum: 2 },
          lastError: 'checksum: expected 1C',
        },
      ],
    },
    t,
  );
  publishNav(api);
  t.truthy(api.bus.publish({ updates: [{ values: [{ path: 'a', value: Number.NaN }] }] }, 'test'));
  const r = await send(api.url, 'GET', '/edge/v1/status');
  t.is(r.status, 200);
  t.like(r.body, {
    sources: [{ id: 'nmea1', errors: { checksum: 2 }, lines: 12 }],
    bus: { accepted: 1, rejected: 1 },
    stream: { clients: 0, sent: 0, dropped: 0, closedSlow: 0 },
  });
  t.regex(String((r.body as { bus: { lastRejection: string } }).bus.lastRejection), /^test: .*not JSON data/);
});

test('extra route sets are registered on the API, with the access they declare, before the 404', async (t) => {
  const api = await withApi(
    {
      routes: [
        (app) => {
          app.get('/plugins', { config: { access: 'read' } }, () => ({ plugins: [] }));
        },
        (app) => {
          app.post('/things', { config: { access: 'admin' } }, (req) => ({ got: req.body }));
        },
      ],
    },
    t,
  );
  t.deepEqual((await send(api.url, 'GET', '/plugins')).body, { plugins: [] });
  t.deepEqual((await send(api.url, 'POST', '/things', '{"a":1}')).body, { got: { a: 1 } });
  t.is((await send(api.url, 'GET', '/other')).status, 404);
  t.is((await send(api.url, 'GET', '/signalk')).status, 200);
});
