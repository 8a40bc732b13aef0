// The upstream JavaScript client (@signalk/client, CommonJS, WebSocket from isomorphic-ws → ws in
// Node) against a whole runtime replaying an NMEA log.

import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Nmea0183Codec } from '../../hal/codecs/nmea0183/codec.js';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';
import { replaySource, startTestRuntime } from '../helpers/runtime.js';
import { signalkClient } from '../helpers/signalk-client.js';
import { waitFor } from '../helpers/wait.js';

const LOG = join(PROJECT_ROOT, 'test', 'fixtures', 'client-passage.nmea');

/** Path → values the log yields, decoded by the codec on its own (no bus, no API). */
function valuesInLog(): Map<string, Set<string>> {
  const codec = new Nmea0183Codec('log');
  const out = new Map<string, Set<string>>();
  for (const line of readFileSync(LOG, 'latin1').split(/\r?\n/)) {
    const r = codec.decode(line);
    if (r.kind !== 'delta') continue;
    for (const u of r.delta.updates) {
      for (const v of u.values ?? []) {
        let set = out.get(v.path);
        if (!set) out.set(v.path, (set = new Set()));
        set.add(JSON.stringify(v.value));
      }
    }
  }
  return out;
}

interface WireDelta {
  context?: string;
  updates: { $source?: string; source?: { label?: string }; values?: { path: string; value: unknown }[] }[];
}

test('@signalk/client: hello, navigation.* subscription gets exactly the navigation values the replayed log yields', async (t) => {
  const logValues = valuesInLog();
  const navPaths = [...logValues.keys()].filter((p) => p.startsWith('navigation.')).sort();
  // The log must hold both kinds for the test to mean anything.
  t.true(navPaths.length >= 5, navPaths.join());
  t.true([...logValues.keys()].some((p) => p.startsWith('environment.wind.')));
  t.true([...logValues.keys()].some((p) => p.startsWith('environment.depth.')));

  // Looping in real time keeps deltas flowing live while the client connects and after it subscribes.
  const rt = await startTestRuntime({
    sources: [replaySource('passage', LOG, { rate: 'realtime', linesPerSecond: 200, loop: true })],
  });
  t.teardown(() => rt.stop());
  const { port } = rt.runtime.api;

  const client = signalkClient(port, { deltaStreamBehaviour: 'none' });
  let hello: unknown;
  const deltas: WireDelta[] = [];
  client.on('connectionInfo', (info) => (hello = info));
  client.on('delta', (d) => deltas.push(d as WireDelta));
  client.on('error', (err) => t.log(`client error: ${String(err)}`));
  await client.connect();
  t.teardown(() => client.disconnect());

  await waitFor(() => hello, 'the hello message');
  t.like(hello, { name: 'signalk-edge', self: rt.runtime.model.selfContext, roles: ['master', 'main'] });
  t.is(client.self, rt.runtime.model.selfContext);

  client.subscribe({ context: 'vessels.self', subscribe: [{ path: 'navigation.*' }] });
  const received = () => new Set(deltas.flatMap((d) => d.updates.flatMap((u) => (u.values ?? []).map((v) => v.path))));
  // Cached values first, then live ones: wait for several RMC rounds of the looping log.
  const sogCount = () =>
    deltas
      .flatMap((d) => d.updates.flatMap((u) => u.values ?? []))
      .filter((v) => v.path === 'navigation.speedOverGround').length;
  await waitFor(
    () => navPaths.every((p) => received().has(p)) && sogCount() >= 5,
    'every navigation path and several rounds on the stream',
    30_000,
  );
  t.log(`${deltas.length} deltas, ${sogCount()} speedOverGround values, paths: ${navPaths.join(' ')}`);

  t.deepEqual([...received()].sort(), navPaths);
  t.false([...received()].some((p) => p.startsWith('environment.')));
  for (const d of deltas) {
    t.is(d.context, rt.runtime.model.selfContext);
    for (const u of d.updates) {
      for (const v of u.values ?? []) {
        t.true(
          logValues.get(v.path)?.has(JSON.stringify(v.value)),
          `${v.path}=${JSON.stringify(v.value)} is a value from the log`,
        );
      }
    }
  }

  // The client's REST helpers read the same model.
  const api = await client.API();
  t.like(await api.navigation('/position'), { $source: 'passage.GP' });
});
