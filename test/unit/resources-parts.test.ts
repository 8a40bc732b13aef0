// The resources API's parts: upstream's checks of Signal K resource bodies and ids, the default
// provider per type (from settings, chosen at run time, kept in the data folder), and which provider
// a write goes to when two serve a type, over real HTTP with stand-in providers; chart tile paths.

import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JsonValue } from '../../core/json.js';
import { queryProblem, resourceProblem, validResourceId } from '../../runtime/api/v2/resource-schemas.js';
import { resourceRoutes, type ResourceOp } from '../../runtime/api/v2/resources.js';
import { RESOURCE_DEFAULTS_FILE, ResourceDefaults } from '../../runtime/plugins/resource-defaults.js';
import { call } from '../helpers/security.js';
import { startBareApi } from '../helpers/runtime.js';
import { tempDir } from '../helpers/temp.js';

const line = (coordinates: number[][]) => ({
  name: 'Out',
  feature: { type: 'Feature', geometry: { type: 'LineString', coordinates }, properties: {} },
});
const square = [
  [24, 60],
  [24.1, 60],
  [24.1, 60.1],
  [24, 60],
];

test('Signal K resource bodies are checked as upstream documents them; other types are not', (t) => {
  t.is(
    resourceProblem(
      'routes',
      line([
        [24, 60],
        [24.2, 60.1],
      ]),
    ),
    undefined,
  );
  t.is(resourceProblem('routes', { name: 'no feature' }), 'invalid route: the resource needs feature');
  t.is(
    resourceProblem('routes', line([[24, 60]])),
    'invalid route: feature.geometry.coordinates must NOT have fewer than 2 items',
  );
  t.is(
    resourceProblem('routes', {
      ...line([
        [24, 60],
        [24, 61],
      ]),
      distance: -1,
    }),
    'invalid route: distance must be >= 0',
  );
  t.is(
    resourceProblem('waypoints', { feature: { geometry: { type: 'Point', coordinates: [24.9, 60.1] } } }),
    undefined,
  );
  t.is(
    resourceProblem('waypoints', { feature: { geometry: { type: 'Polygon', coordinates: [square] } } }),
    'invalid waypoint: feature.geometry.type must be "Point"; feature.geometry.coordinates must NOT have fewer than 2 items; feature.geometry.coordinates.0 must be number',
  );
  t.is(
    resourceProblem('regions', { feature: { geometry: { type: 'MultiPolygon', coordinates: [[square]] } } }),
    undefined,
  );
  t.regex(
    resourceProblem('regions', { feature: { geometry: { type: 'Polygon', coordinates: [square.slice(0, 3)] } } }) ?? '',
    /^invalid region: /,
  );
  t.is(
    resourceProblem('notes', { title: 'x', href: '/resources/waypoints/3a1f7c52-9d0e-4b6a-8f21-0c5e7d9b1a11' }),
    undefined,
  );
  t.is(
    resourceProblem('notes', { href: '/resources/waypoints/w1' }),
    'invalid note: href must match pattern "^/resources/(\\w*)/[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-4[0-9A-Fa-f]{3}-[89ABab][0-9A-Fa-f]{3}-[0-9A-Fa-f]{12}$"',
  );
  t.is(
    resourceProblem('charts', { name: 'Harbour', type: 'tilelayer', format: 'png', bounds: [24, 60, 25, 61] }),
    undefined,
  );
  t.is(
    resourceProblem('charts', { name: 'Harbour', format: 'gif' }),
    'invalid chart: the resource needs type; format must be ["jpg","pbf","png","webp"]',
  );
  t.is(resourceProblem('buoys', 'anything'), undefined);

  t.true(validResourceId('routes', '3a1f7c52-9d0e-4b6a-8f21-0c5e7d9b1a11'));
  t.false(validResourceId('routes', 'r1'));
  t.false(validResourceId('notes', '3a1f7c52-9d0e-1b6a-8f21-0c5e7d9b1a11'), 'not a v4 UUID');
  t.true(validResourceId('charts', 'harbour_01'));
  t.false(validResourceId('charts', 'short'));
  t.true(validResourceId('buoys', 'b1'));
});

test('list queries of Signal K types are checked as upstream declares its parameters', (t) => {
  t.is(
    queryProblem('routes', {
      limit: 5,
      distance: 2000,
      bbox: [24, 60, 25, 61],
      position: [24.9, 60.1],
      zoom: 4,
      custom: 'x',
    }),
    undefined,
  );
  t.is(queryProblem('waypoints', { bbox: '24,60,25,61', position: '24.9,60.1' }), undefined, 'the comma form');
  t.is(queryProblem('routes', { limit: 0 }), 'invalid query: limit must be >= 1');
  t.is(
    queryProblem('notes', { distance: 50, zoom: 1.5 }),
    'invalid query: distance must be >= 100; zoom must be integer',
  );
  t.is(queryProblem('regions', { bbox: '24,60,x,61' }), 'invalid query: bbox.2 must be number');
  t.is(queryProblem('waypoints', { position: [200, 60] }), 'invalid query: position.0 must be <= 180');
  t.is(queryProblem('buoys', { limit: 0 }), undefined, "a type of the plugin's own is not checked");
});

