import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT, parseSettings } from '../../runtime/config/settings.js';
import { nodeFiles } from '../../runtime/release/addons.js';
import { readElfIdent } from '../../runtime/release/elf.js';
import { readManifest } from '../../runtime/release/manifest.js';
import { TARGETS, type TargetId } from '../../runtime/release/targets.js';
import { readState } from '../helpers/fake-systemd.js';
import { waitFor } from '../helpers/wait.js';

const INSTALL = join(PROJECT_ROOT, 'scripts', 'install.sh');
const RELEASE = join(PROJECT_ROOT, 'scripts', 'release.sh');
/** release.sh copies the production dependencies and cross-compiles addons: minutes on a busy machine. */
const BUILD_MS = 15 * 60_000;

/** Runs a command; `input` goes to its stdin (else none), `env` is added to this process's. */
function sh(
  cmd: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
    });
    child.stdin?.end(opts.input);
    let out = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
}

/** Path, kind, mode, owner and content (or link target) of every entry: what "unchanged" means. */
function treeHash(root: string): string {
  const h = createHash('sha256');
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = lstatSync(p);
      h.update(`${p.slice(root.length)}\0${st.mode}\0${st.uid}:${st.gid}\0`);
      if (st.isSymbolicLink()) h.update(readlinkSync(p));
      else if (st.isDirectory()) walk(p);
      else h.update(readFileSync(p));
    }
  };
  walk(root);
  return h.digest('hex');
}

/** The first bytes of an ELF executable for target: all the installer reads of the image's node. */
function elfStub(target: TargetId): Buffer {
  const t = TARGETS[target];
  const head = Buffer.alloc(64);
  head.set([0x7f, 0x45, 0x4c, 0x46, t.elfBits === 64 ? 2 : 1, 1, 1]);
  head.writeUInt16LE(2, 16); // ET_EXEC
  head.writeUInt16LE(t.elfMachine, 18);
  return head;
}

/** A mounted image as far as the installer cares: an /etc with passwd and group, and maybe a node. */
function fakeImage(opts: { node?: TargetId; nodejsPackage?: string } = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'ske-image-'));
  mkdirSync(join(root, 'etc'));
  writeFileSync(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
  writeFileSync(join(root, 'etc', 'group'), 'root:x:0:\ndialout:x:20:\n');
  if (opts.node) {
    mkdirSync(join(root, 'usr', 'bin'), { recursive: true });
    writeFileSync(join(root, 'usr', 'bin', 'node'), elfStub(opts.node), { mode: 0o755 });
  }
  if (opts.nodejsPackage) {
    mkdirSync(join(root, 'var', 'lib', 'dpkg'), { recursive: true });
    writeFileSync(
      join(root, 'var', 'lib', 'dpkg', 'status'),
      `Package: bash\nVersion: 5.2\n\nPackage: nodejs\nStatus: install ok installed\nVersion: ${opts.nodejsPackage}\n`,
    );
  }
  return root;
}

// The release tarballs for the tests of this file: built once, all three targets in one run.
const releaseDir = mkdtempSync(join(tmpdir(), 'ske-release-'));
process.once('exit', () => rmSync(releaseDir, { recursive: true, force: true }));
let release: Promise<{ tarballs: Record<TargetId, string>; out: string; ms: number }> | undefined;

async function releaseTarball(t: ExecutionContext, target: TargetId): Promise<string> {
  t.timeout(BUILD_MS);
  const started = Date.now();
  release ??= sh(RELEASE, ['--no-build', '--out', releaseDir]).then((r) => {
    const tarballs = Object.fromEntries(
      Object.keys(TARGETS).map((id) => [id, new RegExp(`release: (\\S+-${id}\\.tar\\.gz)`).exec(r.out)?.[1]]),
    );
    if (r.code !== 0 || Object.values(tarballs).some((f) => !f || !existsSync(f)))
      throw new Error(`release.sh failed: ${r.out}`);
    return { tarballs: tarballs as Record<TargetId, string>, out: r.out, ms: Date.now() - started };
  });
  const made = await release;
  t.log(`release.sh (3 targets): ${made.ms} ms`);
  return made.tarballs[target];
}

