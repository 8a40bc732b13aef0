import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';
import { checkDeviceRefs } from '../../runtime/cli/doctor.js';
import { startPtyPair } from '../helpers/pty.js';
import { addUser } from '../helpers/security.js';
import { tempDir } from '../helpers/temp.js';

const CLI = join(PROJECT_ROOT, 'dist', 'runtime', 'cli', 'main.js');

function doctor(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'doctor', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
}

function writeSettings(dir: string, device: string, cacheDir: string): string {
  const file = join(dir, 'settings.json');
  writeFileSync(
    file,
    JSON.stringify({
      board: 'rpi4',
      dataDir: join(dir, 'data'),
      cacheDir,
      sources: [{ id: 'nmea1', type: 'serial', device, baudRate: 4800 }],
    }),
  );
  return file;
}

test('doctor passes with a present serial device, writable data and cache; reports board, Node and service', async (t) => {
  const dir = tempDir(t, 'ske-doctor-');
  mkdirSync(join(dir, 'data'));
  mkdirSync(join(dir, 'cache'));
  const pty = await startPtyPair(join(dir, 'gps-a'), join(dir, 'gps-b'));
  t.teardown(() => pty.stop());
  const { code, out } = await doctor(['--settings', writeSettings(dir, pty.a, join(dir, 'cache'))]);
  t.log(out);
  t.is(code, 0, out);
  t.regex(out, /info\s+board\s+rpi4 — Raspberry Pi 4 .*\(from settings "board"\)/);
  t.regex(out, new RegExp(`ok\\s+node\\s+Node ${process.versions.node.replace(/\./g, '\\.')}`));
  t.regex(out, new RegExp(`ok\\s+device\\s+source nmea1: ${pty.a} present, crw.*read/write ok`));
  t.regex(out, /ok\s+cache\s+.*cache writable, 0 entries/);
  t.regex(out, /service (not under systemd|signalk-edge\.service is )/);
  t.regex(out, /no problems found/);
});

test('doctor fails, naming the source, when its device is missing; and when the cache is not a folder', async (t) => {
  const dir = tempDir(t, 'ske-doctor-');
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'cache'), 'not a folder');
  const missing = join(dir, 'ttyUSB7');
  const { code, out } = await doctor([
    '--settings',
    writeSettings(dir, missing, join(dir, 'cache')),
    '--board',
    'cerbo-gx',
  ]);
  t.log(out);
  t.is(code, 1);
  t.regex(out, /cerbo-gx .*\(from --board\)/);
  t.regex(out, new RegExp(`fail\\s+device\\s+source nmea1 needs ${missing}, which does not exist`));
  t.regex(out, /fail\s+cache\s+.*cache is not a folder/);
  t.regex(out, /2 problem\(s\) found/);
  t.regex(
    out,
    /warn\s+service\s+\/service\/signalk-edge missing: not started at boot/,
    'Venus OS: daemontools, not systemd',
  );
});

test('doctor checks the devices that grants name (aliases resolved) and fails on a broken grants file', async (t) => {
  const dir = tempDir(t, 'ske-doctor-');
  mkdirSync(join(dir, 'data'));
  mkdirSync(join(dir, 'cache'));
  const pty = await startPtyPair(join(dir, 'gps-a'), join(dir, 'gps-b'));
  t.teardown(() => pty.stop());
  const settings = writeSettings(dir, pty.a, join(dir, 'cache'));
  const grant = (...args: string[]) =>
    new Promise<void>((resolve, reject) =>
      spawn(process.execPath, [CLI, 'grant', ...args, '--settings', settings]).on('close', (c) =>
        c === 0 ? resolve() : reject(new Error(`grant exited ${c}`)),
      ),
    );
  await grant('wind-logger', `serial:${pty.b}`);
  await grant('ais', 'serial:nmea2'); // rpi4: nmea2 → /dev/ttyUSB1, absent here
  const { code, out } = await doctor(['--settings', settings]);
  t.log(out);
  t.is(code, 1);
  t.regex(out, new RegExp(`ok\\s+device\\s+grant serial:${pty.b} to wind-logger: ${pty.b} present`));
  t.regex(out, /fail\s+device\s+grant serial:nmea2 to ais needs \/dev\/ttyUSB1, which does not exist/);

  writeFileSync(join(dir, 'data', 'grants.json'), '{"grants": {"ais": "serial:nmea2"}}');
  const broken = await doctor(['--settings', settings]);
  t.is(broken.code, 1);
  t.regex(broken.out, /fail\s+grants\s+.*grants\.json: grants\.ais: must be a list of grant strings/);
});

test('device references from grants are checked the same way', (t) => {
  const [missing, notDevice, tty] = checkDeviceRefs([
    { owner: 'grant wind-logger', device: '/dev/does-not-exist' },
    { owner: 'grant wind-logger', device: PROJECT_ROOT },
    { owner: 'grant console', device: '/dev/null' },
  ]);
  t.is(missing!.status, 'fail');
  t.is(missing!.message, 'grant wind-logger needs /dev/does-not-exist, which does not exist');
  t.is(notDevice!.status, 'fail');
  t.is(tty!.status, 'ok');
  t.regex(tty!.message, /^grant console: \/dev\/null present, crw-rw-rw- group root, read\/write ok$/);
});

test('doctor refuses an unknown --board with the list of known boards', async (t) => {
  const dir = tempDir(t, 'ske-doctor-');
  const { code } = await doctor(['--data', dir, '--board', 'rpi9']);
  t.is(code, 2);
});

test('doctor: security off on a network address fails; on without an admin warns; on with one is ok', async (t) => {
  const dir = tempDir(t, 'ske-doctor-');
  const file = join(dir, 'settings.json');
  const write = (extra: object): void =>
    writeFileSync(
      file,
      JSON.stringify({ board: 'rpi4', dataDir: join(dir, 'data'), cacheDir: join(dir, 'cache'), ...extra }),
    );
  write({ host: '0.0.0.0' });
  const open = await doctor(['--settings', file]);
  t.is(open.code, 1);
  t.regex(open.out, /fail\s+auth\s+refusing to serve on 0\.0\.0\.0 with security off/);
  write({ host: '127.0.0.1' });
  t.regex(
    (await doctor(['--settings', file])).out,
    /info\s+auth\s+off: the API on 127\.0\.0\.1 serves this machine only/,
  );
  write({ host: '0.0.0.0', security: { enabled: true } });
  t.regex(
    (await doctor(['--settings', file])).out,
    /warn\s+auth\s+on: 0 user\(s\), 0 admin\(s\).*no admin: signalk-edge user add/,
  );
  await addUser(join(dir, 'data'), 'skipper', 'admin');
  t.regex(
    (await doctor(['--settings', file])).out,
    /ok\s+auth\s+on: 1 user\(s\), 1 admin\(s\), 0 approved device\(s\), 0 pending access request\(s\)/,
  );
});
