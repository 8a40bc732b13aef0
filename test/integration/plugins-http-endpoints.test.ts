// Plugin HTTP endpoints (the `http_endpoints` export) in a real runtime, with the fixture
// http-endpoints (AssemblyScript strings): the request JSON a handler gets, the response it
// answers, routes under /plugins and /skServer/plugins, and bad handlers: one that traps, loops,
// answers invalid JSON or a huge body. Then who may call them with security on. The Rust buffer
// convention is covered in rust-plugins.test.ts (depth-watch-rust's routes).

import test from 'ava';
import { FIXTURES, http, pluginFolder, pluginStatus } from '../helpers/plugins.js';
import { startTestRuntime } from '../helpers/runtime.js';
import { call, login, startSecuredRuntime } from '../helpers/security.js';
import { waitFor } from '../helpers/wait.js';
import { matchEndpoint, parseEndpoints, parseResponse } from '../../runtime/plugins/endpoints.js';

const ID = '_signalk-edge-fixture_http-endpoints';
const folder = () => pluginFolder([{ from: FIXTURES, name: 'http-endpoints' }]);

interface Echo {
  method: string;
  path: string;
  query: Record<string, unknown>;
  params: Record<string, unknown>;
  body: unknown;
  headers: Record<string, unknown>;
}

test('endpoints answer with the request JSON upstream hands a handler, under both prefixes', async (t) => {
  const { runtime, url, stop } = await startTestRuntime({ pluginDirs: [await folder()], restart: { baseMs: 50 } });
  t.teardown(stop);
  await waitFor(async () => (await pluginStatus(runtime, ID)).state === 'running', 'the plugin running');

  const status = await pluginStatus(runtime, ID);
  t.deepEqual(
    (status.httpEndpoints as { method: string; path: string }[]).map((e) => `${e.method} ${e.path}`),
    [
      'GET /api/echo',
      'POST /api/echo',
      'GET /api/items/:itemId',
      'GET /api/text',
      'GET /api/count',
      'GET /api/trap',
      'GET /api/spin',
      'GET /api/invalid',
      'GET /api/huge',
    ],
    'the entry naming a missing export and the PATCH entry are skipped',
  );

  const get = await call(url, 'GET', `/plugins/${ID}/api/echo?a=1&a=2&b=x&token=secret`, {
    headers: { authorization: 'Bearer secret', cookie: 'JAUTHENTICATION=secret', 'x-trace': 't1' },
  });
  t.is(get.status, 200, JSON.stringify(get.body));
  t.is(get.headers['x-fixture'], 'echo');
  const echo = get.body as Echo;
  t.is(echo.method, 'GET');
  t.is(echo.path, '/api/echo');
  t.deepEqual(echo.query, { a: ['1', '2'], b: 'x' }, 'the token query parameter is not passed on');
  t.deepEqual(echo.params, {});
  t.deepEqual(echo.body, {});
  t.is(echo.headers['x-trace'], 't1');
  t.is(echo.headers.authorization, undefined, 'credentials never reach the plugin');
  t.is(echo.headers.cookie, undefined);

  const post = await call(url, 'POST', `/skServer/plugins/${ID}/api/echo`, { body: { anchor: { radius: 40 } } });
  t.is(post.status, 200, JSON.stringify(post.body));
  t.like(post.body, { method: 'POST', path: '/api/echo', body: { anchor: { radius: 40 } } });

  const item = await http(runtime, 'GET', `/plugins/${ID}/api/items/route%201`);
  t.like(item.body, { params: { itemId: 'route 1' } });

  // A string body declared as JSON is sent as that JSON; state kept between calls.
  t.deepEqual((await http(runtime, 'GET', `/plugins/${ID}/api/count`)).body, { calls: 1 });
  t.deepEqual((await http(runtime, 'GET', `/plugins/${ID}/api/count`)).body, { calls: 2 });

  // Text as it is, with the plugin's status; a cookie the plugin sets is dropped.
  const text = await call(url, 'GET', `/plugins/${ID}/api/text`);
  t.is(text.status, 418);
  t.is(text.body, 'short and stout');
  t.regex(String(text.headers['content-type']), /^text\/plain/);
  t.is(text.headers['set-cookie'], undefined);

  const none = await http(runtime, 'GET', `/plugins/${ID}/api/nothing`);
  t.is(none.status, 404);
  t.deepEqual(none.body, { error: 'no such plugin endpoint: GET /api/nothing' });
  const wrongMethod = await http(runtime, 'DELETE', `/plugins/${ID}/api/echo`);
  t.is(wrongMethod.status, 404);
  // The built-in routes win over a plugin's.
  t.is((await http(runtime, 'GET', `/plugins/${ID}/config`)).status, 200);
});