test('the default provider: from settings, else the first registered; a choice is kept in the data folder', (t) => {
  const dataDir = tempDir(t, 'ske-res-');
  const fromSettings = new ResourceDefaults(dataDir, { notes: 'b' });
  t.is(fromSettings.of('notes', ['a', 'b']), 'b');
  t.is(fromSettings.of('notes', ['a']), 'a', 'the chosen plugin does not serve the type: the first does');
  t.is(fromSettings.of('routes', []), undefined);
  fromSettings.choose('routes', 'c');
  t.deepEqual(JSON.parse(readFileSync(join(dataDir, RESOURCE_DEFAULTS_FILE), 'utf8')), {
    defaultProviders: { notes: 'b', routes: 'c' },
  });
  // After a restart the saved choice wins over settings.
  const restarted = new ResourceDefaults(dataDir, { routes: 'a' });
  t.is(restarted.of('routes', ['a', 'c']), 'c');
});

test('with two providers of a type, new resources go to the default; replacing one goes to its holder', async (t) => {
  const stores: Record<string, Map<string, JsonValue>> = { a: new Map(), b: new Map() };
  stores.b.set('3a1f7c52-9d0e-4b6a-8f21-0c5e7d9b1a11', { name: 'held by b' });
  const defaults = new ResourceDefaults(tempDir(t, 'ske-res-'));
  const ids = ['a', 'b'];
  const answer = (pluginId: string, op: ResourceOp, r: Record<string, JsonValue>): JsonValue => {
    const store = stores[pluginId];
    const id = String(r.id);
    if (op === 'list_resources') return Object.fromEntries(store);
    if (op === 'get_resource') return store.get(id) ?? { error: 'not found' };
    if (op === 'set_resource') store.set(id, r.value);
    else store.delete(id);
    return {};
  };
  const bare = await startBareApi({
    routes: [
      resourceRoutes({
        types: () => ['notes'],
        providers: (type) => (type === 'notes' ? ids : []),
        defaultProvider: (type) => defaults.of(type, type === 'notes' ? ids : []),
        chooseDefault: (type, id) => defaults.choose(type, id),
        call: async (pluginId, op, r) => ({ text: JSON.stringify(answer(pluginId, op, r)) }),
        changed: () => undefined,
      }),
    ],
  });
  t.teardown(() => bare.api.close());
  const API = '/signalk/v2/api/resources';
  t.is((await call(bare.url, 'POST', `${API}/notes`, { body: { name: 'first' } })).status, 201);
  t.deepEqual([stores.a.size, stores.b.size], [1, 1], 'the first registered is the default');
  t.deepEqual((await call(bare.url, 'POST', `${API}/notes/_providers/_default/b`)).body, {
    state: 'COMPLETED',
    statusCode: 201,
    message: 'b',
  });
  t.deepEqual((await call(bare.url, 'GET', `${API}/notes/_providers/_default`)).body, 'b');
  t.is((await call(bare.url, 'POST', `${API}/notes`, { body: { name: 'second' } })).status, 201);
  t.deepEqual([stores.a.size, stores.b.size], [1, 2]);
  t.is(
    (await call(bare.url, 'PUT', `${API}/notes/3a1f7c52-9d0e-4b6a-8f21-0c5e7d9b1a11`, { body: { name: 'changed' } }))
      .status,
    200,
  );
  t.deepEqual(stores.b.get('3a1f7c52-9d0e-4b6a-8f21-0c5e7d9b1a11'), { name: 'changed' });
  // POST and PUT check a body alike, before any provider sees it.
  for (const [method, path] of [
    ['POST', `${API}/notes`],
    ['PUT', `${API}/notes/3a1f7c52-9d0e-4b6a-8f21-0c5e7d9b1a11`],
  ]) {
    t.deepEqual(
      await call(bare.url, method, path, { body: [1, 2] }).then((r) => [r.status, r.body]),
      [400, { state: 'FAILED', statusCode: 400, message: 'the body must be a JSON object (the resource)' }],
      method,
    );
    t.deepEqual(
      await call(bare.url, method, path, { body: { name: 7 } }).then((r) => [r.status, r.body]),
      [400, { state: 'FAILED', statusCode: 400, message: 'invalid note: name must be string' }],
      method,
    );
  }
  t.deepEqual([stores.a.size, stores.b.size], [1, 2]);
  t.deepEqual(stores.b.get('3a1f7c52-9d0e-4b6a-8f21-0c5e7d9b1a11'), { name: 'changed' });
  t.deepEqual((await call(bare.url, 'POST', `${API}/buoys/_providers/_default/a`)).body, {
    state: 'FAILED',
    statusCode: 400,
    message: 'Invalid resource type (buoys) supplied!',
  });
});

test('a chart tile path is answered 404 with the reason', async (t) => {
  const bare = await startBareApi({
    routes: [
      resourceRoutes({
        types: () => ['charts'],
        providers: () => ['a'],
        defaultProvider: () => 'a',
        chooseDefault: () => undefined,
        call: async () => ({ text: JSON.stringify({ name: 'Harbour', type: 'tilelayer' }) }),
        changed: () => undefined,
      }),
    ],
  });
  t.teardown(() => bare.api.close());
  const tile = await call(bare.url, 'GET', '/signalk/v2/api/resources/charts/harbour_01/12/2345/1234');
  t.is(tile.status, 404);
  t.regex((tile.body as { message: string }).message, /chart tiles are not served through the resources API/);
  t.deepEqual((await call(bare.url, 'GET', '/signalk/v2/api/resources/charts/harbour_01/type')).body, 'tilelayer');
});
