import test from 'ava';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT, parseSettings } from '../../runtime/config/settings.js';

const INSTALL = join(PROJECT_ROOT, 'scripts', 'install.sh');
const RELEASE = join(PROJECT_ROOT, 'scripts', 'release.sh');

function sh(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
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

/** A mounted image as far as the installer cares: an /etc with passwd and group. */
function fakeImage(): string {
  const root = mkdtempSync(join(tmpdir(), 'ske-image-'));
  mkdirSync(join(root, 'etc'));
  writeFileSync(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
  writeFileSync(join(root, 'etc', 'group'), 'root:x:0:\ndialout:x:20:\n');
  return root;
}

// One release tarball for the tests of this file (release.sh copies the production dependencies).
const releaseDir = mkdtempSync(join(tmpdir(), 'ske-release-'));
process.once('exit', () => rmSync(releaseDir, { recursive: true, force: true }));
let release: Promise<{ tarball: string; out: string; ms: number }> | undefined;

async function releaseTarball(t: { log(...values: unknown[]): void; is(a: unknown, b: unknown, m?: string): void }): Promise<string> {
  const started = Date.now();
  release ??= sh(RELEASE, ['--no-build', '--out', releaseDir]).then((r) => {
    const tarball = /release: (\S+\.tar\.gz)/.exec(r.out)?.[1];
    if (r.code !== 0 || !tarball || !existsSync(tarball)) throw new Error(`release.sh failed: ${r.out}`);
    return { tarball, out: r.out, ms: Date.now() - started };
  });
  const made = await release;
  t.log(`release.sh: ${made.ms} ms; ${made.out.trim().split('\n').pop()?.trim()}`);
  return made.tarball;
}

test('release tarball → install.sh --root: tree, enablement, board config; idempotent; uninstall keeps data', async (t) => {
  const root = fakeImage();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const tarball = await releaseTarball(t);

  const first = await sh(INSTALL, ['--root', root, '--board', 'rpi4', '--tarball', tarball]);
  t.is(first.code, 0, first.out);
  t.log(first.out);

  // The program, with its production dependencies for an offline boat, and no dev dependencies.
  const prefix = join(root, 'opt', 'signalk-edge');
  for (const f of ['dist/runtime/cli/main.js', 'dist/runtime/app.js', 'boards/rpi4.json', 'node_modules/ws/package.json', 'node_modules/serialport/package.json', 'node_modules/@signalk/nmea0183-signalk/package.json']) {
    t.true(existsSync(join(prefix, f)), f);
  }
  t.false(existsSync(join(prefix, 'node_modules', 'ava')), 'no dev dependencies');
  t.false(existsSync(join(prefix, 'dist', 'test')), 'no tests');

  // Unit, board drop-in, enablement by symlink.
  const units = join(root, 'etc', 'systemd', 'system');
  t.is(readFileSync(join(units, 'signalk-edge.service'), 'utf8'), readFileSync(join(PROJECT_ROOT, 'systemd', 'signalk-edge.service'), 'utf8'));
  const dropIn = readFileSync(join(units, 'signalk-edge.service.d', '10-board.conf'), 'utf8');
  t.regex(dropIn, /^MemoryMax=768M$/m);
  t.regex(dropIn, /^DeviceAllow=char-ttyUSB rw$/m);
  t.regex(dropIn, /^ExecStart=\/usr\/bin\/node --max-old-space-size=384 \/opt\/signalk-edge\/dist\/runtime\/cli\/main\.js run --data \/var\/lib\/signalk-edge --board rpi4$/m);
  t.is(readlinkSync(join(units, 'multi-user.target.wants', 'signalk-edge.service')), '/etc/systemd/system/signalk-edge.service');

  // User in dialout, in the image's files.
  t.regex(readFileSync(join(root, 'etc', 'passwd'), 'utf8'), /^signalk-edge:x:\d+:\d+:[^:]*:\/var\/lib\/signalk-edge:\/usr\/sbin\/nologin$/m);
  t.regex(readFileSync(join(root, 'etc', 'group'), 'utf8'), /^dialout:x:20:signalk-edge$/m);

  // A valid settings file for the board, data and cache folders.
  const settingsFile = join(root, 'var', 'lib', 'signalk-edge', 'settings.json');
  const settings = parseSettings(JSON.parse(readFileSync(settingsFile, 'utf8')), settingsFile);
  t.is(settings.board, 'rpi4');
  t.is(settings.cacheDir, '/var/cache/signalk-edge');
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
  t.false(existsSync(prefix));
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
  const tarball = await releaseTarball(t);

  const first = await sh(INSTALL, ['--root', root, '--board', 'cerbo-gx', '--tarball', tarball]);
  t.is(first.code, 0, first.out);
  t.log(first.out);
  t.true(existsSync(join(root, 'data', 'signalk-edge-app', 'dist', 'runtime', 'cli', 'main.js')), 'program under /data (root fs is replaced by updates)');
  t.false(existsSync(join(root, 'etc', 'systemd', 'system', 'signalk-edge.service')), 'no systemd unit');
  t.false(existsSync(join(root, 'usr', 'local', 'bin', 'signalk-edge')));
  const run = readFileSync(join(root, 'data', 'signalk-edge-service', 'run'), 'utf8');
  t.regex(run, /^exec 2>&1$/m);
  t.regex(run, /^exec \/usr\/bin\/node --max-old-space-size=128 \/data\/signalk-edge-app\/dist\/runtime\/cli\/main\.js run --data \/data\/signalk-edge --board cerbo-gx$/m);
  t.is(lstatSync(join(root, 'data', 'signalk-edge-service', 'run')).mode & 0o777, 0o755);
  t.regex(readFileSync(join(root, 'data', 'signalk-edge-service', 'log', 'run'), 'utf8'), /^exec multilog t .* \/var\/log\/signalk-edge$/m);
  const rcLocal = readFileSync(join(root, 'data', 'rc.local'), 'utf8');
  t.regex(rcLocal, /^echo other boot work$/m, 'existing boot work kept');
  t.regex(rcLocal, /^ln -sfn \/data\/signalk-edge-service \/service\/signalk-edge$/m);
  const settingsFile = join(root, 'data', 'signalk-edge', 'settings.json');
  t.is(parseSettings(JSON.parse(readFileSync(settingsFile, 'utf8')), settingsFile).board, 'cerbo-gx');

  const before = treeHash(root);
  const second = await sh(INSTALL, ['--root', root, '--tarball', tarball]);
  t.is(second.code, 0, second.out);
  t.regex(second.out, /nothing changed: already installed/);
  t.is(treeHash(root), before, 'second install left the tree identical (board read back from the run script)');

  const un = await sh(INSTALL, ['--root', root, '--uninstall', '--tarball', tarball]);
  t.is(un.code, 0, un.out);
  t.false(existsSync(join(root, 'data', 'signalk-edge-app')));
  t.false(existsSync(join(root, 'data', 'signalk-edge-service')));
  t.is(readFileSync(join(root, 'data', 'rc.local'), 'utf8'), '#!/bin/sh\necho other boot work\n', 'rc.local back as it was');
  t.true(existsSync(settingsFile), 'data kept');
});
