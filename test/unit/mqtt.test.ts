import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { brokerFilters } from '../../hal/net/broker-filters.js';
import { parsePayload, contextId } from '../../runtime/mqtt/bridge.js';
import { MqttConnection, MqttUnavailableError } from '../../hal/net/mqtt-connection.js';
import type { MqttStatus } from '../../runtime/mqtt/service.js';
import type { MqttPublishRule, MqttSettings } from '../../runtime/mqtt/settings.js';
import { parseSettings } from '../../runtime/config/settings.js';
import { SettingsError } from '../../core/settings-reader.js';
import { startBroker, type TestBroker } from '../helpers/mqtt-broker.js';
import { replaySource, startTestRuntime, type TestRuntime } from '../helpers/runtime.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';

const KNOTS = 1852 / 3600;
const DEG = Math.PI / 180;
/** The test runtime's self vessel is urn:mrn:imo:mmsi:230000001. */
const SELF_TOPIC = 'signalk/230000001';
/** Speed over ground to its Signal K topic, as the bridge tests publish it. */
const SOG_RULE: MqttPublishRule = {
  path: 'navigation.speedOverGround',
  topic: 'signalk/{id}/{path}',
  qos: 0,
  retain: false,
  context: 'vessels.self',
};

/** RMC (position, SOG 6.1 kn), MWV (35°, 15.5 kn apparent) and DBT (12.0 m), replayed in a loop. */
const PASSAGE = [
  '$GPRMC,101500.00,A,5046.1995,N,00118.0026,W,6.1,252.5,150624,1.2,W*52',
  '$IIMWV,35.0,R,15.5,N,A*3A',
  '$IIDBT,39.4,f,12.0,M,6.6,F*1C',
].join('\r\n');

interface Received {
  topic: string;
  payload: Buffer;
  retain: boolean;
}

/** A plain MQTT client on the test side, recording what it receives. */
async function client(
  t: { teardown(fn: () => Promise<void>): void },
  broker: TestBroker,
  filter?: string,
): Promise<{ client: MqttClient; got: Received[] }> {
  const c = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
  t.teardown(() => c.endAsync(true));
  const got: Received[] = [];
  c.on('message', (topic, payload, packet) => got.push({ topic, payload, retain: packet.retain }));
  if (filter !== undefined) await c.subscribeAsync(filter);
  return { client: c, got };
}

function lastOn(got: Received[], topic: string): unknown {
  for (let i = got.length - 1; i >= 0; i--)
    if (got[i].topic === topic) return JSON.parse(got[i].payload.toString('utf8'));
  return undefined;
}

/** The `mqtt` part of /edge/v1/status: connection and bridge. */
async function mqttStatus(rt: TestRuntime): Promise<MqttStatus> {
  const res = await fetch(`${rt.url}/edge/v1/status`);
  const body = (await res.json()) as { mqtt?: MqttStatus };
  if (body.mqtt === undefined) throw new Error('no mqtt in /edge/v1/status');
  return body.mqtt;
}

async function startWithBroker(
  t: { teardown(fn: () => Promise<void>): void },
  broker: TestBroker,
  mqttSettings: Omit<MqttSettings, 'url'>,
  dir?: string,
): Promise<TestRuntime> {
  const sources = [];
  if (dir !== undefined) {
    const file = join(dir, 'passage.nmea');
    writeFileSync(file, PASSAGE + '\r\n');
    sources.push(replaySource('log', file, { rate: 'realtime', linesPerSecond: 40, loop: true }));
  }
  const rt = await startTestRuntime({ sources, mqtt: { url: broker.url, ...mqttSettings } });
  t.teardown(() => rt.stop());
  return rt;
}

