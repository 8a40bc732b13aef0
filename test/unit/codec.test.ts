import test from 'ava';
import { readFileSync } from 'node:fs';
import { parseDelta } from '../../runtime/bus/delta.js';
import type { Delta, PathValue } from '../../core/delta.js';
import { DEMO_LOG } from '../../runtime/config/settings.js';
import { Nmea0183Codec, type Nmea0183Result } from '../../hal/codecs/nmea0183/codec.js';
import { checkSentence, nmeaChecksum, withChecksum } from '../../hal/codecs/nmea0183/sentence.js';
import { DeltaBus } from '../../runtime/bus/bus.js';
import { SourcePipeline } from '../../hal/sources/pipeline.js';

const DEG = Math.PI / 180;
const KNOT = 1852 / 3600;

function delta(r: Nmea0183Result): Delta {
  if (r.kind !== 'delta') throw new Error(`expected a delta, got ${JSON.stringify(r)}`);
  return r.delta;
}

function values(d: Delta): Record<string, unknown> {
  return Object.fromEntries((d.updates[0].values ?? []).map((pv) => [pv.path, pv.value]));
}

test('checksum: XOR between $ and *, appended as two upper-case hex digits', (t) => {
  // The reference sentence of the NMEA 0183 RMC description.
  const s = '$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W';
  t.is(nmeaChecksum(s), 0x6a);
  t.is(withChecksum(s), `${s}*6A`);
  t.true(checkSentence(`${s}*6a`).ok, 'lower-case hex is accepted');
});

test('RMC: position, course and speed in SI units, source labelled with the source id', (t) => {
  const codec = new Nmea0183Codec('gps1');
  const d = delta(codec.decode('$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A'));
  t.deepEqual(d.updates[0].source, { label: 'gps1', type: 'NMEA0183', talker: 'GP', sentence: 'RMC' });
  t.is(d.updates[0].timestamp, '1994-03-23T12:35:19.000Z');
  const v = values(d);
  t.deepEqual(v['navigation.position'], { latitude: 48.1173, longitude: 11 + 31 / 60 });
  t.true(Math.abs((v['navigation.speedOverGround'] as number) - 22.4 * KNOT) < 1e-3);
  t.true(Math.abs((v['navigation.courseOverGroundTrue'] as number) - 84.4 * DEG) < 1e-6);
});

test('wind, depth, heading and speed through water sentences', (t) => {
  const codec = new Nmea0183Codec('inst');
  const wind = values(delta(codec.decode(withChecksum('$IIMWV,045.0,R,12.5,N,A'))));
  t.true(Math.abs((wind['environment.wind.angleApparent'] as number) - 45 * DEG) < 1e-6);
  t.true(Math.abs((wind['environment.wind.speedApparent'] as number) - 12.5 * KNOT) < 1e-3);
  const dbt = values(delta(codec.decode('$IIDBT,035.53,f,010.83,M,005.85,F*23')));
  t.is(dbt['environment.depth.belowTransducer'], 10.83);
  const dpt = values(delta(codec.decode(withChecksum('$IIDPT,010.8,0.5,'))));
  t.is(dpt['environment.depth.belowSurface'], 11.3);
  const hdg = values(delta(codec.decode(withChecksum('$IIHDG,101.1,,,7.1,W'))));
  t.true(Math.abs((hdg['navigation.headingTrue'] as number) - 94 * DEG) < 1e-6);
  const vhw = values(delta(codec.decode(withChecksum('$IIVHW,,T,,M,06.12,N,11.33,K'))));
  t.true(Math.abs((vhw['navigation.speedThroughWater'] as number) - 6.12 * KNOT) < 1e-3);
});

