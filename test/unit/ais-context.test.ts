// Every delta keeps the vessel it is about: AIS targets from NMEA 0183 (VDM) and NMEA 2000 (129038,
// 129039, 129794, 129793) land under their own contexts and never on self; the own ship's AIS
// broadcast (VDO) reaches self only when its MMSI is the self vessel's. Real recordings (see
// test/fixtures/ais/README.md and test/fixtures/can/README.md); expected positions are decoded from
// the AIS payload bits here, independently of the libraries under test.

import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';
import { pgnOf } from '../../hal/can/frame.js';
import { EXAMPLES, IDS, pluginFolder, pluginStatus, publish } from '../helpers/plugins.js';
import { startTestRuntime, type TestRuntime } from '../helpers/runtime.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';

const AIS = join(PROJECT_ROOT, 'test', 'fixtures', 'ais');
const VDM_LOG = join(AIS, 'aishub-sample.nmea');
const VDO_LOG = join(AIS, 'own-vdo.nmea');
const CAN_LOG = join(PROJECT_ROOT, 'test', 'fixtures', 'can', 'candumpSample3.txt');
const UUID_SELF = 'urn:mrn:signalk:uuid:6b0e4f0e-8f3a-4c1e-9d55-2f0c1a7e9b21';

type Position = { latitude: number; longitude: number };

/** The AIS payload's 6-bit characters as a bit string (ITU-R M.1371 armouring). */
function payloadBits(line: string): string {
  const payload = line.split(',')[5];
  let bits = '';
  for (const ch of payload) {
    let v = ch.charCodeAt(0) - 48;
    if (v > 40) v -= 8;
    bits += v.toString(2).padStart(6, '0');
  }
  return bits;
}

function field(bits: string, start: number, len: number, signed = false): number {
  const v = parseInt(bits.slice(start, start + len), 2);
  return signed && bits[start] === '1' ? v - 2 ** len : v;
}

/** MMSI and position of a class A position report (message types 1-3), or undefined for other types. */
function classAReport(line: string): { mmsi: number; position: Position } | undefined {
  const bits = payloadBits(line);
  const type = field(bits, 0, 6);
  if (type < 1 || type > 3 || line.split(',')[1] !== '1') return undefined;
  const longitude = field(bits, 61, 28, true) / 600000;
  const latitude = field(bits, 89, 27, true) / 600000;
  if (Math.abs(longitude) > 180 || Math.abs(latitude) > 90) return undefined; // 181/91: not available
  return { mmsi: field(bits, 8, 30), position: { latitude, longitude } };
}

function lines(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .filter((l) => l !== '');
}

function mmsiContext(mmsi: number): string {
  return `vessels.urn:mrn:imo:mmsi:${String(mmsi).padStart(9, '0')}`;
}

async function sourceEnded(
  rt: TestRuntime,
  id: string,
): Promise<{ lines: number; deltas: number; errors: Record<string, number> }> {
  return waitFor(async () => {
    const body = (await (await fetch(`${rt.url}/edge/v1/status`)).json()) as {
      sources: { id: string; state: string; lines: number; deltas: number; errors: Record<string, number> }[];
    };
    const s = body.sources.find((x) => x.id === id);
    return s?.state === 'ended' ? s : undefined;
  }, `source ${id} to end`);
}

async function restSelf(rt: TestRuntime): Promise<Record<string, unknown>> {
  return (await (await fetch(`${rt.url}/signalk/v1/api/vessels/self`)).json()) as Record<string, unknown>;
}

function near(a: Position, b: Position): boolean {
  return Math.abs(a.latitude - b.latitude) < 1e-6 && Math.abs(a.longitude - b.longitude) < 1e-6;
}

test('an AIVDM replay puts every target under its own context; self and the trip log stay untouched', async (t) => {
  const plugins = await pluginFolder([{ from: EXAMPLES, name: 'trip-log' }]);
  const rt = await startTestRuntime({
    selfUrn: UUID_SELF,
    pluginDirs: [plugins],
    sources: [{ id: 'ais', type: 'replay', file: VDM_LOG, rate: 'fast', linesPerSecond: 10, loop: false }],
  });
  t.teardown(rt.stop);
  const status = await sourceEnded(rt, 'ais');
  t.is(status.lines, lines(VDM_LOG).length);
  t.deepEqual(status.errors, {});
  t.true(status.deltas > 40, `${status.deltas} deltas`);

  // Self: only what the model always holds, no navigation from any target.
  const self = await restSelf(rt);
  t.deepEqual(Object.keys(self).sort(), ['uuid']);

  // Each class A report's position is its own vessel's (the last report of that MMSI wins).
  const expected = new Map<number, Position>();
  for (const line of lines(VDM_LOG)) {
    const r = classAReport(line);
    if (r) expected.set(r.mmsi, r.position);
  }
  t.true(expected.size >= 20, `${expected.size} class A targets`);
  for (const [mmsi, position] of expected) {
    const leaf = rt.runtime.model.valueAt(mmsiContext(mmsi), 'navigation.position');
    t.truthy(leaf, `position of ${mmsi}`);
    t.true(
      near(leaf!.value as Position, position),
      `${mmsi}: ${JSON.stringify(leaf?.value)} vs ${JSON.stringify(position)}`,
    );
  }
  // Aids to navigation go under atons., also over REST.
  const atons = (await (await fetch(`${rt.url}/signalk/v1/api/atons`)).json()) as Record<string, unknown>;
  t.deepEqual(Object.keys(atons).sort(), ['urn:mrn:imo:mmsi:002112493', 'urn:mrn:imo:mmsi:002241076']);

  // The trip log subscribes to self's position: it saw none of the targets', then sees the own fix.
  t.like(await pluginStatus(rt.runtime, IDS.tripLog), { deltas: { received: 0 } });
  publish(rt.runtime, [{ path: 'navigation.position', value: { latitude: 60, longitude: 20 } }]);
  await waitFor(
    async () => (await pluginStatus(rt.runtime, IDS.tripLog)).deltas?.received === 1,
    'the trip log to get the own position',
  );
  t.deepEqual(rt.runtime.model.valueAt('vessels.self', 'navigation.position')?.value, { latitude: 60, longitude: 20 });
});