/** A tarball derived from one release.sh made: another version, optionally with a changed program. */
function variant(tarball: string, version: string, change?: (dir: string) => void): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'ske-variant-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return sh('tar', ['xzf', tarball, '-C', dir]).then(async () => {
    const pkg = join(dir, 'signalk-edge');
    for (const f of ['package.json', 'release.json']) {
      const json = JSON.parse(readFileSync(join(pkg, f), 'utf8')) as { version: string };
      json.version = version;
      writeFileSync(join(pkg, f), JSON.stringify(json, null, 2));
    }
    change?.(pkg);
    const out = join(dir, `signalk-edge-${version}.tar.gz`);
    const r = await sh('tar', ['czf', out, '-C', dir, 'signalk-edge']);
    if (r.code !== 0) throw new Error(r.out);
    return out;
  });
}

test('release tarball → install.sh --root: tree, enablement, board config; idempotent; uninstall keeps data', async (t) => {
  const root = fakeImage({ node: 'linux-arm64' });
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const tarball = await releaseTarball(t, 'linux-arm64');

  const first = await sh(
    INSTALL,
    ['--root', root, '--board', 'rpi4', '--tarball', tarball, '--admin-user', 'skipper'],
    { input: 'correct-horse-battery\n' },
  );
  t.is(first.code, 0, first.out);
  t.log(first.out);

  // Security on, and the first admin (scrypt hash, file 0600 in a 0700 folder).
  const securityDir = join(root, 'var', 'lib', 'signalk-edge', 'security');
  t.regex(first.out, /added admin user skipper/);
  t.notRegex(first.out, /create the first admin/);
  const users = JSON.parse(readFileSync(join(securityDir, 'users.json'), 'utf8')) as {
    users: { username: string; permission: string; password: string }[];
  };
  t.like(users.users, [{ username: 'skipper', permission: 'admin' }]);
  t.regex(users.users[0].password, /^scrypt\$/);
  t.is(lstatSync(join(securityDir, 'users.json')).mode & 0o777, 0o600);
  t.is(lstatSync(securityDir).mode & 0o777, 0o700);

  // The program, with its production dependencies for an offline boat, and no dev dependencies.
  const prefix = join(root, 'opt', 'signalk-edge', 'current');
  t.is(readlinkSync(prefix), 'releases/0.1.0');
  for (const f of [
    'release.json',
    'dist/runtime/cli/main.js',
    'dist/runtime/app.js',
    'boards/rpi4.json',
    'node_modules/ws/package.json',
    'node_modules/serialport/package.json',
    'node_modules/@signalk/nmea0183-signalk/package.json',
  ]) {
    t.true(existsSync(join(prefix, f)), f);
  }
  t.false(existsSync(join(prefix, 'node_modules', 'ava')), 'no dev dependencies');
  t.false(existsSync(join(prefix, 'dist', 'test')), 'no tests');

  // Unit, board drop-in, enablement by symlink.
  const units = join(root, 'etc', 'systemd', 'system');
  t.is(
    readFileSync(join(units, 'signalk-edge.service'), 'utf8'),
    readFileSync(join(PROJECT_ROOT, 'systemd', 'signalk-edge.service'), 'utf8'),
  );
  const dropIn = readFileSync(join(units, 'signalk-edge.service.d', '10-board.conf'), 'utf8');
  t.regex(dropIn, /^MemoryMax=768M$/m);
  t.regex(dropIn, /^DeviceAllow=char-ttyUSB rw$/m);
  t.regex(
    dropIn,
    /^ExecStart=\/usr\/bin\/node --max-old-space-size=384 --max-semi-space-size=8 \/opt\/signalk-edge\/current\/dist\/runtime\/cli\/main\.js run --data \/var\/lib\/signalk-edge --board rpi4$/m,
  );
  t.is(
    readlinkSync(join(units, 'multi-user.target.wants', 'signalk-edge.service')),
    '/etc/systemd/system/signalk-edge.service',
  );

  // User in dialout, in the image's files.
  t.regex(
    readFileSync(join(root, 'etc', 'passwd'), 'utf8'),
    /^signalk-edge:x:\d+:\d+:[^:]*:\/var\/lib\/signalk-edge:\/usr\/sbin\/nologin$/m,
  );
  t.regex(readFileSync(join(root, 'etc', 'group'), 'utf8'), /^dialout:x:20:signalk-edge$/m);

  // A valid settings file for the board, data and cache folders.
  const settingsFile = join(root, 'var', 'lib', 'signalk-edge', 'settings.json');
  const settings = parseSettings(JSON.parse(readFileSync(settingsFile, 'utf8')), settingsFile);
  t.is(settings.board, 'rpi4');
  t.is(settings.cacheDir, '/var/cache/signalk-edge');
  t.like(settings.security, { enabled: true, allowReadOnly: false });
  t.true(existsSync(join(root, 'var', 'cache', 'signalk-edge')));
  t.regex(first.out, /signalk-edge compile not run under --root/);

  // Second run: nothing changes, byte for byte (board taken from the installed drop-in).
  const before = treeHash(root);
  const second = await sh(INSTALL, ['--root', root, '--tarball', tarball]);
  t.is(second.code, 0, second.out);
  t.regex(second.out, /nothing changed: already installed/);
  t.false(/^\s+\+ /m.test(second.out), second.out);
  t.is(treeHash(root), before, 'second install left the tree identical');

  // Data the boat made must survive an uninstall.
  writeFileSync(join(root, 'var', 'lib', 'signalk-edge', 'identity.json'), '{"selfUrn":"urn:mrn:imo:mmsi:123456789"}');
  const un = await sh(INSTALL, ['--root', root, '--uninstall', '--tarball', tarball]);
  t.is(un.code, 0, un.out);
  t.log(un.out);
  t.false(existsSync(join(root, 'opt', 'signalk-edge')));
  t.false(existsSync(join(units, 'signalk-edge.service')));
  t.false(existsSync(join(units, 'multi-user.target.wants', 'signalk-edge.service')));
  t.false(existsSync(join(root, 'var', 'cache', 'signalk-edge')));
  t.true(existsSync(settingsFile), 'settings kept');
  t.true(existsSync(join(root, 'var', 'lib', 'signalk-edge', 'identity.json')), 'data kept');

  const purge = await sh(INSTALL, ['--root', root, '--board', 'rpi4', '--uninstall', '--purge', '--tarball', tarball]);
  t.is(purge.code, 0, purge.out);
  t.false(existsSync(join(root, 'var', 'lib', 'signalk-edge')), '--purge removes data');
});

