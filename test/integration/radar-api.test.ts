// The v2 radar API served by a plugin radar provider (fixture radar-probe, AssemblyScript) over
// real HTTP and WebSocket: the radar list and info, controls read and set (through
// radar_set_control, the shortcut routes included), ARPA targets, spokes reaching a WebSocket
// client when the radar transmits; bad requests; a handler that traps, one that never returns and
// one that answers garbage, with the runtime serving on; the radarProvider grant; who may call.

import test, { type ExecutionContext } from 'ava';
import { FIXTURES, binaryClient, http, pluginFolder, pluginStatus } from '../helpers/plugins.js';
import { startTestRuntime } from '../helpers/runtime.js';
import { call, login, startSecuredRuntime } from '../helpers/security.js';
import { waitFor } from '../helpers/wait.js';

const ID = '_signalk-edge-fixture_radar-probe';
const API = '/signalk/v2/api/vessels/self/radars';
const R = `${API}/probe-1`;
const granted = { [ID]: ['radarProvider'] };
const folder = () => pluginFolder([{ from: FIXTURES, name: 'radar-probe' }]);

async function start(t: ExecutionContext, opts: { grants?: Record<string, string[]>; callTimeoutMs?: number } = {}) {
  const rt = await startTestRuntime({
    pluginDirs: [await folder()],
    grants: opts.grants ?? granted,
    restart: { baseMs: 50 },
    ...(opts.callTimeoutMs ? { callTimeoutMs: opts.callTimeoutMs } : {}),
  });
  t.teardown(rt.stop);
  await waitFor(async () => (await pluginStatus(rt.runtime, ID)).state === 'running', 'the provider running');
  return rt;
}

const failed = (statusCode: number, message: string) => ({
  status: statusCode,
  body: { state: 'FAILED', statusCode, message },
});
const OK = { status: 200, body: { state: 'COMPLETED', statusCode: 200, message: 'OK' } };

test('radars are listed with their info; controls are read and set; targets acquired and cancelled', async (t) => {
  const { runtime, url } = await start(t);
  t.like(await pluginStatus(runtime, ID), { radarProvider: true, statusMessage: 'radar provider' });
  const info = { name: 'Probe radar', brand: 'Emulator', model: 'probe', radarIpAddress: '127.0.0.1' };
  t.deepEqual(await http(runtime, 'GET', API), {
    status: 200,
    body: { version: '3.4.0', radars: { 'probe-1': info } },
  });
  t.deepEqual((await http(runtime, 'GET', `${API}/_providers`)).body, {
    [ID]: { name: 'Probe radars', isDefault: true },
  });
  t.deepEqual((await http(runtime, 'GET', `${API}/_providers/_default`)).body, { id: ID });
  t.deepEqual(await http(runtime, 'GET', R), { status: 200, body: info });
  t.is((await call(url, 'GET', R)).headers['cache-control'], 'no-cache');
  t.like((await http(runtime, 'GET', `${R}/capabilities`)).body, { id: 'probe-1', spokesPerRevolution: 4 });

  t.deepEqual((await http(runtime, 'GET', `${R}/controls`)).body, {
    power: 'standby',
    range: 1852,
    gain: { auto: true },
  });
  // The shortcut routes go through radar_set_control (the fixture has no typed setters).
  t.deepEqual(await http(runtime, 'PUT', `${R}/range`, { value: 926 }), OK);
  t.deepEqual(await http(runtime, 'PUT', `${R}/gain`, { value: { auto: false, value: 40 } }), OK);
  t.deepEqual(await http(runtime, 'PUT', `${R}/controls/interference`, { value: 2 }), OK);
  // A compound payload with its own `value` is passed whole, as upstream.
  t.deepEqual(await http(runtime, 'PUT', `${R}/controls/guardZone`, { value: 0.5, endValue: 1, enabled: true }), OK);
  t.deepEqual((await http(runtime, 'GET', `${R}/controls/gain`)).body, { auto: false, value: 40 });
  t.like((await http(runtime, 'GET', `${R}/state`)).body, {
    id: 'probe-1',
    status: 'standby',
    controls: {
      power: 'standby',
      range: 926,
      gain: { auto: false, value: 40 },
      interference: 2,
      guardZone: { value: 0.5, endValue: 1, enabled: true },
    },
  });
  t.deepEqual(await http(runtime, 'PUT', R, { value: { range: 3704 } }), OK);
  t.deepEqual((await http(runtime, 'GET', `${R}/controls/range`)).body, { value: 3704 });

  // The provider's refusal reaches the client.
  t.deepEqual(
    await http(runtime, 'PUT', `${R}/range`, { value: 100000 }),
    failed(400, 'out of range: at most 74080 m'),
  );

  const acquired = await http(runtime, 'POST', `${R}/targets`, { bearing: 1.5, distance: 800 });
  t.deepEqual(acquired, { status: 201, body: { state: 'COMPLETED', statusCode: 201, message: 'OK', targetId: 1 } });
  t.like((await http(runtime, 'GET', `${R}/targets`)).body, {
    radarId: 'probe-1',
    targets: [{ id: 1, position: { bearing: 1.5, distance: 800 } }],
  });
  t.deepEqual(await http(runtime, 'DELETE', `${R}/targets/1`), OK);
  t.deepEqual(await http(runtime, 'DELETE', `${R}/targets/1`), failed(404, 'Target not found or already cancelled'));
  t.deepEqual(await http(runtime, 'PUT', `${R}/arpa/settings`, { value: { autoAcquire: true } }), OK);
  t.deepEqual((await http(runtime, 'GET', `${R}/arpa/settings`)).body, { autoAcquire: true });
});

