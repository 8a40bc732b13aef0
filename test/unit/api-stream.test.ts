import test from 'ava';
import WebSocket from 'ws';
import type { BusDelta } from '../../runtime/bus/bus.js';
import type { Delta } from '../../core/delta.js';
import { SERVER_VERSION } from '../../runtime/api/discovery.js';
import { startBareApi, TEST_SELF_URN, type BareApi } from '../helpers/runtime.js';
import { waitFor } from '../helpers/wait.js';

const SELF = `vessels.${TEST_SELF_URN}`;
const OTHER = 'vessels.urn:mrn:imo:mmsi:244000002';

interface Received {
  text: string;
  json: Record<string, unknown>;
}

/** A raw WebSocket client that keeps every message in order. */
class Client {
  readonly messages: Received[] = [];
  readonly closed: Promise<number>;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const text = String(data);
      this.messages.push({ text, json: JSON.parse(text) as Record<string, unknown> });
    });
    this.closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
  }

  static async open(api: BareApi, query = ''): Promise<Client> {
    const ws = new WebSocket(`${api.wsUrl}/signalk/v1/stream${query}`);
    const client = new Client(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return client;
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' || Buffer.isBuffer(msg) ? msg : JSON.stringify(msg));
  }

  deltas(): Delta[] {
    return this.messages.filter((m) => Array.isArray(m.json.updates)).map((m) => m.json as unknown as Delta);
  }

  errors(): string[] {
    return this.messages.filter((m) => typeof m.json.errorMessage === 'string').map((m) => String(m.json.errorMessage));
  }

  /** Every (context, path, value) received in deltas, in order. */
  values(): { context: string; path: string; value: unknown }[] {
    return this.deltas().flatMap((d) =>
      d.updates.flatMap((u) =>
        (u.values ?? []).map((v) => ({ context: String(d.context), path: v.path, value: v.value })),
      ),
    );
  }

  paths(): Set<string> {
    return new Set(this.values().map((v) => v.path));
  }

  /** Waits until a value at `path` (with `value`, if given) has arrived. */
  async until(path: string, value?: unknown): Promise<void> {
    await waitFor(
      () => this.values().some((v) => v.path === path && (value === undefined || v.value === value)),
      `${path}${value === undefined ? '' : `=${String(value)}`} on the stream`,
    );
  }
}

async function setup(
  t: { teardown(fn: () => Promise<void> | void): void },
  limits?: Parameters<typeof startBareApi>[0],
): Promise<BareApi> {
  const api = await startBareApi(limits);
  t.teardown(() => api.api.close());
  return api;
}

function open(t: { teardown(fn: () => void): void }, api: BareApi, query = ''): Promise<Client> {
  return Client.open(api, query).then((c) => {
    t.teardown(() => c.ws.terminate());
    return c;
  });
}

function publish(api: BareApi, values: Record<string, unknown>, context?: string): void {
  const delta: Record<string, unknown> = {
    updates: [
      {
        source: { label: 'test' },
        timestamp: new Date().toISOString(),
        values: Object.entries(values).map(([path, value]) => ({ path, value })),
      },
    ],
  };
  if (context) delta.context = context;
  const reason = api.bus.publish(delta, 'test');
  if (reason) throw new Error(reason);
}

/**
 * Subscribes `client` to a marker path and publishes the marker until it arrives: one socket keeps
 * order, so everything published before has been delivered by then.
 */
async function barrier(client: Client, api: BareApi, n: number): Promise<void> {
  client.send({ context: 'vessels.self', subscribe: [{ path: 'test.barrier' }] });
  await waitFor(async () => {
    publish(api, { 'test.barrier': n });
    await new Promise((r) => setTimeout(r, 20));
    return client.values().some((v) => v.path === 'test.barrier' && v.value === n);
  }, `barrier ${n}`);
}