test('install.sh --root refuses to guess the board and rejects an unknown one', async (t) => {
  const root = fakeImage();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const noBoard = await sh(INSTALL, ['--root', root]);
  t.not(noBoard.code, 0);
  t.regex(noBoard.out, /is not a release|--root needs --board/);
  const bad = await sh(INSTALL, ['--root', root, '--board', 'rpi9', '--tarball', join(root, 'missing.tar.gz')]);
  t.not(bad.code, 0);
  t.regex(bad.out, /no such file/);
});

test('Venus OS (Cerbo GX): program and daemontools service under /data, linked at boot by /data/rc.local; idempotent; uninstall keeps data', async (t) => {
  const root = fakeImage();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'data'));
  writeFileSync(join(root, 'data', 'rc.local'), '#!/bin/sh\necho other boot work\n', { mode: 0o755 });
  // No node in this image: the cerbo-gx profile comes as one target only (armv7).
  const tarball = await releaseTarball(t, 'linux-armv7');

  const first = await sh(INSTALL, ['--root', root, '--board', 'cerbo-gx', '--tarball', tarball]);
  t.is(first.code, 0, first.out);
  t.log(first.out);
  t.true(
    existsSync(join(root, 'data', 'signalk-edge-app', 'current', 'dist', 'runtime', 'cli', 'main.js')),
    'program under /data (root fs is replaced by updates)',
  );
  t.false(existsSync(join(root, 'etc', 'systemd', 'system', 'signalk-edge.service')), 'no systemd unit');
  t.false(existsSync(join(root, 'usr', 'local', 'bin', 'signalk-edge')));
  const run = readFileSync(join(root, 'data', 'signalk-edge-service', 'run'), 'utf8');
  t.regex(run, /^exec 2>&1$/m);
  // The same environment as the systemd unit's.
  t.regex(run, /^export NODE_ENV=production$/m);
  t.regex(run, /^export MALLOC_ARENA_MAX=2$/m);
  t.regex(
    run,
    /^exec \/usr\/bin\/node --max-old-space-size=128 \/data\/signalk-edge-app\/current\/dist\/runtime\/cli\/main\.js run --data \/data\/signalk-edge --board cerbo-gx$/m,
  );
  t.is(lstatSync(join(root, 'data', 'signalk-edge-service', 'run')).mode & 0o777, 0o755);
  t.regex(
    readFileSync(join(root, 'data', 'signalk-edge-service', 'log', 'run'), 'utf8'),
    /^exec multilog t .* \/var\/log\/signalk-edge$/m,
  );
  const rcLocal = readFileSync(join(root, 'data', 'rc.local'), 'utf8');
  t.regex(rcLocal, /^echo other boot work$/m, 'existing boot work kept');
  t.regex(rcLocal, /^ln -sfn \/data\/signalk-edge-service \/service\/signalk-edge$/m);
  const settingsFile = join(root, 'data', 'signalk-edge', 'settings.json');
  t.is(parseSettings(JSON.parse(readFileSync(settingsFile, 'utf8')), settingsFile).board, 'cerbo-gx');
  // No --admin-user: the installer says how to make the first admin.
  t.regex(
    first.out,
    /next: create the first admin \(clients must log in\): signalk-edge user add <name> --permission admin --data \/data\/signalk-edge/,
  );

  const before = treeHash(root);
  const second = await sh(INSTALL, ['--root', root, '--tarball', tarball]);
  t.is(second.code, 0, second.out);
  t.regex(second.out, /nothing changed: already installed/);
  t.is(treeHash(root), before, 'second install left the tree identical (board read back from the run script)');

  const un = await sh(INSTALL, ['--root', root, '--uninstall', '--tarball', tarball]);
  t.is(un.code, 0, un.out);
  t.false(existsSync(join(root, 'data', 'signalk-edge-app')));
  t.false(existsSync(join(root, 'data', 'signalk-edge-service')));
  t.is(
    readFileSync(join(root, 'data', 'rc.local'), 'utf8'),
    '#!/bin/sh\necho other boot work\n',
    'rc.local back as it was',
  );
  t.true(existsSync(settingsFile), 'data kept');
});

