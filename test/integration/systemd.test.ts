import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';
import { deviceAliases, loadProfile, profileIds } from '../../runtime/board/profile.js';
import { deviceAllowFor, renderBoardDropIn, serviceEnvironment, unitEnvironment } from '../../runtime/systemd/unit.js';
import { tempDir } from '../helpers/temp.js';
import { systemTool } from '../helpers/system-tool.js';

const UNIT = readFileSync(join(PROJECT_ROOT, 'systemd', 'signalk-edge.service'), 'utf8');
const MAX_EXPOSURE = 2.5;
const systemdAnalyze = systemTool('systemd-analyze', 'systemd', ['--version'], import.meta.url);

function analyze(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('systemd-analyze', args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SYSTEMD_COLORS: '0', SYSTEMD_PAGER: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * The unit as installed for `board`, in a temp folder: verify needs ExecStart's binary to exist,
 * so node is this test's own node instead of /usr/bin/node. The drop-in sits in
 * signalk-edge.service.d/ next to the unit, where systemd-analyze picks it up.
 */
function stage(t: { teardown(fn: () => void): void }, board?: string): string {
  const dir = tempDir(t, 'ske-unit-');
  const file = join(dir, 'signalk-edge.service');
  writeFileSync(file, UNIT.replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${process.execPath} `));
  if (board) {
    mkdirSync(join(dir, 'signalk-edge.service.d'));
    writeFileSync(
      join(dir, 'signalk-edge.service.d', '10-board.conf'),
      renderBoardDropIn(loadProfile(board), { prefix: '/opt/signalk-edge', nodePath: process.execPath }),
    );
  }
  return file;
}

test('the unit has what the issue asks for', (t) => {
  for (const line of [
    'Type=notify',
    'WatchdogSec=30',
    'Restart=on-failure',
    'User=signalk-edge',
    'SupplementaryGroups=dialout',
    'ProtectSystem=strict',
    'ReadWritePaths=/var/lib/signalk-edge /var/cache/signalk-edge',
    'NoNewPrivileges=yes',
    'PrivateTmp=yes',
    'DevicePolicy=closed',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_CAN',
  ]) {
    t.true(UNIT.split('\n').includes(line), line);
  }
  t.regex(UNIT, /^MemoryMax=\d+M$/m);
});

test("the service's environment is read from the unit's Environment= lines", (t) => {
  t.deepEqual(serviceEnvironment(), { NODE_ENV: 'production', MALLOC_ARENA_MAX: '2' });
  t.deepEqual(unitEnvironment('[Service]\nEnvironment=A=1\n# Environment=B=2\nEnvironment=D=\n'), {
    A: '1',
    D: '',
  });
});

test('device grants: hot-plugged USB serial by driver class, fixed ports by path', (t) => {
  t.is(deviceAllowFor('/dev/ttyUSB3'), 'char-ttyUSB rw');
  t.is(deviceAllowFor('/dev/ttyACM0'), 'char-ttyACM rw');
  t.is(deviceAllowFor('/dev/ttyAMA0'), '/dev/ttyAMA0 rw');
  t.is(deviceAllowFor('/dev/serial/by-id/usb-Actisense_NGT-1'), '/dev/serial/by-id/usb-Actisense_NGT-1 rw');
  const dropIn = renderBoardDropIn(loadProfile('cerbo-gx'), { prefix: '/opt/signalk-edge', nodePath: '/usr/bin/node' });
  t.regex(dropIn, /^MemoryMax=256M$/m);
  t.regex(dropIn, /^ReadWritePaths=\/data\/signalk-edge \/data\/signalk-edge-cache$/m);
  t.regex(dropIn, /^# CAN \(n2k=vecan0, n2k2=vecan1, can=can0\) are network interfaces/m);
});

for (const board of [undefined, ...profileIds()]) {
  const name = board ? `with the ${board} drop-in` : 'on its own';
  systemdAnalyze.test(`systemd-analyze verify passes ${name}, and security scores it ≤ ${MAX_EXPOSURE}`, async (t) => {
    const file = stage(t, board);
    const verify = await analyze(['verify', '--man=no', file]);
    t.is(verify.code, 0, verify.stderr);
    t.is(verify.stderr.trim(), '', 'no warnings');
    const security = await analyze(['security', '--offline=true', '--no-pager', file]);
    const m = /Overall exposure level for signalk-edge\.service: (\d+\.\d+)/.exec(security.stdout);
    t.truthy(m, security.stdout + security.stderr);
    const score = Number(m![1]);
    t.log(`systemd-analyze security ${name}: exposure ${score}`);
    t.true(score <= MAX_EXPOSURE, `exposure ${score} > ${MAX_EXPOSURE}`);
    if (board) {
      // The drop-in was applied: the device list is the board's, not the base unit's.
      const acl = /DeviceAllow=.*special devices: (.*?)\s{2,}/.exec(security.stdout)?.[1] ?? '';
      const expected = [
        'char-rtc:r',
        ...new Set(
          deviceAliases(loadProfile(board))
            .filter((a) => a.kind === 'serial')
            .map((a) => deviceAllowFor(a.target).replace(' ', ':')),
        ),
      ];
      t.deepEqual(acl.split(' ').sort(), expected.sort(), security.stdout);
    }
  });
}