test('brokerFilters leaves out covered filters and gives the coverer their highest QoS', (t) => {
  t.deepEqual(
    brokerFilters(
      new Map([
        ['boat/+/temp', 1],
        ['boat/b/#', 0],
        ['other', 2],
      ]),
    ),
    new Map([
      ['boat/+/temp', 1],
      ['boat/b/#', 0],
      ['other', 2],
    ]),
  );
  t.deepEqual(
    brokerFilters(
      new Map([
        ['boat/+/temp', 1],
        ['boat/#', 0],
        ['boat/b/#', 2],
        ['other', 0],
      ]),
    ),
    new Map([
      ['boat/#', 2],
      ['other', 0],
    ]),
  );
  // `#` and `+/#` match the same topics: one of them is enough.
  t.deepEqual(
    brokerFilters(
      new Map([
        ['+/#', 1],
        ['#', 0],
      ]),
    ),
    new Map([['#', 1]]),
  );
});

test('MqttConnection: listeners share subscriptions, covered filters are not asked of the broker, messages reach every matching listener once', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.close());
  const subscribed: [string, number][] = [];
  const unsubscribed: string[] = [];
  broker.aedes.on('subscribe', (subs, c) => {
    if (c.id === 'edge-routing') subscribed.push(...subs.map((s): [string, number] => [s.topic, s.qos]));
  });
  broker.aedes.on('unsubscribe', (topics, c) => {
    if (c.id === 'edge-routing') unsubscribed.push(...topics);
  });
  const conn = new MqttConnection({ url: broker.url, clientId: 'edge-routing' });
  conn.connect();
  t.teardown(() => conn.close());
  await waitFor(() => conn.state === 'connected', 'the connection');

  const got = { a1: [] as string[], a2: [] as string[], b: [] as string[], all: [] as string[] };
  const offA1 = conn.subscribe('boat/+/temp', 0, (topic) => got.a1.push(topic));
  const offA2 = conn.subscribe('boat/+/temp', 1, (topic) => got.a2.push(topic));
  conn.subscribe('boat/b/#', 0, (topic) => got.b.push(topic));
  await waitFor(() => conn.status().subscriptions === 2, 'two broker subscriptions');
  // The second listener asked for QoS 1: the filter was subscribed again at QoS 1.
  t.deepEqual(subscribed, [
    ['boat/+/temp', 0],
    ['boat/+/temp', 1],
    ['boat/b/#', 0],
  ]);

  const offAll = conn.subscribe('boat/#', 0, (topic) => got.all.push(topic));
  await waitFor(
    () => unsubscribed.length === 2 && conn.status().subscriptions === 1,
    'boat/# to replace the filters it covers',
  );
  t.deepEqual(subscribed.at(-1), ['boat/#', 1]);
  t.deepEqual(unsubscribed.sort(), ['boat/+/temp', 'boat/b/#']);
  t.like(conn.status(), { state: 'connected', filters: 3, subscriptions: 1 });

  const { client: pub } = await client(t, broker);
  for (const topic of ['boat/a/temp', 'boat/b/x', 'other/topic', 'boat/b/temp']) await pub.publishAsync(topic, '1');
  await waitFor(() => got.all.length === 3, 'three messages under boat/#');
  t.deepEqual(got.all, ['boat/a/temp', 'boat/b/x', 'boat/b/temp']);
  t.deepEqual(got.a1, ['boat/a/temp', 'boat/b/temp']);
  t.deepEqual(got.a2, ['boat/a/temp', 'boat/b/temp']);
  t.deepEqual(got.b, ['boat/b/x', 'boat/b/temp']);
  t.is(conn.status().counters.received, 3);

  // Taking boat/# away brings back the narrower filters before boat/# goes.
  offAll();
  await waitFor(
    () => unsubscribed.includes('boat/#') && conn.status().subscriptions === 2,
    'the narrower filters again',
  );
  const before = unsubscribed.length;
  offA1();
  offA2();
  await waitFor(() => unsubscribed.at(-1) === 'boat/+/temp', 'boat/+/temp unsubscribed with its last listener');
  // One UNSUBSCRIBE for the two removals: the first left a listener.
  t.deepEqual(unsubscribed.slice(before), ['boat/+/temp']);
  // Sent in this order by one client: when boat/b/y arrives, boat/a/temp would have arrived before it.
  await pub.publishAsync('boat/a/temp', '2');
  await pub.publishAsync('boat/b/y', '3');
  await waitFor(() => got.b.length === 3, 'boat/b/y');
  t.deepEqual(got.a1, ['boat/a/temp', 'boat/b/temp']);
  t.deepEqual(got.a2, ['boat/a/temp', 'boat/b/temp']);
  t.like(conn.status(), { filters: 1, subscriptions: 1 });
});

