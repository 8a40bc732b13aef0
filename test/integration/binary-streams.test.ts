// Binary streams (sk_emit_binary_stream) to real WebSocket clients on
// /signalk/v2/api/streams/<id>, with the fixture binary-emitter: frames in order, a plugin only on
// its own streams, a slow client dropped and counted while a fast one gets everything, the gate;
// radar spokes only from a registered radar provider (spokes that arrive: radar-api.test.ts).

import test from 'ava';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket from 'ws';
import { MAX_BUFFERED_BYTES } from '../../runtime/api/binary-streams.js';
import type { GrantLists } from '../../runtime/capabilities/store.js';
import { FIXTURES, binaryClient, http, pluginFolder, pluginStatus, publish } from '../helpers/plugins.js';
import { startTestRuntime } from '../helpers/runtime.js';
import { login, startSecuredRuntime } from '../helpers/security.js';
import { waitFor } from '../helpers/wait.js';

const ID = '_signalk-edge-fixture_binary-emitter';
const STREAM = `/signalk/v2/api/streams/plugins/${ID}/frames`;
const folder = () => pluginFolder([{ from: FIXTURES, name: 'binary-emitter' }]);
/** The fixture's frame for a delta on test.big. */
const FRAME_BYTES = 65536;
/** How long 400 such frames may take on a loaded machine. */
const DEADLINE_MS = 120_000;

interface StreamStatus {
  frames: number;
  sent: number;
  dropped: number;
  clients: number;
  clientDrops: number[];
}

