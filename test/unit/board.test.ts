import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';
import { SettingsError } from '../../core/settings-reader.js';
import { detectBoard, revisionType, type BoardFacts } from '../../runtime/board/detect.js';
import { deviceAliases, loadAllProfiles, loadProfile, parseProfile, profileIds } from '../../runtime/board/profile.js';
import { readBoardFacts, resolveBoard } from '../../runtime/board/resolve.js';

const FIXTURES = join(PROJECT_ROOT, 'test', 'fixtures', 'boards');

/** Recorded machine → the profile it must get. */
const EXPECTED: Record<string, string> = {
  'rpi4-model-b': 'rpi4',
  rpi400: 'rpi4',
  'rpi-cm4': 'rpi4',
  'rpi4-container-revision-only': 'rpi4',
  'rpi5-model-b': 'rpi5',
  'cerbo-gx': 'cerbo-gx',
  'cerbo-s-gx': 'cerbo-gx',
  'cerbo-gx-light': 'cerbo-gx',
  'x86-64-pc': 'generic',
  'beaglebone-black': 'generic',
  'rpi3-model-b-plus': 'generic',
};

function facts(dir: string): BoardFacts {
  const read = (f: string) =>
    existsSync(join(FIXTURES, dir, f)) ? readFileSync(join(FIXTURES, dir, f), 'utf8') : undefined;
  return { model: read('model'), cpuinfo: read('cpuinfo') };
}

test('every recorded board folder has an expected profile', (t) => {
  const dirs = readdirSync(FIXTURES, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  t.deepEqual(dirs, Object.keys(EXPECTED).sort());
});

for (const [dir, board] of Object.entries(EXPECTED)) {
  test(`detects ${board} from recorded ${dir}`, (t) => {
    const profiles = loadAllProfiles();
    const d = detectBoard(facts(dir), profiles);
    t.is(d.board, board, d.reason);
    t.log(`${dir} → ${d.board}: ${d.reason}`);
  });
}

test('readBoardFacts reads the device-tree model when there is one and tolerates its absence', (t) => {
  // A /proc-shaped folder built from the recorded Cerbo GX files.
  const proc = mkdtempSync(join(tmpdir(), 'ske-proc-'));
  t.deepEqual(readBoardFacts(proc), { model: undefined, cpuinfo: undefined });
  writeFileSync(join(proc, 'cpuinfo'), readFileSync(join(FIXTURES, 'cerbo-gx', 'cpuinfo')));
  t.is(resolveBoard({ procDir: proc }).profile.id, 'generic', 'the Cerbo GX cpuinfo alone names no board');
  mkdirSync(join(proc, 'device-tree'));
  writeFileSync(join(proc, 'device-tree', 'model'), readFileSync(join(FIXTURES, 'cerbo-gx', 'model')));
  const resolved = resolveBoard({ procDir: proc });
  t.is(resolved.profile.id, 'cerbo-gx');
  t.is(resolved.how, 'detected');
  rmSync(proc, { recursive: true });
});

test('the device-tree model wins over cpuinfo, and the revision code is the last resort', (t) => {
  const profiles = loadAllProfiles();
  const rpi5cpu = readFileSync(join(FIXTURES, 'rpi5-model-b', 'cpuinfo'), 'utf8');
  t.is(detectBoard({ model: 'Raspberry Pi 4 Model B Rev 1.5\0', cpuinfo: rpi5cpu }, profiles).board, 'rpi4');
  const d = detectBoard(facts('rpi4-container-revision-only'), profiles);
  t.regex(d.reason, /Revision d03114 \(board type 0x11\)/);
  t.is(detectBoard({}, profiles).board, 'generic');
});

test('revisionType decodes new-style codes only', (t) => {
  t.is(revisionType('c03114'), 0x11);
  t.is(revisionType('d04170'), 0x17);
  t.is(revisionType('b03140'), 0x14);
  t.is(revisionType('0000'), undefined, 'old-style / non-Pi');
  t.is(revisionType('a02082'), 0x08, 'Pi 3B');
  t.is(revisionType('zz'), undefined);
});

test('shipped profiles load and have what the installer and doctor need', (t) => {
  t.deepEqual(profileIds(), ['cerbo-gx', 'generic', 'rpi4', 'rpi5']);
  for (const p of loadAllProfiles()) {
    t.true(p.memory.perPluginMB < p.memory.totalMB, p.id);
    t.true(
      deviceAliases(p).some((a) => a.kind === 'serial'),
      `${p.id} names a serial device`,
    );
    t.true(
      deviceAliases(p).some((a) => a.kind === 'can'),
      `${p.id} names a CAN interface`,
    );
  }
  const cerbo = loadProfile('cerbo-gx');
  t.true(cerbo.paths.data.startsWith('/data/'), 'Venus OS keeps data under /data');
  t.deepEqual(
    deviceAliases(cerbo)
      .filter((a) => a.kind === 'can')
      .map((a) => a.target),
    ['vecan0', 'vecan1', 'can0'],
  );
  t.is(loadProfile('rpi4').devices.nmea1, '/dev/ttyUSB0');
});

test('--board override beats detection; an unknown board is a clear error', (t) => {
  t.is(resolveBoard({ override: 'cerbo-gx' }).how, 'override');
  t.is(resolveBoard({ settingsBoard: 'rpi5' }).profile.id, 'rpi5');
  const err = t.throws(() => resolveBoard({ override: 'rpi9' }), { instanceOf: SettingsError });
  t.regex(err.message, /unknown board "rpi9" \(known: cerbo-gx, generic, rpi4, rpi5\)/);
  t.throws(() => loadProfile('../etc/passwd'), { message: /not a board id/ });
});

test('a bad profile gets an error naming the key', (t) => {
  const good = JSON.parse(readFileSync(join(PROJECT_ROOT, 'boards', 'rpi4.json'), 'utf8')) as Record<string, unknown>;
  const bad = (patch: Record<string, unknown>) => () => parseProfile({ ...good, ...patch }, 'x.json');
  t.throws(bad({ memory: { perPluginMB: 2048, totalMB: 1024 } }), {
    message: /x\.json: memory\.perPluginMB: must be an integer from 1 to 1024/,
  });
  t.throws(bad({ devices: { nmea1: 'ttyUSB0 ; rm' } }), {
    message: /devices\.nmea1: must be a \/dev\/ path or a CAN interface name/,
  });
  t.throws(bad({ nodeFlags: ['--max-old-space-size=1 $(reboot)'] }), { message: /nodeFlags\[0\]/ });
  t.throws(bad({ detect: { model: ['('] } }), { message: /detect\.model\[0\]: not a regular expression/ });
  t.throws(bad({ paths: { data: 'relative', cache: '/c' } }), { message: /paths\.data: must be an absolute path/ });
  t.throws(bad({ colour: 'red' }), { message: /colour: unknown key/ });
  t.true(existsSync(join(PROJECT_ROOT, 'boards', 'generic.json')));
});