for (const target of ['linux-arm64', 'linux-armv7'] as const) {
  test(`release.sh --target ${target}: every .node file is ${TARGETS[target].elfBits}-bit ${target} machine code, listed in release.json; CAN is in`, async (t) => {
    const tarball = await releaseTarball(t, target);
    const dir = mkdtempSync(join(tmpdir(), 'ske-unpack-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const x = await sh('tar', ['xzf', tarball, '-C', dir]);
    t.is(x.code, 0, x.out);
    const pkg = join(dir, 'signalk-edge');
    const files = nodeFiles(pkg);
    t.log(`${target}: ${(statSync(tarball).size / 1e6).toFixed(1)} MB, ${files.length} .node files`);
    for (const file of files) {
      const elf = readElfIdent(join(pkg, file));
      t.truthy(elf, `${file} is ELF`);
      t.is(elf!.machine, TARGETS[target].elfMachine, `${file}: ${elf!.machineName}`);
      t.is(elf!.bits, TARGETS[target].elfBits, `${file}: ${elf!.bits}-bit`);
    }
    t.false(
      files.some((f) => readElfIdent(join(pkg, f))?.machineName === 'x86-64'),
      'no x86-64 file',
    );
    const manifest = readManifest(pkg);
    t.is(manifest.target, target);
    t.is(manifest.node.abi, Number(process.versions.modules));
    t.deepEqual(
      manifest.addons.map((a) => a.file),
      files,
      'release.json lists every .node file',
    );
    t.true(manifest.addons.every((a) => a.machine === readElfIdent(join(pkg, a.file))!.machineName));
    // The addons NMEA 2000 over SocketCAN needs were built for the target, not left out.
    for (const f of [
      'node_modules/socketcan/build/Release/can.node',
      'node_modules/@canboat/canboatjs/build/Release/canSocket.node',
    ])
      t.true(files.includes(f), f);
    t.deepEqual(manifest.omitted, []);
    t.false(
      files.some((f) => f.includes('/obj.target/')),
      'no build leftovers',
    );
  });
}

test('install.sh refuses a tarball for another target or another Node ABI, naming the one to use; writes nothing', async (t) => {
  const x64 = await releaseTarball(t, 'linux-x64');
  const arm64Image = fakeImage({ node: 'linux-arm64' });
  t.teardown(() => rmSync(arm64Image, { recursive: true, force: true }));
  const wrongTarget = await sh(INSTALL, ['--root', arm64Image, '--board', 'rpi5', '--tarball', x64]);
  t.is(wrongTarget.code, 1, wrongTarget.out);
  t.regex(
    wrongTarget.out,
    /this tarball is for linux-x64, the machine is linux-arm64 \(the image's \/usr\/bin\/node \(AArch64, 64-bit\)\)/,
  );
  t.regex(
    wrongTarget.out,
    /use signalk-edge-0\.1\.0-linux-arm64\.tar\.gz \(scripts\/release\.sh --target linux-arm64\)/,
  );
  t.false(existsSync(join(arm64Image, 'opt')), 'nothing installed');

  const armv7 = await releaseTarball(t, 'linux-armv7');
  const node22 = fakeImage({ node: 'linux-armv7', nodejsPackage: '22.12.0+dfsg-1' });
  t.teardown(() => rmSync(node22, { recursive: true, force: true }));
  const wrongAbi = await sh(INSTALL, ['--root', node22, '--board', 'rpi4', '--tarball', armv7]);
  t.is(wrongAbi.code, 1, wrongAbi.out);
  t.regex(
    wrongAbi.out,
    new RegExp(
      `its addons are for Node ABI ${process.versions.modules} .* the machine's is 127 \\(nodejs 22\\.x in the image's /var/lib/dpkg/status\\)`,
    ),
  );
  t.false(existsSync(join(node22, 'opt')), 'nothing installed');

  // A 32-bit OS on a Pi 4 takes the armv7 tarball; one whose node cannot be seen must be told.
  const noNode = fakeImage();
  t.teardown(() => rmSync(noNode, { recursive: true, force: true }));
  const unknown = await sh(INSTALL, ['--root', noNode, '--board', 'rpi4', '--tarball', armv7]);
  t.is(unknown.code, 1, unknown.out);
  t.regex(
    unknown.out,
    /cannot tell the machine's target: the image has no \/usr\/bin\/node and board rpi4 comes as linux-arm64 or linux-armv7/,
  );
});

test('upgrade under --root: releases side by side, data backed up, second run changes nothing, --rollback by hand', async (t) => {
  const root = fakeImage({ node: 'linux-arm64' });
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const v1 = await releaseTarball(t, 'linux-arm64');
  const v2 = await variant(v1, '0.2.0');
  const opt = join(root, 'opt', 'signalk-edge');
  const data = join(root, 'var', 'lib', 'signalk-edge');
  const first = await sh(INSTALL, ['--root', root, '--board', 'rpi4', '--tarball', v1]);
  t.is(first.code, 0, first.out);
  mkdirSync(join(data, 'plugin-config-data', 'anchor-alarm'), { recursive: true });
  writeFileSync(join(data, 'plugin-config-data', 'anchor-alarm', 'state.json'), '{"radius":40}');
  const settings = readFileSync(join(data, 'settings.json'), 'utf8');

  const up = await sh(INSTALL, ['--root', root, '--tarball', v2]);
  t.is(up.code, 0, up.out);
  t.log(up.out);
  t.deepEqual(readdirSync(join(opt, 'releases')).sort(), ['0.1.0', '0.2.0']);
  t.is(readlinkSync(join(opt, 'current')), 'releases/0.2.0');
  t.is(readlinkSync(join(opt, 'previous')), 'releases/0.1.0');
  t.is(JSON.parse(readFileSync(join(opt, 'current', 'package.json'), 'utf8')).version, '0.2.0');
  t.is(
    readFileSync(join(data, 'backups', '0.1.0', 'settings.json'), 'utf8'),
    settings,
    'settings backed up before the switch',
  );
  t.is(
    readFileSync(join(data, 'backups', '0.1.0', 'plugin-config-data', 'anchor-alarm', 'state.json'), 'utf8'),
    '{"radius":40}',
  );
  t.is(readFileSync(join(data, 'settings.json'), 'utf8'), settings, 'settings kept');
  t.regex(readFileSync(join(opt, 'upgrades.log'), 'utf8'), /switched from 0\.1\.0 to 0\.2\.0 \(linux-arm64\)$/m);

  const before = treeHash(root);
  const again = await sh(INSTALL, ['--root', root, '--tarball', v2]);
  t.is(again.code, 0, again.out);
  t.regex(again.out, /nothing changed: already installed/);
  t.is(treeHash(root), before, 'a second upgrade run changes nothing');

  // 0.2.0 "migrated" the plugin's data; rolling back puts 0.1.0's back and keeps 0.2.0's aside.
  writeFileSync(join(data, 'plugin-config-data', 'anchor-alarm', 'state.json'), '{"radiusMeters":40}');
  const back = await sh(join(opt, 'current', 'scripts', 'install.sh'), ['--root', root, '--rollback']);
  t.is(back.code, 0, back.out);
  t.log(back.out);
  t.is(readlinkSync(join(opt, 'current')), 'releases/0.1.0');
  t.is(readlinkSync(join(opt, 'previous')), 'releases/0.2.0');
  t.is(
    readFileSync(join(data, 'plugin-config-data', 'anchor-alarm', 'state.json'), 'utf8'),
    '{"radius":40}',
    '0.1.0 data restored',
  );
  t.is(
    readFileSync(join(data, 'backups', '0.2.0', 'plugin-config-data', 'anchor-alarm', 'state.json'), 'utf8'),
    '{"radiusMeters":40}',
    "0.2.0's data kept",
  );
  t.is(readFileSync(join(data, 'settings.json'), 'utf8'), settings);
  t.regex(readFileSync(join(opt, 'upgrades.log'), 'utf8'), /rollback by hand from 0\.2\.0 to 0\.1\.0$/m);
});

/** A fake systemctl on PATH, driving fake-systemd.js for the unit under root. */
function standInSystemd(t: ExecutionContext, root: string): { env: NodeJS.ProcessEnv; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ske-systemd-'));
  const bin = join(dir, 'systemctl');
  writeFileSync(
    bin,
    `#!/bin/sh\nexec ${process.execPath} ${join(PROJECT_ROOT, 'dist', 'test', 'helpers', 'fake-systemctl.js')} "$@"\n`,
  );
  chmodSync(bin, 0o755);
  const env = { SYSTEMCTL: bin, FAKE_SYSTEMD_DIR: dir, FAKE_SYSTEMD_ROOT: root, FAKE_RESTART_SEC: '1' };
  t.teardown(async () => {
    await sh(bin, ['stop', 'signalk-edge.service'], { env });
    rmSync(dir, { recursive: true, force: true });
  });
  return { env, dir };
}

test('stand-in service manager: upgrades that never send READY or trip the watchdog are rolled back by themselves, data intact; --rollback by hand', async (t) => {
  const root = fakeImage({ node: 'linux-x64' });
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const v1 = await releaseTarball(t, 'linux-x64');
  // A stand-in for a broken build: it starts and runs but never tells systemd READY=1.
  const never = await variant(v1, '0.2.0', (pkg) =>
    writeFileSync(join(pkg, 'dist', 'runtime', 'cli', 'main.js'), 'setInterval(() => {}, 1000);\n'),
  );
  const good = await variant(v1, '0.3.0');
  const { env, dir } = standInSystemd(t, root);
  // A real start needs a few seconds, more on a busy machine; the broken build is given less.
  const health = ['--health-timeout', '120', '--settle', '3'];
  const short = ['--health-timeout', '30', '--settle', '3'];
  const data = join(root, 'var', 'lib', 'signalk-edge');
  const opt = join(root, 'opt', 'signalk-edge');
  // Settings for this host: data inside the root, API on a free loopback port.
  mkdirSync(join(data, 'plugin-config-data', 'anchor-alarm'), { recursive: true });
  const settings = JSON.stringify(
    {
      board: 'generic',
      host: '127.0.0.1',
      port: 0,
      dataDir: data,
      cacheDir: join(root, 'var', 'cache', 'signalk-edge'),
      sources: [],
    },
    null,
    2,
  );
  writeFileSync(join(data, 'settings.json'), settings);
  writeFileSync(join(data, 'plugin-config-data', 'anchor-alarm', 'state.json'), '{"radius":40}');

  const first = await sh(INSTALL, ['--root', root, '--board', 'generic', '--tarball', v1, ...health], { env });
  t.is(first.code, 0, first.out + readFileSync(join(dir, 'service.log'), 'utf8'));
  t.regex(first.out, /started signalk-edge\.service 0\.1\.0: READY, then no restart for 3 s/);
  t.is(readState(dir).ActiveState, 'active');
  const pid1 = readState(dir).MainPID;

  const second = await sh(INSTALL, ['--root', root, '--tarball', v1, ...health], { env });
  t.is(second.code, 0, second.out);
  t.regex(second.out, /nothing changed: already installed/);
  t.is(readState(dir).MainPID, pid1, 'not restarted');

  const bad = await sh(INSTALL, ['--root', root, '--tarball', never, ...short], { env });
  t.log(bad.out);
  t.is(bad.code, 3, bad.out);
  t.regex(bad.out, /0\.2\.0 is not healthy: no READY within 30 s \(activating\/start\)/);
  t.regex(bad.out, /upgrade failed and was rolled back: now running 0\.1\.0 again/);
  t.is(readlinkSync(join(opt, 'current')), 'releases/0.1.0');
  t.is(readState(dir).ActiveState, 'active', '0.1.0 serving again');
  t.is(readFileSync(join(data, 'settings.json'), 'utf8'), settings, 'settings intact');
  t.is(
    readFileSync(join(data, 'plugin-config-data', 'anchor-alarm', 'state.json'), 'utf8'),
    '{"radius":40}',
    'plugin data intact',
  );
  const log = readFileSync(join(opt, 'upgrades.log'), 'utf8');
  t.regex(log, /0\.2\.0 failed after the switch from 0\.1\.0: no READY within 30 s/);
  t.regex(log, /automatic rollback from 0\.2\.0 to 0\.1\.0: 0\.2\.0: no READY/);

  const up = await sh(INSTALL, ['--root', root, '--tarball', good, ...health], { env });
  t.is(up.code, 0, up.out);
  t.is(readlinkSync(join(opt, 'current')), 'releases/0.3.0');
  await waitFor(() => readState(dir).ActiveState === 'active', '0.3.0 active');
  const byHand = await sh(join(opt, 'current', 'scripts', 'install.sh'), ['--root', root, '--rollback', ...health], {
    env,
  });
  t.is(byHand.code, 0, byHand.out);
  t.is(readlinkSync(join(opt, 'current')), 'releases/0.1.0');
  t.is(readState(dir).ActiveState, 'active');
  t.is(readFileSync(join(data, 'settings.json'), 'utf8'), settings);

  // A build that reports READY and then never feeds the watchdog (its unit says WatchdogSec=3).
  const hangs = await variant(v1, '0.4.0', (pkg) => {
    writeFileSync(
      join(pkg, 'dist', 'runtime', 'cli', 'main.js'),
      "import { spawnSync } from 'node:child_process';\nspawnSync('systemd-notify', ['--ready']);\nsetInterval(() => {}, 1000);\n",
    );
    const unit = join(pkg, 'systemd', 'signalk-edge.service');
    writeFileSync(unit, readFileSync(unit, 'utf8').replace(/^WatchdogSec=30$/m, 'WatchdogSec=3'));
  });
  const tripped = await sh(INSTALL, ['--root', root, '--tarball', hangs, '--health-timeout', '60', '--settle', '10'], {
    env,
  });
  t.log(tripped.out);
  t.is(tripped.code, 3, tripped.out);
  t.regex(tripped.out, /0\.4\.0 is not healthy: restarted within 10 s of READY, crash or watchdog/);
  t.regex(readFileSync(join(dir, 'service.log'), 'utf8'), /fake-systemd: watchdog timeout/);
  t.is(readlinkSync(join(opt, 'current')), 'releases/0.1.0');
  t.is(readState(dir).ActiveState, 'active');
  t.regex(
    readFileSync(join(root, 'etc', 'systemd', 'system', 'signalk-edge.service'), 'utf8'),
    /^WatchdogSec=30$/m,
    "0.1.0's unit back",
  );
  t.is(readFileSync(join(data, 'settings.json'), 'utf8'), settings);
  t.is(readFileSync(join(data, 'plugin-config-data', 'anchor-alarm', 'state.json'), 'utf8'), '{"radius":40}');
});
