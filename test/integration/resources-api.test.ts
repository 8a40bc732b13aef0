// The v2 resources API served by a plugin resource provider (fixture resource-store:
// sk_register_resource_provider + resources_* exports, AssemblyScript) in a real runtime: list
// with a query, get (and a property), create, replace, delete, the v2 delta of a change; refused
// input; a provider whose list never returns or answers garbage; and the resourceProvider grant.

import test from 'ava';
import { FIXTURES, http, pluginFolder, pluginStatus } from '../helpers/plugins.js';
import { startTestRuntime } from '../helpers/runtime.js';
import { call, login, startSecuredRuntime } from '../helpers/security.js';
import { waitFor } from '../helpers/wait.js';

const ID = '_signalk-edge-fixture_resource-store';
const API = '/signalk/v2/api/resources';
const granted = { [ID]: ['dataRead', 'resourceProvider'] };
const folder = () => pluginFolder([{ from: FIXTURES, name: 'resource-store' }]);
// Notes are a Signal K type: their ids are v4 UUIDs, as upstream requires.
const N1 = '3a1f7c52-9d0e-4b6a-8f21-0c5e7d9b1a11';
const N2 = '3a1f7c52-9d0e-4b6a-8f21-0c5e7d9b1a22';
const N3 = '3a1f7c52-9d0e-4b6a-8f21-0c5e7d9b1a33';
const N4 = '3a1f7c52-9d0e-4b6a-8f21-0c5e7d9b1a44';

