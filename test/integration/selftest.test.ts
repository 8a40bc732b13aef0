// `signalk-edge selftest` run as a board's operator runs it, against the project's twins: a pty
// pair (or one pty looped TX→RX) for the serial line, a candump replay for CAN. The report must
// hold the counts and name every twin as a twin; a wrong or absent device must fail or skip with
// a clear message and a non-zero exit.

import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';
import { writePluginConfig } from '../../runtime/plugins/plugin-config.js';
import { addGrant } from '../../runtime/capabilities/store.js';
import { configFile } from '../../runtime/storage/plugin-storage.js';
import type { SelftestReport } from '../../runtime/selftest/report.js';
import { startPtyLoopback, startPtyPair } from '../helpers/pty.js';
import { tempDir } from '../helpers/temp.js';

const CLI = join(PROJECT_ROOT, 'dist', 'runtime', 'cli', 'main.js');
const PROPRIETARY = '_signalk-edge_nmea-proprietary';

function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SIGNALK_EDGE_LOG: 'error' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

function readReport(file: string): SelftestReport {
  return JSON.parse(readFileSync(file, 'utf8')) as SelftestReport;
}

test('--serial A,B over a pty pair passes; the report holds the counts and names the ptys as twins', async (t) => {
  const dir = tempDir(t, 'ske-selftest-');
  const pty = await startPtyPair(join(dir, 'a'), join(dir, 'b'));
  t.teardown(() => pty.stop());
  const report = join(dir, 'report.json');
  const r = await cli([
    'selftest',
    '--serial',
    `${pty.a},${pty.b}`,
    '--lines',
    '24',
    '--report',
    report,
    '--data',
    join(dir, 'data'),
  ]);
  t.is(r.code, 0, r.out + r.err);
  t.regex(
    r.out,
    /^PASS {2}serial .*\[TWIN: pseudo-terminal \/dev\/pts\/\d+, no serial hardware\].*: 24 lines sent at 4800 baud; source 24 received, 0 errors/m,
  );
  t.regex(r.out, /self-test passed: 1 passed, 0 failed, 0 skipped \(twins stood in/);
  const json = readReport(report);
  t.like(json, { exitCode: 0, summary: { passed: 1, failed: 0, skipped: 0 } });
  const [serial] = json.checks;
  t.like(serial, {
    check: 'serial',
    outcome: 'pass',
    figures: {
      baudRate: 4800,
      linesSent: 24,
      sourceLinesReceived: 24,
      sourceErrors: 0,
      pluginLinesReceived: 24,
      pluginLinesCorrupted: 0,
      grantEnforced: true,
    },
  });
  t.true((serial!.figures.bytesPerSecond as number) > 0);
  // 18 of the 24 lines decode to deltas: the 6 $PGRME are Garmin's own and no standard sentence.
  t.is(serial!.figures.sourceDeltas, 18);
  t.deepEqual(
    serial!.devices.map((d) => d.kind),
    ['twin', 'twin'],
  );
});

test('--serial A with a TX↔RX loopback passes at the given baud', async (t) => {
  const dir = tempDir(t, 'ske-selftest-');
  const loop = await startPtyLoopback(join(dir, 'loop'));
  t.teardown(() => loop.stop());
  const report = join(dir, 'report.json');
  const r = await cli([
    'selftest',
    '--serial',
    loop.path,
    '--baud',
    '38400',
    '--report',
    report,
    '--data',
    join(dir, 'data'),
  ]);
  t.is(r.code, 0, r.out + r.err);
  t.like(readReport(report).checks[0], {
    outcome: 'pass',
    figures: { baudRate: 38400, linesSent: 40, sourceLinesReceived: 40, pluginLinesReceived: 40 },
  });
});

test('a wrong device fails with the reason and exit 1; an absent one is skipped as absent, never passed, exit 2', async (t) => {
  const dir = tempDir(t, 'ske-selftest-');
  const pty = await startPtyPair(join(dir, 'a'), join(dir, 'b'));
  t.teardown(() => pty.stop());
  const notTty = await cli(['selftest', '--serial', `/dev/null,${pty.b}`, '--data', join(dir, 'data')]);
  t.is(notTty.code, 1);
  t.regex(notTty.out, /^FAIL {2}serial .*cannot open \/dev\/null at 4800 baud: .*Inappropriate ioctl/m);
  t.regex(notTty.out, /self-test FAILED: 0 passed, 1 failed/);

  // A pty whose far end nobody writes to: nothing comes back, and the hint says what to check.
  const unwired = await cli(['selftest', '--serial', pty.b, '--lines', '5', '--data', join(dir, 'data')]);
  t.is(unwired.code, 1);
  t.regex(
    unwired.out,
    /source read 0\/5 lines; plugin read 0\/5 lines — nothing came back: is .*b's TX looped to its RX\?/,
  );

  const report = join(dir, 'absent.json');
  const absent = await cli([
    'selftest',
    '--serial',
    join(dir, 'ttyUSB9'),
    '--can',
    'can9',
    '--report',
    report,
    '--data',
    join(dir, 'data'),
  ]);
  t.is(absent.code, 2);
  t.regex(absent.out, /^SKIP {2}serial .*hardware absent: .*ttyUSB9 does not exist/m);
  t.regex(absent.out, /^SKIP {2}can {4}can9: hardware absent: no CAN interface can9/m);
  t.regex(absent.out, /self-test tested nothing/);
  t.like(readReport(report), { exitCode: 2, summary: { passed: 0, failed: 0, skipped: 2 } });
});

test("--can-twin: N2K frames with fast-packet through the source and a plugin's PGN-filtered handle, reported as a twin", async (t) => {
  const dir = tempDir(t, 'ske-selftest-');
  const report = join(dir, 'report.json');
  const r = await cli([
    'selftest',
    '--can-twin',
    '--frames-rounds',
    '10',
    '--report',
    report,
    '--data',
    join(dir, 'data'),
  ]);
  t.is(r.code, 0, r.out + r.err);
  t.regex(
    r.out,
    /^PASS {2}can {4}twin0 \[TWIN: candump replay of .*, no CAN hardware\]: 90 frames \(30 messages, 10 fast-packet\) replayed/m,
  );
  const [can] = readReport(report).checks;
  t.like(can, {
    outcome: 'pass',
    devices: [{ name: 'twin0', kind: 'twin' }],
    figures: {
      framesSent: 90,
      sourceFramesReceived: 90,
      sourceDeltas: 30,
      sourceErrors: 0,
      fastPacketDeltas: 10,
      pluginGrantedPgns: '128267,129029',
      pluginFramesExpected: 80,
      pluginFramesReceived: 80,
      pluginFramesOutsideGrant: 0,
      filterEnforced: true,
    },
  });
});

test('--plugin: the installed example runs on the pty under its grants; ungranted it is refused and the check fails', async (t) => {
  const dir = tempDir(t, 'ske-selftest-');
  const data = join(dir, 'data');
  const pty = await startPtyPair(join(dir, 'a'), join(dir, 'b'));
  t.teardown(() => pty.stop());
  writePluginConfig(configFile(data, PROPRIETARY), { enabled: true, configuration: { device: pty.b, baudRate: 4800 } });
  const args = ['selftest', '--serial', `${pty.a},${pty.b}`, '--plugin', PROPRIETARY, '--data', data];

  const refused = await cli(args);
  t.is(refused.code, 1, refused.out + refused.err);
  t.regex(refused.out, /^FAIL {2}plugin .*emitted 0 deltas; handles: none; refused: serial:.*b: emitted nothing/m);

  addGrant(data, PROPRIETARY, `serial:${pty.b}`);
  const report = join(dir, 'report.json');
  const granted = await cli([...args, '--report', report]);
  t.is(granted.code, 0, granted.out + granted.err);
  const plugin = readReport(report).checks.find((c) => c.check === 'plugin');
  // 10 of the 40 lines are $PGRME, each one delta of the three error estimates.
  t.like(plugin, {
    outcome: 'pass',
    figures: { state: 'running', deltasEmitted: 10, halHandles: `serial ${pty.b}: 40 received`, denied: '' },
  });
  t.regex(String(plugin!.figures.paths), /navigation\.gnss\.estimatedHorizontalError ×10/);
});

test('usage errors name what is wrong and exit 2', async (t) => {
  const none = await cli(['selftest']);
  t.is(none.code, 2);
  t.regex(none.err, /selftest needs something to test/);
  const both = await cli(['selftest', '--can', 'can0', '--can-twin']);
  t.is(both.code, 2);
  t.regex(both.err, /--can and --can-twin exclude each other/);
  const typo = await cli(['selftest', '--seriall', 'x']);
  t.is(typo.code, 2);
  t.regex(typo.err, /Unknown option '--seriall'/);
});

test('doctor --capture copies what detection reads into a fixture-shaped folder', async (t) => {
  const dir = join(tempDir(t, 'ske-capture-'), 'this-board');
  const r = await cli(['doctor', '--capture', dir]);
  t.is(r.code, 0, r.out + r.err);
  t.regex(r.out, /^captured (model, )?cpuinfo, can, serial into .*this-board; detected \S+ \(.*\)$/m);
  t.regex(r.out, /add <name>: '\S+' to EXPECTED in test\/unit\/board\.test\.ts/);
  t.true(existsSync(join(dir, 'cpuinfo')));
  t.regex(readFileSync(join(dir, 'cpuinfo'), 'utf8'), /^processor\s*:/m);
  t.true(existsSync(join(dir, 'can')) && existsSync(join(dir, 'serial')));
});
