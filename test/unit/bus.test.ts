import test from 'ava';
import { DeltaBus, type BusDelta } from '../../runtime/bus/bus.js';
import { parseDelta } from '../../runtime/bus/delta.js';
import { sourceRef } from '../../core/delta.js';
import { matchesPattern, contextMatcher, memoize } from '../../runtime/bus/subscription.js';
import { subscriptionFilter } from '../../runtime/plugins/subscriptions.js';

const SELF = 'vessels.urn:mrn:signalk:uuid:c0d79334-4e25-4245-8892-54e8ccc8021d';

const good = {
  context: 'vessels.self',
  updates: [
    {
      source: { label: 'nmea1', type: 'NMEA0183', talker: 'GP', sentence: 'RMC' },
      timestamp: '2026-01-01T00:00:00.000Z',
      values: [{ path: 'navigation.speedOverGround', value: 3.2 }],
    },
  ],
};

test('valid delta reaches every subscriber with one shared JSON encoding', (t) => {
  const bus = new DeltaBus(SELF);
  const seen: string[] = [];
  let first: BusDelta | undefined;
  bus.subscribe((m) => {
    first = m;
    seen.push(m.json);
  });
  bus.subscribe((m) => {
    t.true(m === first, 'both subscribers get the same message object');
    seen.push(m.json);
  });
  t.is(bus.publish(good, 'test'), undefined);
  t.is(seen.length, 2);
  t.is(seen[0], seen[1]);
  t.deepEqual(JSON.parse(seen[0]), { ...good, context: SELF }, 'vessels.self is resolved to the self context');
  t.is(bus.stats.accepted, 1);
});

test('malformed deltas are rejected with a reason and the bus goes on', (t) => {
  const bus = new DeltaBus(SELF);
  let delivered = 0;
  bus.subscribe(() => delivered++);
  const cases: [unknown, RegExp][] = [
    [null, /must be an object/],
    [{ updates: 'x' }, /updates must be an array/],
    [{ updates: [{ values: [{ path: 'a', value: Number.NaN }] }] }, /not JSON data/],
    [{ updates: [{ values: [{ path: 3, value: 1 }] }] }, /path must be a string/],
    [{ updates: [{ timestamp: 'yesterday', values: [] }] }, /timestamp/],
    [{ updates: [{ source: { label: 5 }, values: [] }] }, /source must be an object/],
    [{ context: 7, updates: [] }, /context must be a string/],
    [{ context: `vessels.${'x'.repeat(300)}`, updates: [] }, /context is longer than 256 characters/],
    [{ updates: [{}] }, /neither values nor meta/],
  ];
  for (const [input, reason] of cases) t.regex(bus.publish(input, 'test') ?? '', reason);
  t.is(bus.stats.rejected, cases.length);
  t.is(delivered, 0);
  t.is(bus.publish(good, 'test'), undefined);
  t.is(delivered, 1);
});

test('a throwing subscriber does not stop delivery to the others', (t) => {
  const bus = new DeltaBus(SELF);
  let got = 0;
  bus.subscribe(() => {
    throw new Error('boom');
  });
  bus.subscribe(() => got++);
  bus.publish(good, 'test');
  t.is(got, 1);
});

test('source reference is derived as signalk-server does', (t) => {
  t.is(sourceRef({ source: { label: 'nmea1', type: 'NMEA0183', talker: 'II' } }), 'nmea1.II');
  t.is(sourceRef({ source: { label: 'can0', type: 'NMEA2000', src: '3' } }), 'can0.3');
  t.is(sourceRef({ source: { label: 'true-wind', type: 'plugin' } }), 'true-wind');
  t.is(sourceRef({ $source: 'given.ref', source: { label: 'x' } }), 'given.ref');
  t.true(parseDelta(good).ok);
});

test('path and context patterns use * as any run of characters', (t) => {
  t.true(matchesPattern('navigation.*', 'navigation.position'));
  t.true(matchesPattern('navigation.*', 'navigation.courseOverGroundTrue'));
  t.false(matchesPattern('navigation.*', 'environment.depth.belowKeel'));
  t.true(matchesPattern('environment.wind.*', 'environment.wind.speedApparent'));
  t.false(matchesPattern('navigation.position', 'navigation.positionX'));
  t.true(matchesPattern('*', 'anything.at.all'));
  const self = 'vessels.urn:mrn:signalk:uuid:c0d79334-4e25-4245-8892-54e8ccc8021d';
  t.true(contextMatcher('vessels.self', self)(self));
  t.false(contextMatcher('vessels.self', self)('vessels.urn:mrn:imo:mmsi:230099999'));
  t.true(contextMatcher('vessels.*', self)('vessels.urn:mrn:imo:mmsi:230099999'));
  t.true(contextMatcher('*', self)('atons.urn:mrn:imo:mmsi:992359598'));
});

test('memoize: each key computed once, undefined results remembered too, and it starts over past its bound', (t) => {
  const calls: string[] = [];
  const f = memoize((k) => {
    calls.push(k);
    return k === 'none' ? undefined : k.length;
  });
  t.is(f('abc'), 3);
  t.is(f('abc'), 3);
  t.is(f('none'), undefined);
  t.is(f('none'), undefined);
  t.deepEqual(calls, ['abc', 'none']);
  for (let i = 0; i < 5000; i++) f(`k${i}`);
  t.is(f('abc'), 3);
  t.is(calls.filter((c) => c === 'abc').length, 2, 'forgotten once the bound was passed, then computed again');
});

test('plugin subscription filter: context and path patterns per delta, the same answers however often asked', (t) => {
  const filter = subscriptionFilter(
    [
      { context: 'vessels.self', path: 'navigation.*' },
      { context: 'vessels.urn:mrn:imo:mmsi:2*', path: 'navigation.position' },
    ],
    SELF,
    (c) => (c === undefined || c === 'vessels.self' ? SELF : c),
  );
  const delta = (context: string | undefined, ...paths: string[]) => ({
    context,
    updates: [{ values: paths.map((path) => ({ path, value: 1 })) }],
  });
  for (let round = 0; round < 3; round++) {
    t.true(filter(delta(undefined, 'environment.depth.belowKeel', 'navigation.headingTrue')));
    t.false(filter(delta(SELF, 'environment.depth.belowKeel')));
    t.true(filter(delta('vessels.urn:mrn:imo:mmsi:230000001', 'navigation.position')));
    t.false(filter(delta('vessels.urn:mrn:imo:mmsi:230000001', 'navigation.headingTrue')));
    t.false(filter(delta('vessels.urn:mrn:imo:mmsi:330000001', 'navigation.position')));
  }
  // Many AIS targets: every one still answered right (the remembered contexts start over).
  const targets = Array.from({ length: 5000 }, (_, i) => `vessels.urn:mrn:imo:mmsi:2${i}`);
  t.true(targets.every((c) => filter(delta(c, 'navigation.position')) && !filter(delta(c, 'navigation.log'))));
});
