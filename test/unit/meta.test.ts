// Signal K metadata: served over REST for every path the schema knows (with or without data), in the
// full tree beside each value, merged with the meta that deltas carry, and sent on the stream before
// a path's first value to clients that ask with `sendMeta=all`.

import test from 'ava';
import WebSocket from 'ws';
import { http, openStream, publish } from '../helpers/plugins.js';
import { startTestRuntime } from '../helpers/runtime.js';
import { waitFor } from '../helpers/wait.js';

type Msg = {
  context?: string;
  updates?: {
    timestamp?: string;
    values?: { path: string; value: unknown }[];
    meta?: { path: string; value: Record<string, unknown> }[];
  }[];
};

const STW = 'navigation.speedThroughWater';
// From @signalk/signalk-schema's keyswithmetadata.json (the schema under test, read here as expected values).
const STW_META = { units: 'm/s', description: 'Vessel speed through the water' };

function metaIn(messages: unknown[], path: string): { index: number; value: Record<string, unknown> } | undefined {
  for (let i = 0; i < messages.length; i++) {
    for (const u of (messages[i] as Msg).updates ?? []) {
      const m = u.meta?.find((x) => x.path === path);
      if (m) return { index: i, value: m.value };
    }
  }
  return undefined;
}

function valueIndex(messages: unknown[], path: string): number {
  return messages.findIndex((m) =>
    ((m as Msg).updates ?? []).some((u) => (u.values ?? []).some((v) => v.path === path)),
  );
}

test('REST: meta of known paths with and without data, single keys, 404 for unknown paths', async (t) => {
  const { runtime, stop } = await startTestRuntime();
  t.teardown(stop);
  publish(runtime, [{ path: STW, value: 3.2 }]);

  const stw = await http(runtime, 'GET', '/signalk/v1/api/vessels/self/navigation/speedThroughWater/meta');
  t.is(stw.status, 200);
  t.deepEqual(stw.body, STW_META);
  const units = await http(runtime, 'GET', '/signalk/v1/api/vessels/self/navigation/speedThroughWater/meta/units');
  t.deepEqual([units.status, units.body], [200, 'm/s']);

  // No data yet, but the schema knows the path (as signalk-server answers).
  const depth = await http(runtime, 'GET', '/signalk/v1/api/vessels/self/environment/depth/belowKeel/meta');
  t.like(depth, { status: 200, body: { units: 'm' } });
  // Instance names (`RegExp` in the schema) match any segment.
  const battery = await http(runtime, 'GET', '/signalk/v1/api/vessels/self/electrical/batteries/house/voltage/meta');
  t.like(battery, { status: 200, body: { units: 'V' } });
  // Other vessels and aids to navigation (the schema's `aton` group).
  t.like(
    await http(runtime, 'GET', '/signalk/v1/api/vessels/urn:mrn:imo:mmsi:230000002/navigation/speedOverGround/meta'),
    { status: 200, body: { units: 'm/s' } },
  );
  t.like(await http(runtime, 'GET', '/signalk/v1/api/atons/urn:mrn:imo:mmsi:992351000/atonType/meta'), {
    status: 200,
    body: { description: 'The aton type' },
  });

  t.is((await http(runtime, 'GET', '/signalk/v1/api/vessels/self/navigation/noSuchThing/meta')).status, 404);
  t.is(
    (await http(runtime, 'GET', '/signalk/v1/api/vessels/self/navigation/speedThroughWater/meta/noSuchKey')).status,
    404,
  );
  t.is((await http(runtime, 'GET', '/signalk/v1/api/vessels/self/meta')).status, 404);

  // The full tree carries meta beside the value.
  const full = await http(runtime, 'GET', '/signalk/v1/api');
  const leaf = (
    full.body as { vessels: Record<string, { navigation: { speedThroughWater: Record<string, unknown> } }> }
  ).vessels[runtime.model.selfUrn].navigation.speedThroughWater;
  t.like(leaf, { value: 3.2, meta: STW_META });
});