test('list, get, create, replace and delete through the provider; changes go out as v2 deltas', async (t) => {
  const { runtime, stop } = await startTestRuntime({ pluginDirs: [await folder()], grants: granted });
  t.teardown(stop);
  await waitFor(async () => (await pluginStatus(runtime, ID)).state === 'running', 'the provider running');
  t.like(await pluginStatus(runtime, ID), {
    statusMessage: 'serving notes, buoys, spinning, garbled',
    resourceProvider: ['notes', 'buoys', 'spinning', 'garbled'],
  });

  t.deepEqual((await http(runtime, 'GET', API)).body, {
    notes: { description: 'Path containing note resources' },
    buoys: { description: 'Path containing buoy resources' },
    spinning: { description: 'Path containing spinning resources' },
    garbled: { description: 'Path containing garbled resources' },
  });
  t.deepEqual((await http(runtime, 'GET', `${API}/buoys/_providers`)).body, [ID]);
  t.deepEqual((await http(runtime, 'GET', `${API}/buoys`)).body, {
    b1: { name: 'Fairway', position: { latitude: 60.1, longitude: 24.9 } },
  });
  t.deepEqual((await http(runtime, 'GET', `${API}/buoys/b1`)).body, {
    name: 'Fairway',
    position: { latitude: 60.1, longitude: 24.9 },
  });
  t.deepEqual((await http(runtime, 'GET', `${API}/buoys/b1/position/latitude`)).body, 60.1);
  t.like((await http(runtime, 'GET', `${API}/buoys/b1/depth`)).body, { state: 'FAILED', statusCode: 404 });
  const missing = await http(runtime, 'GET', `${API}/buoys/nope`);
  t.is(missing.status, 404);
  t.deepEqual(missing.body, { state: 'FAILED', statusCode: 404, message: 'Resource not found! (nope)' });

  const created = await http(runtime, 'POST', `${API}/notes`, { name: 'Anchorage', description: 'good holding' });
  t.is(created.status, 201, JSON.stringify(created.body));
  const { id } = created.body as { id: string };
  t.regex(id, /^[0-9a-f-]{36}$/);
  t.deepEqual((await http(runtime, 'GET', `${API}/notes/${id}`)).body, {
    name: 'Anchorage',
    description: 'good holding',
  });

  const replaced = await http(runtime, 'PUT', `${API}/notes/${N2}`, { name: 'Fuel dock' });
  t.deepEqual(replaced, { status: 200, body: { state: 'COMPLETED', statusCode: 200, message: N2 } });
  // Query values reach the provider as JSON (upstream's parsing): limit=1 is a number.
  t.is(Object.keys((await http(runtime, 'GET', `${API}/notes`)).body as object).length, 2);
  t.is(Object.keys((await http(runtime, 'GET', `${API}/notes?limit=1`)).body as object).length, 1);
  t.deepEqual(await http(runtime, 'GET', `${API}/notes?limit=0`), {
    status: 400,
    body: { state: 'FAILED', statusCode: 400, message: 'invalid query: limit must be >= 1' },
  });

  const refused = await http(runtime, 'PUT', `${API}/notes/${N3}`, { description: 'no name' });
  t.deepEqual(refused, {
    status: 400,
    body: { state: 'FAILED', statusCode: 400, message: `saving notes resource ${N3} failed: a resource needs a name` },
  });
  t.is((await http(runtime, 'PUT', `${API}/notes/bad%20id`, { name: 'x' })).status, 400);
  // Signal K types: the id must be a v4 UUID, the body a valid note (upstream's checks), before the provider sees it.
  t.deepEqual(await http(runtime, 'PUT', `${API}/notes/n5`, { name: 'x' }), {
    status: 400,
    body: { state: 'FAILED', statusCode: 400, message: 'Invalid resource id provided (n5)' },
  });
  t.deepEqual(
    await http(runtime, 'PUT', `${API}/notes/${N4}`, { name: 'x', position: { latitude: 'north', longitude: 24 } }),
    {
      status: 400,
      body: { state: 'FAILED', statusCode: 400, message: 'invalid note: position.latitude must be number' },
    },
  );
  t.like((await http(runtime, 'POST', `${API}/notes`, { name: 7 })).body, {
    statusCode: 400,
    message: 'invalid note: name must be string',
  });
  // A type of the plugin's own is not checked: any id the route accepts, any object.
  t.is((await http(runtime, 'PUT', `${API}/buoys/b2`, { name: 'Cardinal', light: 'Q(3)' })).status, 200);
  t.is((await http(runtime, 'PUT', `${API}/notes/${N4}`, [1, 2])).status, 400);

  t.deepEqual(await http(runtime, 'DELETE', `${API}/notes/${N2}`), {
    status: 200,
    body: { state: 'COMPLETED', statusCode: 200, message: N2 },
  });
  t.is((await http(runtime, 'DELETE', `${API}/notes/${N2}`)).status, 404);
  t.is((await http(runtime, 'GET', `${API}/notes/${N2}`)).status, 404);

  // No provider for a type, or one that is not a provider of it.
  t.like((await http(runtime, 'GET', `${API}/routes`)).body, {
    state: 'FAILED',
    statusCode: 404,
    message: 'no provider for resource type routes',
  });
  t.like((await http(runtime, 'GET', `${API}/notes?provider=someone-else`)).body, {
    statusCode: 404,
    message: 'someone-else is not a provider of notes',
  });
  // The default provider: the only one; choosing another is refused; the choice is kept in the data folder.
  t.deepEqual((await http(runtime, 'GET', `${API}/notes/_providers/_default`)).body, ID);
  t.deepEqual(await http(runtime, 'POST', `${API}/notes/_providers/_default/someone-else`), {
    status: 400,
    body: { state: 'FAILED', statusCode: 400, message: 'Resource provider not found for notes!' },
  });
  t.deepEqual(await http(runtime, 'POST', `${API}/notes/_providers/_default/${ID}`), {
    status: 201,
    body: { state: 'COMPLETED', statusCode: 201, message: ID },
  });
  t.like((await http(runtime, 'GET', `${API}/routes/_providers/_default`)).body, {
    statusCode: 404,
    message: 'Resource type not found! (routes)',
  });
});