test('hello comes first, then the cached self values; subscribe=self leaves other vessels out', async (t) => {
  const api = await setup(t);
  publish(api, { 'navigation.speedOverGround': 3.2, 'environment.depth.belowKeel': 7 });
  publish(api, { 'navigation.speedOverGround': 9 }, OTHER);

  const client = await open(t, api);
  await client.until('environment.depth.belowKeel');
  const hello = client.messages[0].json;
  t.like(hello, { name: 'signalk-edge', version: SERVER_VERSION, self: SELF, roles: ['master', 'main'] });
  t.false(Number.isNaN(Date.parse(String(hello.timestamp))));
  t.deepEqual(
    client.values().sort((a, b) => a.path.localeCompare(b.path)),
    [
      { context: SELF, path: 'environment.depth.belowKeel', value: 7 },
      { context: SELF, path: 'navigation.speedOverGround', value: 3.2 },
    ],
  );

  // Live: self deltas arrive, the other vessel's do not.
  publish(api, { 'navigation.speedOverGround': 10 }, OTHER);
  publish(api, { 'navigation.speedOverGround': 3.3 });
  await client.until('navigation.speedOverGround', 3.3);
  t.false(client.values().some((v) => v.context === OTHER));

  const noCache = await open(t, api, '?sendCachedValues=false');
  publish(api, { 'navigation.courseOverGroundTrue': 1 });
  await noCache.until('navigation.courseOverGroundTrue');
  t.deepEqual(
    noCache.values().map((v) => v.path),
    ['navigation.courseOverGroundTrue'],
  );
  t.is(Object.keys(noCache.messages[0].json).includes('roles'), true);
});

test('subscribe=none, then a subscribe message with a path wildcard: only matching values, filtered per update', async (t) => {
  const api = await setup(t);
  publish(api, { 'navigation.speedOverGround': 3.2, 'environment.wind.speedApparent': 5 });
  const client = await open(t, api, '?subscribe=none');
  publish(api, { 'navigation.speedOverGround': 3.4 });

  client.send({ context: 'vessels.self', subscribe: [{ path: 'navigation.*' }] });
  // Cached values of the new subscription: the latest speed, no wind.
  await client.until('navigation.speedOverGround', 3.4);
  t.is(client.messages[0].json.name, 'signalk-edge');
  t.deepEqual(client.values(), [{ context: SELF, path: 'navigation.speedOverGround', value: 3.4 }]);

  publish(api, {
    'environment.depth.belowKeel': 4,
    'navigation.headingTrue': 1.2,
    'environment.wind.speedApparent': 6,
  });
  publish(api, { 'environment.depth.belowKeel': 4.5 });
  publish(api, { 'navigation.position': { latitude: 1, longitude: 2 } });
  await client.until('navigation.position');
  t.deepEqual(
    client.values().map((v) => v.path),
    ['navigation.speedOverGround', 'navigation.headingTrue', 'navigation.position'],
  );
  // The mixed delta came out as one update holding only the matching value, source and timestamp kept.
  const mixed = client.deltas()[1];
  t.is(mixed.updates.length, 1);
  t.deepEqual(mixed.updates[0].values, [{ path: 'navigation.headingTrue', value: 1.2 }]);
  t.deepEqual(mixed.updates[0].source, { label: 'test' });
  t.is(typeof mixed.updates[0].timestamp, 'string');
});

test('context patterns: vessels.self vs * vs a wildcard, and subscribe=all', async (t) => {
  const api = await setup(t);
  const selfOnly = await open(t, api, '?subscribe=none');
  const everyone = await open(t, api, '?subscribe=none');
  const others = await open(t, api, '?subscribe=none');
  const all = await open(t, api, '?subscribe=all');
  selfOnly.send({ context: 'vessels.self', subscribe: [{ path: 'navigation.*' }] });
  everyone.send({ context: '*', subscribe: [{ path: 'navigation.*' }] });
  others.send({ context: 'vessels.urn:mrn:imo:mmsi:244*', subscribe: [{ path: '*' }] });
  // Subscriptions apply in message order, so a value published after this one round trip is seen by all.
  for (const c of [selfOnly, everyone, others]) c.send({ context: '*', subscribe: [{ path: 'test.ready' }] });
  await waitFor(async () => {
    publish(api, { 'test.ready': true });
    await new Promise((r) => setTimeout(r, 20));
    return [selfOnly, everyone, others].every((c) => c.paths().has('test.ready'));
  }, 'all subscriptions to be active');

  publish(api, { 'navigation.speedOverGround': 1 }, OTHER);
  publish(api, { 'navigation.speedOverGround': 2 });
  publish(api, { 'navigation.speedOverGround': 3 }, SELF);
  publish(api, { 'navigation.speedOverGround': 4 }, 'vessels.self');
  publish(api, { 'navigation.speedOverGround': 5 }, OTHER);
  for (const c of [selfOnly, everyone, all]) await c.until('navigation.speedOverGround', 5 - (c === selfOnly ? 1 : 0));
  await others.until('navigation.speedOverGround', 5);

  const sog = (c: Client) =>
    c
      .values()
      .filter((v) => v.path === 'navigation.speedOverGround')
      .map((v) => `${v.context === SELF ? 'self' : 'other'}:${String(v.value)}`);
  t.deepEqual(sog(selfOnly), ['self:2', 'self:3', 'self:4']);
  t.deepEqual(sog(everyone), ['other:1', 'self:2', 'self:3', 'self:4', 'other:5']);
  t.deepEqual(sog(all), ['other:1', 'self:2', 'self:3', 'self:4', 'other:5']);
  t.deepEqual(sog(others), ['other:1', 'other:5']);
  // Every delta names its context, also when the publisher left it out or wrote vessels.self.
  t.true(everyone.deltas().every((d) => d.context === SELF || d.context === OTHER));
});