test("REST: meta that deltas carry merges over the schema's, before and after the first value", async (t) => {
  const { runtime, stop } = await startTestRuntime();
  t.teardown(stop);
  const zones = [{ lower: 0, upper: 0.5, state: 'alarm', message: 'aground?' }];
  // Before any value: kept and merged once the leaf exists.
  t.is(
    runtime.bus.publish(
      { updates: [{ source: { label: 'cfg' }, meta: [{ path: STW, value: { displayName: 'STW', zones } }] }] },
      'test',
    ),
    undefined,
  );
  publish(runtime, [{ path: STW, value: 2 }]);
  t.like((await http(runtime, 'GET', '/signalk/v1/api/vessels/self/navigation/speedThroughWater/meta')).body, {
    ...STW_META,
    displayName: 'STW',
    zones,
  });
  // After: a later meta delta changes one key, the others stay.
  t.is(
    runtime.bus.publish(
      { updates: [{ source: { label: 'cfg' }, meta: [{ path: STW, value: { displayName: 'Log' } }] }] },
      'test',
    ),
    undefined,
  );
  t.like((await http(runtime, 'GET', '/signalk/v1/api/vessels/self/navigation/speedThroughWater/meta')).body, {
    ...STW_META,
    displayName: 'Log',
    zones,
  });
  // A path the schema does not know gets only what deltas carried.
  t.is(
    runtime.bus.publish(
      { updates: [{ source: { label: 'cfg' }, meta: [{ path: 'custom.thing', value: { units: 'K' } }] }] },
      'test',
    ),
    undefined,
  );
  t.deepEqual((await http(runtime, 'GET', '/signalk/v1/api/vessels/self/custom/thing/meta')).body, { units: 'K' });
});

test("stream: a client with sendMeta=all gets units before a path's first value, once; others get no meta", async (t) => {
  const { runtime, stop } = await startTestRuntime();
  t.teardown(stop);
  publish(runtime, [{ path: 'environment.depth.belowTransducer', value: 7 }]);
  const withMeta = await openStream(runtime, 'subscribe=self&sendMeta=all');
  t.teardown(() => withMeta.close());
  const plain = await openStream(runtime, 'subscribe=self');
  t.teardown(() => plain.close());

  // The cached value on connect comes after its meta.
  const depthMeta = await waitFor(
    () => metaIn(withMeta.messages, 'environment.depth.belowTransducer'),
    'meta of the cached depth',
  );
  t.is(depthMeta.value.units, 'm');
  t.true(depthMeta.index < valueIndex(withMeta.messages, 'environment.depth.belowTransducer'));
  // The parent branch (two segments and more) is announced too.
  t.truthy(metaIn(withMeta.messages, 'environment.depth'));

  publish(runtime, [{ path: STW, value: 3 }]);
  publish(runtime, [{ path: STW, value: 3.1 }]);
  await waitFor(
    () => withMeta.messages.filter((m) => valueIndex([m], STW) >= 0).length === 2,
    'both speeds on the meta stream',
  );
  const stw = metaIn(withMeta.messages, STW);
  t.deepEqual(stw?.value, STW_META);
  t.true(stw!.index < valueIndex(withMeta.messages, STW), 'meta before the first value');
  const metaMessages = withMeta.messages.filter((m) =>
    ((m as Msg).updates ?? []).some((u) => u.meta?.some((x) => x.path === STW)),
  );
  t.is(metaMessages.length, 1, 'announced once');
  t.is((metaMessages[0] as Msg).context, runtime.model.selfContext);

  await waitFor(
    () => plain.messages.filter((m) => valueIndex([m], STW) >= 0).length === 2,
    'both speeds on the plain stream',
  );
  t.is(metaIn(plain.messages, STW), undefined);
  t.is(metaIn(plain.messages, 'environment.depth.belowTransducer'), undefined);
});

test('stream: sendMeta=all with an explicit subscription announces only the subscribed paths', async (t) => {
  const { runtime, stop } = await startTestRuntime();
  t.teardown(stop);
  const client = new WebSocket(
    `${runtime.api.url.replace(/^http/, 'ws')}/signalk/v1/stream?subscribe=none&sendMeta=all`,
  );
  const got: Msg[] = [];
  client.on('message', (d) => got.push(JSON.parse(String(d)) as Msg));
  await new Promise((r) => client.once('open', r));
  t.teardown(() => client.close());
  client.send(JSON.stringify({ context: 'vessels.self', subscribe: [{ path: 'navigation.courseOverGroundTrue' }] }));
  await waitFor(async () => {
    publish(runtime, [
      { path: 'navigation.courseOverGroundTrue', value: 1 },
      { path: 'navigation.headingTrue', value: 1.1 },
    ]);
    await new Promise((r) => setTimeout(r, 20));
    return valueIndex(got, 'navigation.courseOverGroundTrue') >= 0;
  }, 'the subscribed course');
  t.like(metaIn(got, 'navigation.courseOverGroundTrue')?.value, { units: 'rad' });
  t.is(metaIn(got, 'navigation.headingTrue'), undefined);
  t.is(valueIndex(got, 'navigation.headingTrue'), -1);
});