test('a handler that traps, loops, answers invalid JSON or a huge body gets a clear error; a crash restarts the plugin', async (t) => {
  const { runtime, stop } = await startTestRuntime({
    pluginDirs: [await folder()],
    restart: { baseMs: 50, maxCrashes: 10 },
    callTimeoutMs: 300,
  });
  t.teardown(stop);
  await waitFor(async () => (await pluginStatus(runtime, ID)).state === 'running', 'the plugin running');

  const invalid = await http(runtime, 'GET', `/plugins/${ID}/api/invalid`);
  t.is(invalid.status, 502);
  t.regex((invalid.body as { error: string }).error, /http_invalid returned invalid JSON/);
  t.is((await pluginStatus(runtime, ID)).state, 'running', 'an unusable answer is not a crash');

  const huge = await http(runtime, 'GET', `/plugins/${ID}/api/huge`);
  t.is(huge.status, 502);
  t.regex(
    (huge.body as { error: string }).error,
    /http_huge: object at \d+ \(\d+ bytes\) is outside memory or over 65536 bytes/,
  );
  t.is((await pluginStatus(runtime, ID)).state, 'running');

  const trap = await http(runtime, 'GET', `/plugins/${ID}/api/trap`);
  t.is(trap.status, 500);
  t.regex((trap.body as { error: string }).error, /crashed in http_trap: .*unreachable/);
  t.like(await pluginStatus(runtime, ID), { crashes: 1 });
  await waitFor(async () => (await pluginStatus(runtime, ID)).state === 'running', 'restarted after the trap');

  const spin = await http(runtime, 'GET', `/plugins/${ID}/api/spin`);
  t.is(spin.status, 500);
  t.regex((spin.body as { error: string }).error, /http_spin did not return within 300 ms/);
  await waitFor(async () => (await pluginStatus(runtime, ID)).state === 'running', 'restarted after the runaway');
  t.like(await pluginStatus(runtime, ID), { crashes: 2 });

  // While it is not running, its endpoints say so.
  t.is((await http(runtime, 'POST', `/plugins/${ID}/disable`)).status, 200);
  const off = await http(runtime, 'GET', `/plugins/${ID}/api/echo`);
  t.is(off.status, 503);
  t.deepEqual(off.body, { error: `plugin ${ID} is disabled` });
});

test('with security on: GET endpoints need readonly, other methods admin', async (t) => {
  const { runtime, url } = await startSecuredRuntime(
    t,
    { guest: 'readonly', crew: 'readwrite', skipper: 'admin' },
    { pluginDirs: [await folder()] },
  );
  await waitFor(() => runtime.plugins.runner(ID)?.currentState === 'running', 'the plugin running');
  const [guest, crew, skipper] = [await login(url, 'guest'), await login(url, 'crew'), await login(url, 'skipper')];
  const path = `/plugins/${ID}/api/echo`;
  t.is((await call(url, 'GET', path)).status, 401);
  t.is((await call(url, 'GET', path, { token: guest })).status, 200);
  t.is((await call(url, 'POST', path, { token: crew, body: {} })).status, 403);
  t.is((await call(url, 'POST', path, { token: skipper, body: {} })).status, 200);
});

test('endpoint lists, matching and responses are read defensively', (t) => {
  const has = (n: string) => n !== 'gone';
  t.deepEqual(parseEndpoints('not json', has).problems, [
    'http_endpoints() is not JSON: Unexpected token \'o\', "not json" is not valid JSON',
  ]);
  t.deepEqual(parseEndpoints('{}', has).problems, ['http_endpoints() is not a JSON array']);
  const { endpoints, problems } = parseEndpoints(
    JSON.stringify([
      { method: 'get', path: '/a/:x', handler: 'h' },
      { method: 'GET', path: 'no-slash', handler: 'h' },
      { method: 'GET', path: '/b', handler: 'gone' },
      { method: 'GET', path: '/c', handler: 'bad name' },
      null,
    ]),
    has,
  );
  t.deepEqual(endpoints, [{ method: 'GET', path: '/a/:x', handler: 'h' }]);
  t.is(problems.length, 4);
  t.deepEqual(matchEndpoint(endpoints, 'GET', '/a/%E2%82%AC'), { endpoint: endpoints[0], params: { x: '€' } });
  t.is(matchEndpoint(endpoints, 'GET', '/a/b/c'), undefined);
  t.is(matchEndpoint(endpoints, 'POST', '/a/1'), undefined);

  t.deepEqual(parseResponse('{"body": {"ok": true}}'), { status: 200, headers: {}, body: { ok: true } });
  t.deepEqual(
    parseResponse(
      '{"statusCode": 201, "headers": {"Content-Type": "application/json", "X-A": 1, "Bad Name": "x", "X-Split": "a\\r\\nb"}, "body": "[1]"}',
    ),
    {
      status: 201,
      headers: { 'content-type': 'application/json', 'x-a': '1' },
      body: [1],
    },
  );
  t.is(parseResponse('[]'), 'returned JSON that is not an object {statusCode, headers, body}');
  t.is(parseResponse('{"statusCode": 99}'), 'returned statusCode 99, not an HTTP status');
  t.is(parseResponse('{"statusCode": "200"}'), 'returned statusCode "200", not an HTTP status');
});

test('Rust buffer convention: an answer that claims more than the buffer is refused, one within it is read', async (t) => {
  const { createMarshal, HostMarshalError } = await import('../../runtime/engine/marshal.js');
  const { GuestMemory } = await import('../../runtime/abi/memory.js');
  const mem = new WebAssembly.Memory({ initial: 2 });
  const memory = new GuestMemory();
  memory.attach(mem);
  let next = 1024;
  const allocate = (size: number): number => {
    const p = next;
    next += size;
    return p;
  };
  const answer = new TextEncoder().encode('{"statusCode":200,"body":"ok"}');
  const exports = {
    allocate,
    fits: (_p: number, _l: number, out: number) => {
      new Uint8Array(mem.buffer, out, answer.length).set(answer);
      return answer.length;
    },
    overclaims: (_p: number, _l: number, _out: number, max: number) => max + 1,
  } as unknown as WebAssembly.Exports;
  const marshal = createMarshal('rust', exports, memory);
  t.is(marshal.callHandler(exports.fits as never, '{}', 4096), '{"statusCode":200,"body":"ok"}');
  const err = t.throws(() => marshal.callHandler(exports.overclaims as never, '{}', 4096));
  t.true(err instanceof HostMarshalError);
  t.is(err?.message, 'the response claims 4097 bytes, over the 4096-byte buffer');
});