test('a whole matching delta is sent as the bus encoded it (encoded once for all clients)', async (t) => {
  const api = await setup(t);
  const seen: BusDelta[] = [];
  api.bus.subscribe((m) => seen.push(m));
  const a = await open(t, api, '?subscribe=all');
  const b = await open(t, api, '?subscribe=all');
  publish(api, { 'navigation.speedOverGround': 7, 'navigation.headingTrue': 2 }, SELF);
  await a.until('navigation.headingTrue');
  await b.until('navigation.headingTrue');
  const text = (c: Client) => c.messages.find((m) => m.text.includes('headingTrue'))?.text;
  t.is(text(a), seen[0].json);
  t.is(text(b), seen[0].json);
});

test('clients with the same rows share one filtered delta; different or throttled rows get their own', async (t) => {
  const api = await setup(t);
  const a = await open(t, api, '?subscribe=none');
  const b = await open(t, api, '?subscribe=none');
  const narrower = await open(t, api, '?subscribe=none');
  const throttled = await open(t, api, '?subscribe=none');
  a.send({ context: 'vessels.self', subscribe: [{ path: 'navigation.*' }, { path: 'environment.depth.*' }] });
  // The same rows in another order and once twice: the same values.
  b.send({
    context: 'vessels.self',
    subscribe: [{ path: 'environment.depth.*' }, { path: 'navigation.*' }, { path: 'navigation.*' }],
  });
  narrower.send({ context: 'vessels.self', subscribe: [{ path: 'navigation.*' }] });
  throttled.send({ context: 'vessels.self', subscribe: [{ path: 'navigation.*', minPeriod: 60_000 }] });
  for (const [i, c] of [a, b, narrower, throttled].entries()) await barrier(c, api, i);
  for (let i = 1; i <= 3; i++)
    publish(api, {
      'navigation.speedOverGround': i,
      'environment.depth.belowKeel': i,
      'environment.wind.angleApparent': i,
    });
  await barrier(a, api, 10);
  await barrier(b, api, 11);
  await barrier(narrower, api, 12);
  await barrier(throttled, api, 13);
  const shown = (c: Client) =>
    c
      .values()
      .filter((v) => v.path !== 'test.barrier')
      .map((v) => `${v.path}=${String(v.value)}`);
  const both = [1, 2, 3].flatMap((i) => [`navigation.speedOverGround=${i}`, `environment.depth.belowKeel=${i}`]);
  t.deepEqual(shown(a), both);
  t.deepEqual(shown(b), both);
  t.deepEqual(shown(narrower), [
    'navigation.speedOverGround=1',
    'navigation.speedOverGround=2',
    'navigation.speedOverGround=3',
  ]);
  // minPeriod keeps its own state per client: the first value now, the rest held back.
  t.deepEqual(shown(throttled), ['navigation.speedOverGround=1']);
});