test('bad lines are classified by what is wrong with them', (t) => {
  const codec = new Nmea0183Codec('x');
  const good = withChecksum('$IIMWV,045.0,R,12.5,N,A');
  const cases: [string, string][] = [
    [good.slice(0, -2) + (good.endsWith('00') ? '11' : '00'), 'checksum'],
    ['$IIMWV,045.0,R,12', 'truncated'], // no checksum
    [good.slice(0, -1), 'truncated'], // checksum cut short
    [good.slice(9), 'truncated'], // start lost
    ['$IIMWV,04' + good, 'truncated'], // line end lost, two sentences run together
    ['\\s:compass,c:1438489697*13', 'truncated'], // tag block without a sentence after it
    [good.slice(0, -2) + 'ZZ', 'garbage'],
    ['hello world', 'garbage'],
    [withChecksum('$,,,'), 'garbage'], // no header
    ['$GPRMC,123519,A,4807.038,N*57', 'unparsed'], // the library throws on the missing fields
    ['$GPGGA,123519,4807.038*45', 'invalid'], // the library makes NaN of the missing fields
  ];
  for (const [line, reason] of cases) {
    const r = codec.decode(line);
    t.like(r, { kind: 'error', reason }, line);
  }
});

test('valid sentences without a delta: unsupported type or no data', (t) => {
  const codec = new Nmea0183Codec('x');
  t.like(codec.decode(withChecksum('$IIXXX,1,2,3')), { kind: 'skip', reason: 'unsupported' });
  t.like(codec.decode(withChecksum('$PXYZA,1,2,3')), { kind: 'skip', reason: 'unsupported' });
  t.like(codec.decode(withChecksum('$GPVTG,,T,,M,,N,,K')), { kind: 'skip', reason: 'empty' });
  // The library returns an update with no values for an all-empty VHW: dropped, not published.
  t.like(codec.decode(withChecksum('$IIVHW,,T,,M,,N,,K')), { kind: 'skip', reason: 'empty' });
});

test('tag block: the sentence inside is parsed, time and talker taken from the block', (t) => {
  const d = delta(new Nmea0183Codec('x').decode('\\s:compass,c:1438489697*13\\$IIDBT,035.53,f,010.83,M,005.85,F*23'));
  t.is(values(d)['environment.depth.belowTransducer'], 10.83);
  t.is(d.updates[0].timestamp, '2015-08-02T04:28:17.000Z');
  t.like(d.updates[0].source, { label: 'x', talker: 'compass', sentence: 'DBT' });
});

test('every good line of the demo passage yields a delta the bus accepts; its bad lines are errors', (t) => {
  const codec = new Nmea0183Codec('demo');
  const lines = readFileSync(DEMO_LOG, 'latin1')
    .split(/\r?\n/)
    .filter((l) => l !== '');
  const reasons: Record<string, number> = {};
  let deltas = 0;
  for (const line of lines) {
    const r = codec.decode(line);
    if (r.kind === 'delta') {
      deltas++;
      t.true(parseDelta(r.delta).ok);
      t.false(JSON.stringify(r.delta).includes('null'), `no empty fields in ${line}`);
    } else reasons[`${r.kind}:${r.reason}`] = (reasons[`${r.kind}:${r.reason}`] ?? 0) + 1;
  }
  t.true(lines.length >= 300);
  t.is(deltas, lines.length - 3);
  t.deepEqual(reasons, { 'error:checksum': 1, 'error:truncated': 1, 'error:garbage': 1 });
});

