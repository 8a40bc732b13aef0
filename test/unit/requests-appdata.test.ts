// Stream and REST parity that webapps use (unit: in-process API, real WebSocket and HTTP clients):
// PUT over the WebSocket with request ids and /signalk/v1/requests/<id>, REST PUTs recorded the
// same way, /signalk/v1/api/sources, sendCachedValues=false, and applicationData as
// signalk-server serves it (global/user, sub-paths, JSON Patch, ?keys=true, who may write).

import test from 'ava';
import type { PutDispatcher } from '../../runtime/api/types.js';
import { startBareApi } from '../helpers/runtime.js';
import { addUsers, call, login, securityOn, upgrade } from '../helpers/security.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';

const SWITCH = 'electrical.switches.anchorLight.state';

/** A PUT handler for one path that records what it got. */
function switchHandler(got: unknown[]): PutDispatcher {
  return (_context, path, value) => {
    if (path !== SWITCH) return undefined;
    got.push(value);
    return value === 'broken'
      ? { state: 'COMPLETED', statusCode: 400, message: 'not a switch state' }
      : { state: 'COMPLETED', statusCode: 200 };
  };
}

function nextMatching(
  messages: unknown[],
  pred: (m: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  return waitFor(
    () => messages.find((m) => pred(m as Record<string, unknown>)) as Record<string, unknown> | undefined,
    'stream reply',
    10_000,
  );
}

test('PUT over the stream: answered with the request id, readable at /signalk/v1/requests/<id>; REST PUTs too', async (t) => {
  const got: unknown[] = [];
  const { api, url, wsUrl } = await startBareApi({ put: switchHandler(got) });
  t.teardown(() => api.close());
  const { ws, messages } = await upgrade(wsUrl, 'subscribe=none');
  t.teardown(() => ws?.close());
  ws!.send(JSON.stringify({ context: 'vessels.self', requestId: 'req-1', put: { path: SWITCH, value: 1 } }));
  const reply = await nextMatching(messages, (m) => m.requestId === 'req-1');
  t.like(reply, { requestId: 'req-1', state: 'COMPLETED', statusCode: 200, href: '/signalk/v1/requests/req-1' });
  t.deepEqual(got, [1]);
  const status = await call(url, 'GET', '/signalk/v1/requests/req-1');
  t.is(status.status, 200);
  t.like(status.body, { requestId: 'req-1', state: 'COMPLETED', statusCode: 200, put: { path: SWITCH, value: 1 } });

  // The handler's own status, no handler, a reused id, a malformed put: each answered, none fatal.
  ws!.send(JSON.stringify({ requestId: 'req-2', put: { path: SWITCH, value: 'broken' } }));
  t.like(await nextMatching(messages, (m) => m.requestId === 'req-2'), {
    statusCode: 400,
    message: 'not a switch state',
  });
  ws!.send(JSON.stringify({ requestId: 'req-3', put: { path: 'steering.rudderAngle', value: 0.1 } }));
  t.like(await nextMatching(messages, (m) => m.requestId === 'req-3'), { statusCode: 405 });
  t.regex(
    ((await call(url, 'GET', '/signalk/v1/requests/req-3')).body as { message: string }).message,
    /no PUT handler/,
  );
  ws!.send(JSON.stringify({ requestId: 'req-1', put: { path: SWITCH, value: 0 } }));
  t.like(await nextMatching(messages, (m) => m.requestId === 'req-1' && m.statusCode === 400), {
    message: 'requestId "req-1" is already in use',
  });
  ws!.send(JSON.stringify({ requestId: 'req-4', put: { value: 0 } }));
  t.like(await nextMatching(messages, (m) => m.requestId === 'req-4'), { statusCode: 400 });
  // Without a requestId the server makes one.
  ws!.send(JSON.stringify({ put: { path: SWITCH, value: 0 } }));
  const made = await nextMatching(messages, (m) => m.statusCode === 200 && m.requestId !== 'req-1');
  t.regex(String(made.requestId), /^[0-9a-f-]{36}$/);
  t.deepEqual(got, [1, 'broken', 0]);

  const rest = await call(url, 'PUT', `/signalk/v1/api/vessels/self/${SWITCH.replaceAll('.', '/')}`, {
    body: { value: 1 },
  });
  t.is(rest.status, 200);
  const href = (rest.body as { href: string }).href;
  t.like((await call(url, 'GET', href)).body, { state: 'COMPLETED', statusCode: 200, put: { path: SWITCH, value: 1 } });
  t.is((await call(url, 'GET', '/signalk/v1/requests/no-such-id')).status, 404);
  // No history: the specification's 501.
  t.is((await call(url, 'GET', '/signalk/v1/snapshot/vessels/self?time=2024-01-01T00:00:00Z')).status, 501);
});

test('PUT over the stream with security: a readonly user is refused, a readwrite user may; records need a login', async (t) => {
  const dataDir = tempDir(t, 'ske-req-');
  await addUsers(dataDir, { guest: 'readonly', crew: 'readwrite' });
  const got: unknown[] = [];
  const { api, url, wsUrl } = await startBareApi({ put: switchHandler(got), security: securityOn(), dataDir });
  t.teardown(() => api.close());
  const guest = await upgrade(wsUrl, `subscribe=none&token=${await login(url, 'guest')}`);
  t.teardown(() => guest.ws?.close());
  guest.ws!.send(JSON.stringify({ requestId: 'g1', put: { path: SWITCH, value: 1 } }));
  t.like(await nextMatching(guest.messages, (m) => m.requestId === 'g1'), { statusCode: 403 });
  const crewToken = await login(url, 'crew');
  const crew = await upgrade(wsUrl, `subscribe=none&token=${crewToken}`);
  t.teardown(() => crew.ws?.close());
  crew.ws!.send(JSON.stringify({ requestId: 'c1', put: { path: SWITCH, value: 1 } }));
  t.like(await nextMatching(crew.messages, (m) => m.requestId === 'c1'), { statusCode: 200 });
  t.deepEqual(got, [1]);
  t.is((await call(url, 'GET', '/signalk/v1/requests/c1')).status, 401);
  t.is((await call(url, 'GET', '/signalk/v1/requests/c1', { token: crewToken })).status, 200);
  // Logging out revokes the token: the open stream's next PUT is refused.
  t.is((await call(url, 'PUT', '/signalk/v1/auth/logout', { token: crewToken })).status, 200);
  crew.ws!.send(JSON.stringify({ requestId: 'c2', put: { path: SWITCH, value: 0 } }));
  t.like(await nextMatching(crew.messages, (m) => m.requestId === 'c2'), { statusCode: 401 });
  t.deepEqual(got, [1]);
});

test('allowReadOnly: a webapp without a login streams, and its PUT over the stream is answered 401', async (t) => {
  const dataDir = tempDir(t, 'ske-req-ro-');
  const got: unknown[] = [];
  const { api, wsUrl } = await startBareApi({
    put: switchHandler(got),
    security: securityOn({ allowReadOnly: true }),
    dataDir,
  });
  t.teardown(() => api.close());
  const anon = await upgrade(wsUrl, 'subscribe=none');
  t.is(anon.status, 101);
  t.teardown(() => anon.ws?.close());
  anon.ws!.send(JSON.stringify({ requestId: 'a1', put: { path: SWITCH, value: 1 } }));
  t.like(await nextMatching(anon.messages, (m) => m.requestId === 'a1'), { statusCode: 401 });
  t.deepEqual(got, []);
});

test('/signalk/v1/api/sources lists the sources with their labels; sendCachedValues=false sends no cached values', async (t) => {
  const { api, url, wsUrl, bus } = await startBareApi();
  t.teardown(() => api.close());
  bus.publish(
    {
      context: 'vessels.self',
      updates: [
        {
          source: { label: 'gps', type: 'NMEA0183', talker: 'GP', sentence: 'RMC' },
          timestamp: new Date().toISOString(),
          values: [{ path: 'navigation.speedOverGround', value: 3.2 }],
        },
      ],
    },
    'test',
  );
  const sources = await waitFor(async () => {
    const r = await call(url, 'GET', '/signalk/v1/api/sources');
    return r.status === 200 ? (r.body as Record<string, unknown>) : undefined;
  }, 'sources');
  t.truthy(sources.gps, JSON.stringify(sources));
  // As signalk-server: by label, then talker, with the sentences seen.
  t.like(sources.gps, { GP: { talker: 'GP' } });

  const cached = await upgrade(wsUrl, 'subscribe=self');
  t.teardown(() => cached.ws?.close());
  await waitFor(() => cached.messages.some((m) => JSON.stringify(m).includes('speedOverGround')), 'cached value');
  const uncached = await upgrade(wsUrl, 'subscribe=self&sendCachedValues=false');
  t.teardown(() => uncached.ws?.close());
  await new Promise((r) => setTimeout(r, 300));
  t.false(
    uncached.messages.some((m) => JSON.stringify(m).includes('speedOverGround')),
    JSON.stringify(uncached.messages),
  );
  bus.publish(
    {
      context: 'vessels.self',
      updates: [
        {
          source: { label: 'gps', type: 'NMEA0183' },
          timestamp: new Date().toISOString(),
          values: [{ path: 'navigation.speedOverGround', value: 3.3 }],
        },
      ],
    },
    'test',
  );
  await waitFor(() => uncached.messages.some((m) => JSON.stringify(m).includes('3.3')), 'live value');
  t.pass();
});

test('applicationData: global and user documents, sub-paths, JSON Patch, keys, versions; who may write', async (t) => {
  const dataDir = tempDir(t, 'ske-appdata-');
  await addUsers(dataDir, { guest: 'readonly', crew: 'readwrite', skipper: 'admin' });
  const { api, url } = await startBareApi({ security: securityOn(), dataDir });
  t.teardown(() => api.close());
  const crew = await login(url, 'crew');
  const skipper = await login(url, 'skipper');
  const guest = await login(url, 'guest');
  const base = '/signalk/v1/applicationData';

  // A whole document, then a value at a sub-path, then a JSON Patch.
  t.like(
    await call(url, 'POST', `${base}/user/kip/11.0.0`, {
      token: crew,
      body: { theme: 'night', dashboards: [{ id: 'a' }] },
    }),
    { status: 200, body: 'ApplicationData saved' },
  );
  t.is((await call(url, 'POST', `${base}/user/kip/11.0.0/units/speed`, { token: crew, body: 'knots' })).status, 200);
  t.is(
    (
      await call(url, 'POST', `${base}/user/kip/11.0.0`, {
        token: crew,
        body: [
          { op: 'replace', path: '/theme', value: 'day' },
          { op: 'add', path: '/dashboards/-', value: { id: 'b' } },
        ],
      })
    ).status,
    200,
  );
  t.deepEqual((await call(url, 'GET', `${base}/user/kip/11.0.0`, { token: crew })).body, {
    theme: 'day',
    dashboards: [{ id: 'a' }, { id: 'b' }],
    units: { speed: 'knots' },
  });
  t.deepEqual((await call(url, 'GET', `${base}/user/kip/11.0.0/units/speed`, { token: crew })).body, 'knots');
  t.deepEqual((await call(url, 'GET', `${base}/user/kip/11.0.0?keys=true`, { token: crew })).body, [
    'theme',
    'dashboards',
    'units',
  ]);
  t.deepEqual((await call(url, 'GET', `${base}/user/kip`, { token: crew })).body, ['11.0.0']);
  // Versions are coerced as upstream's semver.coerce: 11 = 11.0.0.
  t.like((await call(url, 'GET', `${base}/user/kip/11`, { token: crew })).body, { theme: 'day' });
  t.is((await call(url, 'GET', `${base}/user/kip/11.0.0/nothing/here`, { token: crew })).status, 404);
  // Each user sees their own.
  t.is((await call(url, 'GET', `${base}/user/kip`, { token: skipper })).status, 404);
  t.deepEqual((await call(url, 'GET', `${base}/user/kip/11.0.0`, { token: skipper })).body, {});

  // Refused: a readonly user's write, a bad patch (nothing applied), prototype keys, a bad app id.
  t.is((await call(url, 'POST', `${base}/user/kip/11.0.0`, { token: guest, body: {} })).status, 403);
  for (const body of [
    [{ op: 'replace', path: '/missing/deep', value: 1 }],
    [{ op: 'add', path: '/__proto__/polluted', value: 1 }],
  ])
    t.is((await call(url, 'POST', `${base}/user/kip/11.0.0`, { token: crew, body })).status, 400, JSON.stringify(body));
  t.is(
    (await call(url, 'POST', `${base}/user/kip/11.0.0/constructor/prototype`, { token: crew, body: 1 })).status,
    400,
  );
  t.is((await call(url, 'GET', `${base}/user/..%2f..%2fsecurity/1.0.0`, { token: crew })).status, 400);
  t.is((await call(url, 'GET', `${base}/user/kip/not-a-version`, { token: crew })).status, 400);
  t.like((await call(url, 'GET', `${base}/user/kip/11.0.0`, { token: crew })).body, { theme: 'day' });

  // Global: admin writes, readonly reads, anonymous nothing.
  t.is((await call(url, 'POST', `${base}/global/freeboard/1.0.0`, { token: crew, body: { a: 1 } })).status, 403);
  t.is((await call(url, 'POST', `${base}/global/freeboard/1.0.0`, { token: skipper, body: { a: 1 } })).status, 200);
  t.deepEqual((await call(url, 'GET', `${base}/global/freeboard/1.0.0`, { token: guest })).body, { a: 1 });
  t.is((await call(url, 'GET', `${base}/global/freeboard/1.0.0`)).status, 401);
});

test('applicationData with security off: writes are refused with 405 as signalk-server does', async (t) => {
  const dataDir = tempDir(t, 'ske-appdata-off-');
  const { api, url } = await startBareApi({ dataDir });
  t.teardown(() => api.close());
  const r = await call(url, 'POST', '/signalk/v1/applicationData/user/kip/11.0.0', { body: { a: 1 } });
  t.is(r.status, 405);
  t.regex(JSON.stringify(r.body), /security is not enabled/);
});
