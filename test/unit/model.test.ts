import test from 'ava';
import { SignalKModel } from '../../runtime/model/model.js';

const urn = 'urn:mrn:signalk:uuid:c0d79334-4e25-4245-8892-54e8ccc8021d';

function rmc(label: string, talker: string, sog: number, ts: string) {
  return {
    updates: [
      {
        source: { label, type: 'NMEA0183', talker, sentence: 'RMC' },
        timestamp: ts,
        values: [{ path: 'navigation.speedOverGround', value: sog }],
      },
    ],
  };
}

test('values land in the full tree with timestamp and $source', (t) => {
  const m = new SignalKModel(urn);
  m.apply(rmc('nmea1', 'GP', 3.1, '2026-01-01T00:00:00.000Z'));
  const leaf = m.get(['vessels', 'self', 'navigation', 'speedOverGround']);
  const { meta, ...rest } = leaf as { meta?: { units?: string } };
  t.deepEqual(rest, { value: 3.1, timestamp: '2026-01-01T00:00:00.000Z', $source: 'nmea1.GP', sentence: 'RMC' });
  t.is(meta?.units, 'm/s', 'the leaf carries its schema metadata');
  t.is(m.get(['self']), `vessels.${urn}`);
  t.deepEqual(m.get(['sources', 'nmea1', 'GP']), { talker: 'GP', sentences: { RMC: '2026-01-01T00:00:00.000Z' } });
  t.is(m.get(['vessels', 'self', 'nope']), undefined);
});

test('a second source on one path adds values per source', (t) => {
  const m = new SignalKModel(urn);
  m.apply(rmc('nmea1', 'GP', 3.1, '2026-01-01T00:00:00.000Z'));
  m.apply(rmc('nmea2', 'II', 3.3, '2026-01-01T00:00:01.000Z'));
  const leaf = m.valueAt('vessels.self', 'navigation.speedOverGround');
  t.is(leaf?.value, 3.3);
  t.is(leaf?.$source, 'nmea2.II');
  t.deepEqual(Object.keys(leaf?.values ?? {}).sort(), ['nmea1.GP', 'nmea2.II']);
  t.is(leaf?.values?.['nmea1.GP'].value, 3.1);
  t.is(leaf?.values?.['nmea2.II'].value, 3.3);
});

test('empty path merges object values into the context; other contexts get their own node', (t) => {
  const m = new SignalKModel(urn);
  m.apply({
    context: 'vessels.urn:mrn:imo:mmsi:230099999',
    updates: [
      {
        source: { label: 'ais' },
        values: [
          { path: '', value: { name: 'Merikarhu', mmsi: '230099999' } },
          { path: 'navigation.speedOverGround', value: 5 },
        ],
      },
    ],
  });
  t.is(m.get(['vessels', 'urn:mrn:imo:mmsi:230099999', 'name']), 'Merikarhu');
  t.is(m.valueAt('vessels.urn:mrn:imo:mmsi:230099999', 'navigation.speedOverGround')?.value, 5);
  t.deepEqual(
    [...m.current()].map((c) => c.path),
    ['navigation.speedOverGround'],
  );
});

test('prototype-polluting paths are ignored', (t) => {
  const m = new SignalKModel(urn);
  m.apply({
    updates: [
      {
        source: { label: 'x' },
        values: [
          { path: '__proto__.polluted', value: 1 },
          { path: 'a.constructor.prototype', value: 2 },
        ],
      },
    ],
  });
  m.apply({ context: 'vessels.__proto__', updates: [{ source: { label: 'x' }, values: [{ path: 'b', value: 1 }] }] });
  t.is(({} as Record<string, unknown>).polluted, undefined);
  t.is([...m.current()].length, 0);
});