test('unsubscribe all stops every subscription, the default one included; a new subscribe works after it', async (t) => {
  const api = await setup(t);
  const client = await open(t, api, '?subscribe=self');
  client.send({ context: 'vessels.self', subscribe: [{ path: 'environment.*', policy: 'fixed', period: 50 }] });
  publish(api, { 'navigation.speedOverGround': 1, 'environment.depth.belowKeel': 3 });
  await client.until('navigation.speedOverGround', 1);
  client.send({ context: '*', unsubscribe: [{ path: '*' }] });
  await barrier(client, api, 1);
  const before = client.values().length;
  publish(api, { 'navigation.speedOverGround': 2, 'environment.depth.belowKeel': 4 });
  await barrier(client, api, 2);
  // Two periods of the (cancelled) fixed subscription: still nothing but the barrier values.
  await new Promise((r) => setTimeout(r, 150));
  await barrier(client, api, 3);
  const after = client.values().slice(before);
  t.deepEqual(new Set(after.map((v) => v.path)), new Set(['test.barrier']));

  // Removing one row by its exact context and path.
  client.send({ context: 'vessels.self', subscribe: [{ path: 'navigation.*' }] });
  client.send({ context: 'vessels.self', unsubscribe: [{ path: 'navigation.*' }] });
  client.send({ context: 'vessels.self', unsubscribe: [{ path: 'never.subscribed' }] });
  await waitFor(
    () => client.errors().some((e) => e.includes('never.subscribed')),
    'the unknown unsubscribe to be answered',
  );
  const mark = client.values().length;
  publish(api, { 'navigation.speedOverGround': 5 });
  await barrier(client, api, 4);
  t.false(
    client
      .values()
      .slice(mark)
      .some((v) => v.path === 'navigation.speedOverGround' && v.value === 5),
  );
});

test('policies: fixed resends every period, minPeriod throttles and keeps the latest, ideal resends a silent path', async (t) => {
  const api = await setup(t);
  publish(api, { 'navigation.speedOverGround': 4.2, 'navigation.headingTrue': 1, 'environment.depth.belowKeel': 9 });
  const fixed = await open(t, api, '?subscribe=none&sendCachedValues=false');
  const throttled = await open(t, api, '?subscribe=none&sendCachedValues=false');
  const ideal = await open(t, api, '?subscribe=none');
  fixed.send({
    context: 'vessels.self',
    subscribe: [{ path: 'navigation.speedOverGround', policy: 'fixed', period: 100 }],
  });
  ideal.send({ context: 'vessels.self', subscribe: [{ path: 'environment.depth.*', policy: 'ideal', period: 100 }] });
  throttled.send({
    context: 'vessels.self',
    subscribe: [{ path: 'navigation.headingTrue', minPeriod: 400 }, { path: 'test.barrier' }],
  });

  // Fixed: the unchanged value again and again, nothing else.
  await waitFor(() => fixed.values().length >= 4, 'four fixed-period sends');
  t.true(fixed.values().every((v) => v.path === 'navigation.speedOverGround' && v.value === 4.2));

  // Ideal: cached value at once, then resent while the path is silent.
  await waitFor(() => ideal.values().length >= 4, 'ideal resends of a silent path');
  t.true(ideal.values().every((v) => v.path === 'environment.depth.belowKeel' && v.value === 9));

  // minPeriod: a burst of 50 changes → the first at once, the last one after the period, few in between.
  await barrier(throttled, api, 1);
  for (let i = 0; i < 50; i++) publish(api, { 'navigation.headingTrue': i });
  await throttled.until('navigation.headingTrue', 49);
  const headings = throttled
    .values()
    .filter((v) => v.path === 'navigation.headingTrue')
    .map((v) => v.value);
  t.is(headings[0], 0);
  t.is(headings[headings.length - 1], 49);
  t.true(headings.length <= 5, `sent ${headings.length} of 50`);
});