test('MqttConnection: a filter the broker refuses does not stand in for the narrower filters it covers', async (t) => {
  // An ACL that refuses `#` to everyone.
  const broker = await startBroker(0, {
    authorizeSubscribe: (_client, sub, done) => done(null, sub.topic === '#' ? null : sub),
  });
  t.teardown(() => broker.close());
  const conn = new MqttConnection({ url: broker.url });
  conn.connect();
  t.teardown(() => conn.close());
  await waitFor(() => conn.state === 'connected', 'the connection');
  const all: string[] = [];
  const temp: string[] = [];
  conn.subscribe('#', 0, (topic) => all.push(topic));
  conn.subscribe('boat/temp', 0, (topic) => temp.push(topic));
  await waitFor(() => conn.status().subscriptions === 1, 'boat/temp subscribed in place of the refused #');
  t.is(conn.lastError, 'subscribe #: refused by the broker');
  const { client: pub } = await client(t, broker);
  await pub.publishAsync('boat/temp', '20');
  await waitFor(() => temp.length === 1, 'the boat/temp message');
  t.deepEqual(temp, ['boat/temp']);
  // The local `#` listener sees what arrives for the filters it covers, nothing more.
  t.deepEqual(all, ['boat/temp']);
});

test('MqttConnection offline: QoS 0 is dropped with a clear error, QoS 1 waits in a bounded queue (oldest dropped) and goes out on connect', async (t) => {
  const first = await startBroker();
  const port = first.port;
  await first.close();
  const conn = new MqttConnection({
    url: `mqtt://127.0.0.1:${port}`,
    clientId: 'edge-offline',
    reconnectMs: 100,
    maxQueued: 3,
  });
  conn.connect();
  t.teardown(() => conn.close());
  await waitFor(() => conn.state === 'reconnecting', 'the connection to fail');
  t.regex(conn.lastError ?? '', /ECONNREFUSED|closed/);

  await t.throwsAsync(conn.publish('edge/q0', 'x'), {
    instanceOf: MqttUnavailableError,
    message: /^not connected to mqtt:\/\/127\.0\.0\.1:\d+ \(reconnecting\); QoS 0 message to edge\/q0 dropped$/,
  });
  const results = ['1', '2', '3', '4'].map((payload) =>
    conn.publish('edge/q1', payload, { qos: 1 }).then(() => payload),
  );
  await t.throwsAsync(results[0], {
    instanceOf: MqttUnavailableError,
    message: /offline queue .* full \(3\); oldest message, to edge\/q1, dropped/,
  });
  t.like(conn.status().counters, { queued: 3, dropped: 2, published: 0 });
  await t.throwsAsync(conn.publish('edge/+', 'x'), { message: 'topic "edge/+" contains a wildcard (+ or #)' });
  // post(): the same outcome through a callback, called once and at once when nothing can be sent.
  const outcomes: (Error | undefined)[] = [];
  conn.post('edge/q0', 'x', {}, (err) => outcomes.push(err));
  t.is(outcomes.length, 1);
  t.true(outcomes[0] instanceof MqttUnavailableError);
  t.regex(outcomes[0]?.message ?? '', /QoS 0 message to edge\/q0 dropped$/);

  const broker = await startBroker(port);
  t.teardown(() => broker.close());
  const arrived: string[] = [];
  broker.aedes.on('publish', (packet, c) => {
    if (c?.id === 'edge-offline') arrived.push(`${packet.topic}=${packet.payload.toString()}@${packet.qos}`);
  });
  t.deepEqual(await Promise.all(results.slice(1)), ['2', '3', '4']);
  t.deepEqual(arrived, ['edge/q1=2@1', 'edge/q1=3@1', 'edge/q1=4@1']);
  t.like(conn.status(), { state: 'connected', counters: { queued: 0, dropped: 4, published: 3 } });
  t.is(conn.lastError, undefined);
});