test('switched to transmit, the radar sends spokes that reach a WebSocket client on the spokes URL', async (t) => {
  const { runtime, wsUrl } = await start(t);
  const { ws, frames } = await binaryClient(wsUrl, `${R}/spokes`);
  t.teardown(() => ws.close());
  await waitFor(() => runtime.plugins.binaryStreams.status()['radars/probe-1']?.clients === 1, 'the client registered');
  t.deepEqual(await http(runtime, 'PUT', `${R}/power`, { value: 'transmit' }), OK);
  await waitFor(() => frames.length === 4, 'four spokes');
  t.deepEqual(
    frames.map((f) => [...f]),
    [0, 1, 2, 3].map((n) => [n, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a]),
  );
  t.like(await pluginStatus(runtime, ID), { statusMessage: 'sent 4 spokes' });
  t.like((await http(runtime, 'GET', `${R}/state`)).body, { status: 'transmit' });
});

test('bad requests get 400 with the reason, unknown radars and controls 404', async (t) => {
  const { runtime } = await start(t);
  t.deepEqual(
    await http(runtime, 'PUT', `${R}/power`, { value: 'on' }),
    failed(400, 'Invalid power state. Must be: off, standby, transmit, or warming'),
  );
  t.deepEqual(
    await http(runtime, 'PUT', `${R}/range`, { value: -5 }),
    failed(400, 'Invalid range value. Must be a positive number (meters)'),
  );
  t.deepEqual(
    await http(runtime, 'PUT', `${R}/sea`, { value: 3 }),
    failed(400, 'Invalid sea value. Must have "auto" boolean property'),
  );
  t.deepEqual(
    await http(runtime, 'POST', `${R}/targets`, { bearing: 7, distance: 100 }),
    failed(400, 'Bearing must be in radians [0, 2π)'),
  );
  t.deepEqual(
    await http(runtime, 'POST', `${R}/targets`, { bearing: 1 }),
    failed(400, 'Invalid request. Must provide bearing (radians) and distance (meters)'),
  );
  t.deepEqual(await http(runtime, 'DELETE', `${R}/targets/first`), failed(400, 'Invalid target ID. Must be a number'));
  t.deepEqual(await http(runtime, 'GET', `${API}/nope`), failed(404, 'Resource not found.'));
  t.deepEqual(await http(runtime, 'GET', `${API}/nope/state`), failed(404, 'Radar nope not found'));
  t.deepEqual(await http(runtime, 'PUT', `${API}/nope/power`, { value: 'off' }), failed(404, 'Resource not found.'));
  t.deepEqual(await http(runtime, 'GET', `${R}/controls/tilt`), failed(404, 'Control tilt not found'));
  t.deepEqual(
    await http(runtime, 'POST', `${API}/_providers/_default/nobody`),
    failed(400, 'Provider nobody not found!'),
  );
  t.is((await pluginStatus(runtime, ID)).state, 'running');
});