test('frames reach the clients of the stream in order; a plugin emits only on its own streams', async (t) => {
  const { runtime, wsUrl, stop } = await startTestRuntime({ pluginDirs: [await folder()] });
  t.teardown(stop);
  await waitFor(async () => (await pluginStatus(runtime, ID)).state === 'running', 'the plugin running');
  t.like(await pluginStatus(runtime, ID), { statusMessage: 'foreign stream refused' });

  const client = await binaryClient(wsUrl, STREAM);
  t.teardown(() => client.ws.close());
  await waitFor(
    async () =>
      ((await http(runtime, 'GET', '/signalk/v2/api/streams')).body as Record<string, StreamStatus>)[
        `plugins/${ID}/frames`
      ]?.clients === 1,
    'the client registered',
  );
  for (let i = 0; i < 5; i++) publish(runtime, [{ path: 'test.tick', value: i }]);
  await waitFor(() => client.frames.length === 5, 'five frames');
  t.deepEqual(
    client.frames.map((f) => f[0]),
    [0, 1, 2, 3, 4],
  );
  t.true(client.frames.every((f) => f.length === 16 && f[1] === 0xab));
  t.like(
    ((await http(runtime, 'GET', '/signalk/v2/api/streams')).body as Record<string, StreamStatus>)[
      `plugins/${ID}/frames`
    ],
    { frames: 5, sent: 5, dropped: 0, clients: 1 },
  );

  // No stream path, or an id that is not one: 404 on the upgrade.
  for (const bad of ['/signalk/v2/api/streams/lonely', '/signalk/v2/api/streams/a/b%00c']) {
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${wsUrl}${bad}`);
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => resolve(101));
      ws.once('error', () => undefined);
    });
    t.is(refused, 404, bad);
  }
});

test('a slow client has frames dropped and counted; a fast one gets every frame', async (t) => {
  t.timeout(DEADLINE_MS + 30_000);
  const { runtime, wsUrl, stop } = await startTestRuntime({ pluginDirs: [await folder()] });
  t.teardown(stop);
  await waitFor(async () => (await pluginStatus(runtime, ID)).state === 'running', 'the plugin running');
  const fast = await binaryClient(wsUrl, STREAM);
  const slow = await binaryClient(wsUrl, STREAM);
  t.teardown(() => {
    fast.ws.terminate();
    slow.ws.terminate();
  });
  // The slow client stops reading: its socket fills, then the server's send buffer for it.
  (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  await waitFor(
    async () =>
      ((await http(runtime, 'GET', '/signalk/v2/api/streams')).body as Record<string, StreamStatus>)[
        `plugins/${ID}/frames`
      ]?.clients === 2,
    'both clients registered',
  );
  const FRAMES = 400; // 64 KiB each: 25 MiB, beyond what loopback socket buffers absorb
  // Paced by the fast client: a burst faster than any socket drains would be dropped for it too.
  // At most WINDOW frames are on their way to it, so when one is sent at most WINDOW - 1 wait in its
  // socket, under the bound: none of its frames may be dropped.
  const WINDOW = Math.floor(MAX_BUFFERED_BYTES / FRAME_BYTES);
  let published = 0;
  const publishMore = (): void => {
    while (published < FRAMES && published - fast.frames.length < WINDOW)
      publish(runtime, [{ path: 'test.big', value: published++ }]);
  };
  fast.ws.on('message', publishMore); // after binaryClient's own listener: fast.frames is counted
  publishMore();
  // One deadline for the whole run, not one per frame: a loaded machine may be slow, not lossy.
  const deadline = Date.now() + DEADLINE_MS;
  while (fast.frames.length < FRAMES && Date.now() < deadline) await delay(25);
  t.deepEqual(
    fast.frames.map((f) => f[0]),
    Array.from({ length: FRAMES }, (_, i) => i % 256), // the fixture numbers frames in a byte
    'the fast client got every frame, in order',
  );
  const s = ((await http(runtime, 'GET', '/signalk/v2/api/streams')).body as Record<string, StreamStatus>)[
    `plugins/${ID}/frames`
  ];
  t.is(s.frames, FRAMES);
  t.true(s.dropped > 0, JSON.stringify(s));
  t.is(s.sent + s.dropped, 2 * FRAMES);
  t.deepEqual(
    [...s.clientDrops].sort((a, b) => a - b),
    [0, s.dropped],
    'only the slow client lost frames',
  );
  t.is((await pluginStatus(runtime, ID)).state, 'running', 'the plugin is not slowed or stopped by it');
});

/** With these grants (absent: the defaults) the fixture's spoke on radars/r1 is refused and no such stream appears. */
const spokeRefused = test.macro(async (t, grants?: GrantLists) => {
  const { runtime, stop } = await startTestRuntime({ pluginDirs: [await folder()], grants });
  t.teardown(stop);
  await waitFor(async () => (await pluginStatus(runtime, ID)).state === 'running', 'the plugin running');
  publish(runtime, [{ path: 'test.spoke', value: 1 }]);
  await waitFor(
    async () => (await pluginStatus(runtime, ID)).statusMessage === 'spoke refused',
    'the refusal reported',
  );
  t.false('radars/r1' in runtime.plugins.binaryStreams.status());
});

test(
  'a spoke from a plugin that is granted radarProvider but never registered as a radar provider is refused',
  spokeRefused,
  { [ID]: ['dataRead', 'radarProvider'] },
);

test('without the radarProvider grant a spoke is refused', spokeRefused);

test('with security on the stream upgrade needs a token', async (t) => {
  const { runtime, url, wsUrl } = await startSecuredRuntime(t, { guest: 'readonly' }, { pluginDirs: [await folder()] });
  await waitFor(() => runtime.plugins.runner(ID)?.currentState === 'running', 'the plugin running');
  const refused = await new Promise<number>((resolve) => {
    const ws = new WebSocket(`${wsUrl}${STREAM}`);
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('open', () => resolve(101));
    ws.once('error', () => undefined);
  });
  t.is(refused, 401);
  const token = await login(url, 'guest');
  const client = await binaryClient(wsUrl, `${STREAM}?token=${token}`);
  t.teardown(() => client.ws.close());
  await waitFor(
    () => (runtime.plugins.binaryStreams.status()[`plugins/${ID}/frames`]?.clients ?? 0) === 1,
    'the client registered',
  );
  publish(runtime, [{ path: 'test.tick', value: 1 }]);
  await waitFor(() => client.frames.length === 1, 'a frame');
});