test('the v2 delta of a change is published on the bus, not merged into the v1 model', async (t) => {
  const { runtime, stop } = await startTestRuntime({ pluginDirs: [await folder()], grants: granted });
  t.teardown(stop);
  await waitFor(async () => (await pluginStatus(runtime, ID)).state === 'running', 'the provider running');
  const seen: unknown[] = [];
  const unsubscribe = runtime.bus.subscribe((msg) => seen.push(msg));
  t.teardown(unsubscribe);
  t.is((await http(runtime, 'PUT', `${API}/notes/${N1}`, { name: 'Reef' })).status, 200);
  t.is((await http(runtime, 'DELETE', `${API}/notes/${N1}`)).status, 200);
  const values = seen.flatMap((m) =>
    ((m as { delta: { updates: { values: { path: string; value: unknown }[] }[] } }).delta?.updates ?? []).flatMap(
      (u) => u.values,
    ),
  );
  t.deepEqual(values, [
    { path: `resources.notes.${N1}`, value: { name: 'Reef' } },
    { path: `resources.notes.${N1}`, value: null },
  ]);
  t.is((await http(runtime, 'GET', '/signalk/v1/api/vessels/self/resources')).status, 404);
});

test('a provider whose list never returns is stopped at the call bound; garbage is a 502; it keeps serving after the restart', async (t) => {
  const { runtime, stop } = await startTestRuntime({
    pluginDirs: [await folder()],
    grants: granted,
    callTimeoutMs: 300,
    restart: { baseMs: 50 },
  });
  t.teardown(stop);
  await waitFor(async () => (await pluginStatus(runtime, ID)).state === 'running', 'the provider running');

  const garbled = await http(runtime, 'GET', `${API}/garbled`);
  t.deepEqual(garbled, {
    status: 502,
    body: { state: 'FAILED', statusCode: 502, message: 'no provider of garbled answered the list (see the log)' },
  });

  const spinning = await http(runtime, 'GET', `${API}/spinning`);
  t.is(spinning.status, 502);
  const status = await pluginStatus(runtime, ID);
  t.is(status.crashes, 1);
  t.regex(String(status.errorMessage), /resources_list_resources did not return within 300 ms/);
  // While it restarts its types are gone (404), then back.
  await waitFor(
    async () => (await http(runtime, 'GET', `${API}/buoys`)).status === 200,
    'the provider back after the restart',
  );
  t.like((await http(runtime, 'GET', `${API}/buoys`)).body, { b1: { name: 'Fairway' } });
});

test('without the resourceProvider grant the registration is refused and listed as denied', async (t) => {
  const { runtime, stop } = await startTestRuntime({ pluginDirs: [await folder()] });
  t.teardown(stop);
  await waitFor(async () => (await pluginStatus(runtime, ID)).state === 'running', 'the plugin running');
  const status = await pluginStatus(runtime, ID);
  t.is(status.errorMessage, 'registered 0 of 4 resource types');
  t.deepEqual(status.resourceProvider, []);
  const denied = (status.capabilities as { denied: { capability: string; message: string }[] }).denied;
  t.is(denied.length, 1);
  t.is(denied[0].capability, 'resourceProvider');
  t.regex(denied[0].message, /grant it with: signalk-edge grant _signalk-edge-fixture_resource-store resourceProvider/);
  t.is((await http(runtime, 'GET', `${API}/notes`)).status, 404);
});

test('with security on: reading resources needs readonly, changing them readwrite', async (t) => {
  const { runtime, url } = await startSecuredRuntime(
    t,
    { guest: 'readonly', crew: 'readwrite' },
    { pluginDirs: [await folder()], grants: granted },
  );
  await waitFor(() => runtime.plugins.runner(ID)?.currentState === 'running', 'the provider running');
  const [guest, crew] = [await login(url, 'guest'), await login(url, 'crew')];
  t.is((await call(url, 'GET', `${API}/buoys`)).status, 401);
  t.is((await call(url, 'GET', `${API}/buoys`, { token: guest })).status, 200);
  t.is((await call(url, 'PUT', `${API}/buoys/b2`, { token: guest, body: { name: 'Cardinal' } })).status, 403);
  t.is((await call(url, 'PUT', `${API}/buoys/b2`, { token: crew, body: { name: 'Cardinal' } })).status, 200);
  t.is((await call(url, 'DELETE', `${API}/buoys/b2`, { token: crew })).status, 200);
});
