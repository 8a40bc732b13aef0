// The radar API's parts with stand-in providers over real HTTP: providers with only the typed
// setters (radar_set_power ...) and none at all, two providers claiming one radar id, a list where
// one provider fails or all do; the registry's default and spoke ownership; the provider call's
// time bound (504).

import test, { type ExecutionContext } from 'ava';
import type { JsonValue } from '../../core/json.js';
import { radarRoutes, type RadarHandler, type RadarProviders } from '../../runtime/api/v2/radars.js';
import { RadarProviderRegistry } from '../../runtime/plugins/radar-providers.js';
import { providerCaller, type ProviderReply } from '../../runtime/plugins/provider-call.js';
import type { PluginRunner } from '../../runtime/plugins/runner.js';
import { call } from '../helpers/security.js';
import { startBareApi } from '../helpers/runtime.js';

const API = '/signalk/v2/api/vessels/self/radars';
type Handlers = Partial<Record<RadarHandler, (request: Record<string, JsonValue>) => ProviderReply>>;

/** Stand-in providers: plugin id → its exports; every call recorded. */
async function serve(t: ExecutionContext, plugins: Record<string, Handlers>) {
  const registry = new RadarProviderRegistry();
  for (const id of Object.keys(plugins)) registry.add(id, `${id} radars`);
  const calls: { pluginId: string; handler: string; request: Record<string, JsonValue> }[] = [];
  const providers: RadarProviders = {
    list: () => registry.list(),
    getDefault: () => registry.getDefault(),
    setDefault: (id) => registry.setDefault(id),
    claim: (id, radars) => registry.claim(id, radars),
    supports: (id, handler) => plugins[id]?.[handler] !== undefined,
    call: async (pluginId, handler, request) => {
      calls.push({ pluginId, handler, request });
      return plugins[pluginId][handler]!(request);
    },
  };
  const bare = await startBareApi({ routes: [radarRoutes(providers)] });
  t.teardown(() => bare.api.close());
  return { url: bare.url, calls, registry };
}

const json = (v: JsonValue): ProviderReply => ({ text: JSON.stringify(v) });
const radar = (ids: string[]): Handlers => ({
  radar_get_radars: () => json(ids),
  radar_get_radar_info: (r) => json({ name: `radar ${String(r.radarId)}` }),
});

test('shortcut routes use the typed setters when the provider has no radar_set_control; neither is 501', async (t) => {
  const { url, calls } = await serve(t, {
    typed: { ...radar(['a']), radar_set_power: () => json(true), radar_set_gain: () => json(false) },
    bare: radar(['b']),
  });
  t.is((await call(url, 'PUT', `${API}/a/power`, { body: { value: 'transmit' } })).status, 200);
  t.deepEqual(calls.at(-1), {
    pluginId: 'typed',
    handler: 'radar_set_power',
    request: { radarId: 'a', state: 'transmit' },
  });
  t.deepEqual((await call(url, 'PUT', `${API}/a/gain`, { body: { auto: true } })).body, {
    state: 'FAILED',
    statusCode: 400,
    message: 'Failed to set radar gain',
  });
  t.deepEqual(calls.at(-1)?.request, { radarId: 'a', gain: { auto: true } });
  t.deepEqual((await call(url, 'PUT', `${API}/b/power`, { body: { value: 'off' } })).body, {
    state: 'FAILED',
    statusCode: 501,
    message: 'Provider does not support setPower',
  });
  t.deepEqual((await call(url, 'GET', `${API}/b/state`)).body, {
    state: 'FAILED',
    statusCode: 501,
    message: 'Provider does not support getState',
  });
  t.deepEqual((await call(url, 'PUT', `${API}/b/controls/gain`, { body: { value: 1 } })).body, {
    state: 'FAILED',
    statusCode: 501,
    message: 'Provider does not support setControl',
  });
});

test('a radar id two providers list belongs to the first; spokes for it only from that one', async (t) => {
  const { url, registry } = await serve(t, { first: radar(['shared', 'one']), second: radar(['shared', 'two']) });
  t.deepEqual((await call(url, 'GET', API)).body, {
    version: '3.4.0',
    radars: { shared: { name: 'radar shared' }, one: { name: 'radar one' }, two: { name: 'radar two' } },
  });
  t.true(registry.mayEmit('first', 'shared'));
  t.false(registry.mayEmit('second', 'shared'));
  t.true(registry.mayEmit('second', 'two'));
  t.false(registry.mayEmit('stranger', 'unclaimed'), 'only a registered provider sends spokes');
  // The first provider going away frees its ids.
  registry.removePlugin('first');
  t.is(registry.getDefault(), 'second');
  t.true(registry.mayEmit('second', 'shared'));
});

test('the list skips a failing provider, and answers its failure when every provider fails', async (t) => {
  const broken: Handlers = {
    radar_get_radars: () => ({ status: 500, error: 'plugin broken crashed in radar_get_radars: unreachable' }),
  };
  const some = await serve(t, { broken, fine: radar(['x']) });
  t.deepEqual((await call(some.url, 'GET', API)).body, { version: '3.4.0', radars: { x: { name: 'radar x' } } });
  // A radar nobody lists while a provider is broken: its failure, not a 404.
  t.deepEqual((await call(some.url, 'GET', `${API}/y/state`)).body, {
    state: 'FAILED',
    statusCode: 500,
    message: 'plugin broken crashed in radar_get_radars: unreachable',
  });

  const none = await serve(t, {
    broken,
    odd: { radar_get_radars: () => json({ radars: 1 }), radar_get_radar_info: () => json({}) },
  });
  t.deepEqual(await call(none.url, 'GET', API).then((r) => [r.status, r.body]), [
    500,
    { state: 'FAILED', statusCode: 500, message: 'plugin broken crashed in radar_get_radars: unreachable' },
  ]);
  const odd = await call(none.url, 'GET', `${API}/_providers/_default`);
  t.deepEqual(odd.body, { id: 'broken' });
  t.is((await call(none.url, 'POST', `${API}/_providers/_default/odd`)).status, 200);
  t.deepEqual((await call(none.url, 'GET', `${API}/_providers`)).body, {
    broken: { name: 'broken radars', isDefault: false },
    odd: { name: 'odd radars', isDefault: true },
  });
});

test('a provider call that does not answer in time is 504 with the handler named', async (t) => {
  const never = { callHandlerResumable: () => new Promise<never>(() => undefined) } as unknown as PluginRunner;
  const caller = providerCaller((id) => (id === 'slow' ? never : undefined), 50);
  t.deepEqual(await caller('slow', 'radar_get_radars', {}), {
    status: 504,
    error: 'plugin slow: radar_get_radars did not answer within 50 ms',
  });
  t.deepEqual(await caller('gone', 'radar_get_radars', {}), { status: 503, error: 'no plugin gone' });
});