test('bridge out: replayed NMEA values arrive on their topics as JSON; a retained QoS 1 rule leaves the last value on the broker', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.close());
  const { got } = await client(t, broker, '#');
  const rt = await startWithBroker(
    t,
    broker,
    {
      username: 'boat',
      password: 's3cret',
      publish: [
        SOG_RULE,
        { path: 'environment.wind.*', topic: 'boat/wind/{path}', qos: 0, retain: false, context: 'vessels.self' },
        { path: 'navigation.position', topic: 'boat/position', qos: 1, retain: true, context: 'vessels.self' },
      ],
      subscribe: [],
    },
    tempDir(t, 'ske-mqtt-'),
  );

  const sog = `${SELF_TOPIC}/navigation/speedOverGround`;
  await waitFor(
    () =>
      lastOn(got, sog) !== undefined &&
      lastOn(got, 'boat/wind/environment/wind/speedApparent') !== undefined &&
      lastOn(got, 'boat/position') !== undefined,
    'the bridged values',
  );
  // The log repeats the same values: each payload is exactly the model's value, which is the sentence's.
  const model = (path: string): unknown => rt.runtime.model.valueAt('vessels.self', path)?.value;
  t.is(lastOn(got, sog), model('navigation.speedOverGround'));
  t.is(lastOn(got, 'boat/wind/environment/wind/angleApparent'), model('environment.wind.angleApparent'));
  t.is(lastOn(got, 'boat/wind/environment/wind/speedApparent'), model('environment.wind.speedApparent'));
  t.deepEqual(lastOn(got, 'boat/position'), model('navigation.position'));
  t.true(Math.abs(Number(lastOn(got, sog)) - 6.1 * KNOTS) < 1e-5);
  t.true(Math.abs(Number(lastOn(got, 'boat/wind/environment/wind/angleApparent')) - 35 * DEG) < 1e-9);
  t.true(Math.abs(Number(lastOn(got, 'boat/wind/environment/wind/speedApparent')) - 15.5 * KNOTS) < 1e-5);
  t.like(lastOn(got, 'boat/position'), { latitude: 50 + 46.1995 / 60, longitude: -(1 + 18.0026 / 60) });
  // Only the selected paths: depth, course and the rest stay off the broker.
  const topics = new Set(got.map((m) => m.topic));
  t.deepEqual(
    [...topics].sort(),
    [
      sog,
      'boat/position',
      'boat/wind/environment/wind/angleApparent',
      'boat/wind/environment/wind/speedApparent',
    ].sort(),
  );

  // A client arriving later gets the retained position at once.
  const late = await client(t, broker, 'boat/position');
  // Live messages may come first: the retained one is the one flagged so.
  const retained = await waitFor(() => late.got.find((m) => m.retain), 'the retained position');
  t.deepEqual(JSON.parse(retained.payload.toString('utf8')), model('navigation.position'));

  const res = await fetch(`${rt.url}/edge/v1/status`);
  const text = await res.text();
  t.false(text.includes('s3cret'), 'no password in the status');
  const status = (JSON.parse(text) as { mqtt: MqttStatus }).mqtt;
  t.like(status, { url: broker.url, state: 'connected', bridge: { in: { received: 0, applied: 0, invalid: {} } } });
  t.true(status.counters.published > 0 && status.bridge.out.published > 0);
  t.is(status.bridge.out.skipped, 0);
});