const VDO_LINE = lines(VDO_LOG)[0];
const VDO_REPORT = classAReport(VDO_LINE)!;

test("an own-ship VDO lands on self when its MMSI is the self vessel's", async (t) => {
  const rt = await startTestRuntime({
    selfUrn: `urn:mrn:imo:mmsi:${VDO_REPORT.mmsi}`,
    sources: [{ id: 'own', type: 'replay', file: VDO_LOG, rate: 'fast', linesPerSecond: 10, loop: false }],
  });
  t.teardown(rt.stop);
  t.is((await sourceEnded(rt, 'own')).deltas, 1);
  const leaf = rt.runtime.model.valueAt('vessels.self', 'navigation.position');
  t.truthy(leaf);
  t.true(near(leaf!.value as Position, VDO_REPORT.position));
});

test("a VDO of another MMSI (a self vessel known by uuid) goes to that MMSI's vessel, not self", async (t) => {
  const rt = await startTestRuntime({
    selfUrn: UUID_SELF,
    sources: [{ id: 'own', type: 'replay', file: VDO_LOG, rate: 'fast', linesPerSecond: 10, loop: false }],
  });
  t.teardown(rt.stop);
  t.is((await sourceEnded(rt, 'own')).deltas, 1);
  t.is(rt.runtime.model.valueAt('vessels.self', 'navigation.position'), undefined);
  t.true(
    near(
      rt.runtime.model.valueAt(mmsiContext(VDO_REPORT.mmsi), 'navigation.position')!.value as Position,
      VDO_REPORT.position,
    ),
  );
});

const N2K_AIS = [129038, 129039, 129793, 129794, 129809, 129810];

test('an NMEA 2000 AIS recording puts targets and base stations under their contexts and leaves self untouched', async (t) => {
  // Only the AIS frames of the recording (fast packets whole: every frame of those PGNs).
  const dir = tempDir(t, 'ske-ais-');
  const file = join(dir, 'ais.candump');
  const all = readFileSync(CAN_LOG, 'latin1').split(/\r?\n/);
  const ais = all.filter((l) => {
    const id = /\) \w+ ([0-9A-F]{8})#/.exec(l)?.[1];
    return id !== undefined && N2K_AIS.includes(pgnOf(parseInt(id, 16)));
  });
  t.true(ais.length > 50, `${ais.length} AIS frames`);
  writeFileSync(file, ais.join('\n'));
  const rt = await startTestRuntime({
    selfUrn: UUID_SELF,
    sources: [{ id: 'n2k', type: 'can', interface: 'can0', driver: 'candump', file, rate: 'fast', loop: false }],
  });
  t.teardown(rt.stop);
  const status = await sourceEnded(rt, 'n2k');
  t.true(status.deltas >= 16, `${status.deltas} deltas`);
  t.deepEqual(Object.keys(await restSelf(rt)).sort(), ['uuid']);
  // Targets as the recording's Em-Track B300 reported them (MMSIs from the frames' user id fields).
  for (const mmsi of [227421910, 250428000, 305882000, 235075105]) {
    t.truthy(rt.runtime.model.valueAt(mmsiContext(mmsi), 'navigation.position'), `position of ${mmsi}`);
  }
  t.like(rt.runtime.model.get(['vessels', 'urn:mrn:imo:mmsi:229569000']), { name: 'NAVIOS TAURUS' });
  t.truthy(rt.runtime.model.get(['shore', 'basestations', 'urn:mrn:imo:mmsi:002288213']));
});

test('the whole NMEA 2000 recording: self keeps its own GNSS position among the AIS traffic', async (t) => {
  const rt = await startTestRuntime({
    selfUrn: UUID_SELF,
    sources: [
      { id: 'n2k', type: 'can', interface: 'can0', driver: 'candump', file: CAN_LOG, rate: 'fast', loop: false },
    ],
  });
  t.teardown(rt.stop);
  await sourceEnded(rt, 'n2k');
  const own = rt.runtime.model.valueAt('vessels.self', 'navigation.position');
  t.is(own?.pgn, 129025, 'the self position comes from the own GNSS (PGN 129025)');
  // 227421910 is this boat's own class B transponder (its 129039 reports the GNSS position): other ships only.
  for (const mmsi of [250428000, 305882000, 235075105]) {
    const target = rt.runtime.model.valueAt(mmsiContext(mmsi), 'navigation.position');
    t.false(near(own!.value as Position, target!.value as Position), `self is not at ${mmsi}'s position`);
  }
});