test('a handler that answers garbage or over 1 MiB is 502, one that never returns or traps is 500 with the reason; the runtime serves on', async (t) => {
  const { runtime } = await start(t, { callTimeoutMs: 300 });
  const garbage = await http(runtime, 'GET', `${R}/controls/garbage`);
  t.deepEqual(
    garbage,
    failed(502, `plugin ${ID}: radar_get_control answered text that is not JSON: "the radar is fine"`),
  );
  const huge = await http(runtime, 'GET', `${R}/controls/huge`);
  t.is(huge.status, 502);
  t.regex((huge.body as { message: string }).message, /radar_get_control: .*over 1048576 bytes/);
  t.is((await pluginStatus(runtime, ID)).crashes, 0, 'an oversized answer is no crash');

  const spin = await http(runtime, 'GET', `${R}/controls/spin`);
  t.is(spin.status, 500);
  t.regex((spin.body as { message: string }).message, /crashed in radar_get_control: .*did not return within 300 ms/);
  // Restarted after the crash, it registers again and serves.
  await waitFor(async () => (await http(runtime, 'GET', R)).status === 200, 'served after the restart');

  const trap = await http(runtime, 'GET', `${R}/controls/trap`);
  t.is(trap.status, 500);
  t.regex((trap.body as { message: string }).message, /crashed in radar_get_control: .*unreachable/);
  await waitFor(async () => (await http(runtime, 'GET', R)).status === 200, 'served after the second restart');
  t.like(await pluginStatus(runtime, ID), { crashes: 2, radarProvider: true });
  t.is((await http(runtime, 'GET', '/signalk/v1/api/self')).status, 200);
});

test('without the radarProvider grant the registration is refused and listed as denied; no radars', async (t) => {
  const { runtime } = await start(t, { grants: { [ID]: [] } });
  const status = await pluginStatus(runtime, ID);
  t.is(status.errorMessage, 'radar provider registration refused');
  t.is(status.radarProvider, false);
  t.deepEqual(
    (status.capabilities as { denied: { capability: string }[] }).denied.map((d) => d.capability),
    ['radarProvider'],
  );
  t.deepEqual(await http(runtime, 'GET', API), { status: 200, body: { version: '3.4.0', radars: {} } });
  t.deepEqual((await http(runtime, 'GET', `${API}/_providers`)).body, {});
  t.deepEqual(await http(runtime, 'GET', R), failed(404, 'Resource not found.'));
});

test('with security on: reading radars needs readonly, controlling them readwrite', async (t) => {
  const { runtime, url } = await startSecuredRuntime(
    t,
    { guest: 'readonly', mate: 'readwrite' },
    { pluginDirs: [await folder()], grants: granted },
  );
  await waitFor(() => runtime.plugins.runner(ID)?.currentState === 'running', 'the provider running');
  t.is((await call(url, 'GET', API)).status, 401);
  const guest = await login(url, 'guest');
  const mate = await login(url, 'mate');
  t.is((await call(url, 'GET', R, { token: guest })).status, 200);
  t.is((await call(url, 'PUT', `${R}/power`, { token: guest, body: { value: 'off' } })).status, 403);
  t.is((await call(url, 'POST', `${API}/_providers/_default/${ID}`, { token: guest })).status, 403);
  t.is((await call(url, 'PUT', `${R}/power`, { token: mate, body: { value: 'off' } })).status, 200);
  t.like((await call(url, 'GET', `${R}/state`, { token: mate })).body, { status: 'off' });
  t.is((await call(url, 'POST', `${API}/_providers/_default/${ID}`, { token: mate })).status, 200);
});