test('bridge in: subscribed topics become model values; bad payloads are counted by reason and the bridge goes on', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.close());
  const rt = await startWithBroker(t, broker, {
    publish: [],
    subscribe: [
      { topic: 'sensors/+/temperature', path: 'environment.inside.temperature', qos: 0 },
      { topic: 'sensors/bilge', path: 'environment.bilge.level', qos: 1 },
    ],
  });
  await waitFor(async () => (await mqttStatus(rt)).subscriptions === 2, 'the bridge subscriptions');
  const { client: pub } = await client(t, broker);
  const model = rt.runtime.model;

  await pub.publishAsync('sensors/cabin/temperature', '294.15');
  await pub.publishAsync('sensors/bilge', '.5'); // a plain number JSON would refuse
  await waitFor(() => model.valueAt('vessels.self', 'environment.bilge.level'), 'the bilge level');
  t.like(model.valueAt('vessels.self', 'environment.inside.temperature'), { value: 294.15, $source: 'mqtt' });
  t.like(model.valueAt('vessels.self', 'environment.bilge.level'), { value: 0.5, $source: 'mqtt' });

  for (const bad of ['warm', '', Buffer.from([0xff, 0xfe, 0x31]), '1e999', '{"t": 1'])
    await pub.publishAsync('sensors/cabin/temperature', bad);
  await pub.publishAsync('sensors/cabin/temperature', '{"celsius": 22}');
  await waitFor(
    () => typeof model.valueAt('vessels.self', 'environment.inside.temperature')?.value === 'object',
    'the value after the bad ones',
  );
  t.deepEqual(model.valueAt('vessels.self', 'environment.inside.temperature')?.value, { celsius: 22 });
  const { bridge, state } = await mqttStatus(rt);
  t.deepEqual(bridge.in, {
    received: 8,
    applied: 3,
    invalid: { 'not JSON': 2, empty: 1, 'not UTF-8': 1, rejected: 1 },
  });
  t.regex(bridge.lastError ?? '', /^not JSON: sensors\/cabin\/temperature: neither JSON nor a number: "\{\\"t\\": 1"$/);
  t.is(state, 'connected');
});

test('bridge reconnects after the broker is closed and reopened on the same port, subscriptions included', async (t) => {
  const first = await startBroker();
  const port = first.port;
  const rt = await startWithBroker(
    t,
    first,
    {
      publish: [SOG_RULE],
      subscribe: [{ topic: 'sensors/cabin/temperature', path: 'environment.inside.temperature', qos: 1 }],
    },
    tempDir(t, 'ske-mqtt-'),
  );
  const sog = `${SELF_TOPIC}/navigation/speedOverGround`;
  const before = await client(t, first, sog);
  await waitFor(() => before.got.length > 0, 'SOG on the first broker');

  await first.close();
  await waitFor(() => rt.runtime.mqtt?.state === 'reconnecting', 'the bridge to notice');
  t.truthy(rt.runtime.mqtt?.lastError);
  // While the broker is away, QoS 0 values are dropped and counted, not queued.
  const away = await waitFor(async () => {
    const s = await mqttStatus(rt);
    return s.bridge.out.failed > 0 && s;
  }, 'dropped values');
  t.true(away.counters.dropped >= away.bridge.out.failed);
  t.is(away.counters.queued, 0);

  const second = await startBroker(port);
  t.teardown(() => second.close());
  await waitFor(
    () => rt.runtime.mqtt?.state === 'connected' && rt.runtime.mqtt.status().subscriptions === 1,
    'the bridge back on the broker',
  );
  t.is(rt.runtime.mqtt?.lastError, undefined);
  const after = await client(t, second, sog);
  await waitFor(() => after.got.length > 0, 'SOG on the reopened broker');
  t.is(lastOn(after.got, sog), rt.runtime.model.valueAt('vessels.self', 'navigation.speedOverGround')?.value);
  const { client: pub } = await client(t, second);
  await pub.publishAsync('sensors/cabin/temperature', '293', { qos: 1 });
  await waitFor(
    () => rt.runtime.model.valueAt('vessels.self', 'environment.inside.temperature')?.value === 293,
    'a subscribed value after the reconnect',
  );
});