test('garbage from a client is answered with errors and kills neither the connection nor the server', async (t) => {
  const api = await setup(t);
  const client = await open(t, api, '?subscribe=none&sendCachedValues=false');
  const bad: (string | Buffer)[] = [
    'not json',
    '[1,2,3]',
    '"just a string"',
    'null',
    '{"subscribe": "navigation.*"}',
    '{"context": 5, "subscribe": [{"path": "a"}]}',
    '{"context": "*", "unsubscribe": []}',
    '{"context": "*", "subscribe": [{"path": 7}, {"path": "x", "policy": "sometimes", "period": -3, "format": "full"}]}',
    '{"hello": 1}',
    Buffer.from([0xff, 0xfe, 0x00, 0x01]),
  ];
  for (const msg of bad) client.send(msg);
  client.send('{}');
  client.send({ context: 'vessels.self', subscribe: [{ path: 'navigation.speedOverGround' }] });
  await waitFor(() => client.errors().length >= 12, 'an error message per bad message or row');
  const errors = client.errors().join('\n');
  t.regex(errors, /not valid JSON/);
  t.regex(errors, /must be a JSON object/);
  t.regex(errors, /subscribe must be an array/);
  t.regex(errors, /context must be a non-empty string/);
  t.regex(errors, /unsubscribe must be a non-empty array/);
  t.regex(errors, /subscribe\[0\] must be an object with a non-empty string path/);
  t.regex(errors, /policy must be one of instant, ideal, fixed/);
  t.regex(errors, /period must be a number of milliseconds/);
  t.regex(errors, /only format "delta"/);
  t.regex(errors, /unsupported message \(keys: hello\)/);

  publish(api, { 'navigation.speedOverGround': 6 });
  await client.until('navigation.speedOverGround', 6);

  // An oversized message closes that connection (1009), and only that one.
  const big = await open(t, api, '?subscribe=none');
  big.send(JSON.stringify({ context: '*', subscribe: [{ path: 'x'.repeat(100_000) }] }));
  t.is(await big.closed, 1009);
  publish(api, { 'navigation.speedOverGround': 7 });
  await client.until('navigation.speedOverGround', 7);
  const fresh = await open(t, api);
  await fresh.until('navigation.speedOverGround', 7);
  t.is(fresh.messages[0].json.name, 'signalk-edge');
});

test('a client that stops reading: messages are dropped and counted, and it is disconnected when it stays stuck', async (t) => {
  const api = await setup(t, { streamLimits: { maxBufferedBytes: 64 * 1024, stuckCloseMs: 500 } });
  const healthy = await open(t, api, '?subscribe=none&sendCachedValues=false');
  await barrier(healthy, api, 0);
  healthy.send({ context: 'vessels.self', subscribe: [{ path: 'test.seq' }] });
  const stuck = await open(t, api, '?subscribe=self&sendCachedValues=false');
  stuck.ws.pause();
  const big = 'x'.repeat(16 * 1024);
  let n = 0;
  const pump = setInterval(() => {
    for (let i = 0; i < 4; i++) publish(api, { 'test.blob': big, 'test.seq': ++n });
  }, 10);
  t.teardown(() => clearInterval(pump));

  const status = async () =>
    (await (await fetch(`${api.url}/edge/v1/status`)).json()) as {
      stream: { clients: number; dropped: number; closedSlow: number };
    };
  await waitFor(async () => (await status()).stream.closedSlow === 1, 'the stuck client to be disconnected', 45_000);
  clearInterval(pump);
  const s = await status();
  t.true(s.stream.dropped > 0);
  await waitFor(async () => (await status()).stream.clients === 1, 'only the healthy client to remain', 20_000);
  // The healthy client kept receiving all along.
  const last = n;
  publish(api, { 'test.seq': last + 1 });
  await healthy.until('test.seq', last + 1);
  t.true(healthy.values().filter((v) => v.path === 'test.seq').length > 1);
});

test('a client that does not answer pings is disconnected; one that does stays', async (t) => {
  const api = await setup(t, { streamLimits: { heartbeatMs: 500 } });
  const answering = await open(t, api, '?subscribe=none');
  const silent = new WebSocket(`${api.wsUrl}/signalk/v1/stream?subscribe=none`, { autoPong: false });
  t.teardown(() => silent.terminate());
  const code = await new Promise<number>((resolve) => silent.once('close', (c) => resolve(c)));
  t.is(code, 1006);
  answering.send({ context: 'vessels.self', subscribe: [{ path: 'navigation.*' }] });
  publish(api, { 'navigation.speedOverGround': 1 });
  await answering.until('navigation.speedOverGround', 1);
  t.is(answering.ws.readyState, WebSocket.OPEN);
});