// What plugins (delta_handler) and stream clients receive is the bus's JSON text of a codec delta.
// Recorded before the codec's fast paths (decision 0101): any change to it breaks
// plugins that compare text, so it must stay the same byte for byte.
const RECORDED_JSON: [string, string][] = [
  [
    '$GPRMC,101500.00,A,5046.1995,N,00118.0026,W,6.1,252.5,150624,1.2,W*52',
    '{"updates":[{"source":{"label":"nav","type":"NMEA0183","talker":"GP","sentence":"RMC"},"$source":"nav.GP","timestamp":"2024-06-15T10:15:00.000Z","values":[{"path":"navigation.position","value":{"latitude":50.76999166666667,"longitude":-1.3000433333333334}},{"path":"navigation.courseOverGroundTrue","value":4.40695636229192},{"path":"navigation.speedOverGround","value":3.1381119060994607},{"path":"navigation.magneticVariation","value":-0.02094395102871408},{"path":"navigation.magneticVariationAgeOfService","value":1718446500},{"path":"navigation.datetime","value":"2024-06-15T10:15:00.000Z"}]}],"context":"vessels.urn:mrn:imo:mmsi:230000099"}',
  ],
  [
    '$IIMWV,338,R,13.41,N,A*2C',
    '{"updates":[{"source":{"label":"nav","type":"NMEA0183","talker":"II","sentence":"MWV"},"$source":"nav.II","values":[{"path":"environment.wind.speedApparent","value":6.89870174767111},{"path":"environment.wind.angleApparent","value":-0.38397243552642474}]}],"context":"vessels.urn:mrn:imo:mmsi:230000099"}',
  ],
  [
    '$IIVHW,,T,,M,06.11,N,11.31,K*51',
    '{"updates":[{"source":{"label":"nav","type":"NMEA0183","talker":"II","sentence":"VHW"},"$source":"nav.II","values":[{"path":"navigation.speedThroughWater","value":3.143256351847165}]}],"context":"vessels.urn:mrn:imo:mmsi:230000099"}',
  ],
  [
    '\\s:r003669,c:1234567890*41\\$IIDBT,034.25,f,010.44,M,005.64,F*27',
    '{"updates":[{"source":{"label":"nav","type":"NMEA0183","talker":"r003669","sentence":"DBT"},"$source":"nav.r003669","timestamp":"2009-02-13T23:31:30.000Z","values":[{"path":"environment.depth.belowTransducer","value":10.44}]}],"context":"vessels.urn:mrn:imo:mmsi:230000099"}',
  ],
  [
    '!AIVDM,1,1,,A,13HOI:0P0000VOHLCnHQKwvL05Ip,0*23',
    '{"updates":[{"source":{"label":"nav","type":"NMEA0183","talker":"AI","sentence":"VDM"},"$source":"nav.AI","values":[{"path":"","value":{"mmsi":"227006760"}},{"path":"navigation.speedOverGround","value":0},{"path":"navigation.courseOverGroundTrue","value":0.6405358356281723},{"path":"navigation.state","value":"motoring"},{"path":"sensors.ais.class","value":"A"},{"path":"navigation.specialManeuver","value":"not available"},{"path":"navigation.position","value":{"longitude":0.13138,"latitude":49.47557666666667}}]}],"context":"vessels.urn:mrn:imo:mmsi:227006760"}',
  ],
];

test('a codec delta reaches plugins and clients as the recorded JSON text, byte for byte', (t) => {
  const bus = new DeltaBus('vessels.urn:mrn:imo:mmsi:230000099');
  const texts: string[] = [];
  bus.subscribe((msg) => texts.push(msg.json));
  const pipeline = new SourcePipeline('nav', new Nmea0183Codec('nav'), bus);
  for (const [line] of RECORDED_JSON) pipeline.push(line);
  t.deepEqual(pipeline.errors, {});
  t.deepEqual(
    texts,
    RECORDED_JSON.map(([, json]) => json),
  );
});

test("the codec's JSON encoder writes any value list exactly as JSON.stringify does", (t) => {
  const codec = new Nmea0183Codec('nav');
  const source = Object.freeze({ label: 'nav', type: 'NMEA0183', talker: 'GP', sentence: 'RMC' });
  class Wrapped {
    toJSON(): string {
      return 'wrapped';
    }
  }
  const lists: unknown[][] = [
    [
      { path: 'a.b', value: 1.5 },
      { path: 'a.c', value: { latitude: 1, longitude: -0 } },
    ],
    [
      { path: 'a.b', value: NaN },
      { path: 'a.c', value: -Infinity },
      { path: 'a.d', value: null },
    ],
    [{ value: 1, path: 'a.b' }], // the other key order
    [{ path: 'a.b', value: 1, extra: true }],
    [{ path: 'a.b' }, { path: 'a.c', value: undefined }],
    [{ path: 'a.b', value: 'text "quoted" \u2028' }],
    [Object.assign(new Wrapped(), { path: 'a.b', value: 2 })],
    [{ path: 'a.b', value: () => 1 }],
  ];
  for (const values of lists) {
    const delta = {
      updates: [{ source, $source: 'nav.GP', timestamp: '2024-06-15T10:15:00.000Z', values: values as PathValue[] }],
      context: 'vessels.urn:mrn:imo:mmsi:230000099',
    };
    t.is(codec.encoder.encode(delta), JSON.stringify(delta));
  }
});