test('payloads: JSON values and plain numbers, everything else refused with a reason', (t) => {
  t.deepEqual(parsePayload(Buffer.from(' 12.5 ')), { ok: true, value: 12.5 });
  t.deepEqual(parsePayload(Buffer.from('-.5e1')), { ok: true, value: -5 });
  t.deepEqual(parsePayload(Buffer.from('12.')), { ok: true, value: 12 });
  t.deepEqual(parsePayload(Buffer.from('"open"')), { ok: true, value: 'open' });
  t.deepEqual(parsePayload(Buffer.from('[1,null,true]')), { ok: true, value: [1, null, true] });
  t.like(parsePayload(Buffer.from('0x10')), { ok: false, reason: 'not JSON' });
  t.like(parsePayload(Buffer.from('NaN')), { ok: false, reason: 'not JSON' });
  t.like(parsePayload(Buffer.alloc(64 * 1024 + 1, 0x31)), { ok: false, reason: 'too large' });
  t.is(
    contextId('vessels.urn:mrn:signalk:uuid:c0d79334-4e25-4245-8892-54e8ccc8021d'),
    'c0d79334-4e25-4245-8892-54e8ccc8021d',
  );
  t.is(contextId('vessels.urn:mrn:imo:mmsi:230000001'), '230000001');
  t.is(contextId('atons.urn:mrn:imo:mmsi:992351000'), 'atons.992351000');
});

test('mqtt settings: defaults filled in, errors name the key', (t) => {
  const s = parseSettings(
    {
      mqtt: {
        url: 'mqtt://broker.local',
        publish: [{ path: 'navigation.*' }],
        subscribe: [{ topic: 'a/+/b', path: 'environment.x' }],
      },
    },
    '/etc/s.json',
  );
  t.deepEqual(s.mqtt, {
    url: 'mqtt://broker.local',
    publish: [{ path: 'navigation.*', topic: 'signalk/{id}/{path}', qos: 0, retain: false, context: 'vessels.self' }],
    subscribe: [{ topic: 'a/+/b', path: 'environment.x', qos: 0 }],
  });
  const fails = (mqttValue: unknown, message: string): void => {
    t.throws(() => parseSettings({ mqtt: mqttValue }, '/etc/s.json'), {
      instanceOf: SettingsError,
      message: `/etc/s.json: ${message}`,
    });
  };
  fails(
    { url: 'http://x' },
    'mqtt.url: must be a broker URL like mqtt://host:1883 (mqtt, mqtts, ws, wss), got "http://x"',
  );
  fails(
    { url: 'mqtt://x', publish: [{ path: 'a' }, { path: 'b' }, { path: 'c', qos: 3 }] },
    'mqtt.publish[2].qos: must be one of 0, 1, 2, got 3',
  );
  fails(
    { url: 'mqtt://x', publish: [{ path: 'a', topic: 'a/#/{path}' }] },
    'mqtt.publish[0].topic: topic "a/#/x" contains a wildcard (+ or #)',
  );
  fails(
    { url: 'mqtt://x', subscribe: [{ topic: 'a/#/b', path: 'x.y' }] },
    'mqtt.subscribe[0].topic: topic filter "a/#/b": # must be a whole level and the last one',
  );
  fails(
    { url: 'mqtt://x', subscribe: [{ topic: 'a', path: 'x.*' }] },
    'mqtt.subscribe[0].path: must be a Signal K path like environment.inside.temperature, got "x.*"',
  );
  fails({ url: 'mqtt://x', subscribe: {} }, 'mqtt.subscribe: must be an array, got object');
  fails(
    { url: 'mqtt://x', retain: true },
    'mqtt.retain: unknown key (allowed: url, clientId, username, password, publish, subscribe)',
  );
});
