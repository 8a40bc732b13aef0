import test from 'ava';
import { existsSync, lstatSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPlugin } from '../../runtime/engine/index.js';
import { ensurePluginStorage } from '../../runtime/storage/plugin-storage.js';
import { RecordingHost } from '../helpers/recording-host.js';
import { ensurePluginsBuilt, fixtureWasm } from '../helpers/plugin-wasm.js';

const SECRET = 'TOP SECRET host file';
const HOST_ENV = 'SIGNALK_EDGE_TEST_HOST_ONLY';

interface Attempt {
  errno: number;
  content: string;
}

/** Runs the vfs-escape fixture against a fresh VFS with a secret beside it and returns its reports. */
async function runEscape(t: { teardown(fn: () => void): void }) {
  const dataDir = mkdtempSync(join(tmpdir(), 'skedge-vfs-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const root = ensurePluginStorage(dataDir, 'vfs-escape');
  const secret = join(root, '..', 'secret.txt'); // just outside the VFS root
  writeFileSync(secret, SECRET);
  writeFileSync(join(root, 'secret.txt'), 'root-of-vfs');
  writeFileSync(join(root, 'data', 'inside.txt'), 'hello inside');
  symlinkSync(secret, join(root, 'data', 'link-out'));

  process.env[HOST_ENV] = 'must not leak';
  const host = new RecordingHost({ pluginId: 'vfs-escape' });
  const plugin = await loadPlugin({ id: 'vfs-escape', wasmPath: fixtureWasm('vfs-escape'), vfsRoot: root, host });
  const rc = plugin.start(JSON.stringify({ absolute: secret }));
  plugin.close();
  delete process.env[HOST_ENV];

  const attempts = new Map<string, Attempt>();
  const sizes = new Map<string, { count: number; bytes: number }>();
  for (const line of host.debugs) {
    const m = /^(\S+) errno=(\d+) content=([\s\S]*)$/.exec(line);
    if (m) attempts.set(m[1]!, { errno: Number(m[2]), content: m[3]! });
    const s = /^(environ|args) errno=0 count=(\d+) bytes=(\d+)$/.exec(line);
    if (s) sizes.set(s[1]!, { count: Number(s[2]), bytes: Number(s[3]) });
  }
  return { rc, root, secret, attempts, sizes, debugs: host.debugs };
}

test.before(async () => {
  await ensurePluginsBuilt();
});

test('a plugin reads inside its VFS but nothing outside it', async (t) => {
  const { rc, root, secret, attempts, debugs } = await runEscape(t);
  t.is(rc, 0);
  const get = (label: string): Attempt => {
    const a = attempts.get(label);
    if (!a) throw new Error(`no report for ${label}: ${debugs.join(' | ')}`);
    return a;
  };
  t.deepEqual(get('inside'), { errno: 0, content: 'hello inside' });
  // `..` stops at the VFS root (as at a chroot's /): the plugin sees its own root, never the parent.
  t.is(get('dotdot').content, 'root-of-vfs');
  t.is(get('nested-dotdot').content, 'root-of-vfs');
  t.not(get('absolute').errno, 0);
  t.not(get('host-symlink').errno, 0);
  t.not(get('stat-host-symlink').errno, 0);
  t.is(get('stat-dotdot').content, `size ${'root-of-vfs'.length}`);
  // readlink would show the host path the link names: refused, and the path is not in any report.
  t.is(get('readlink-host-symlink').errno, 76);
  t.not(get('own-symlink-absolute').errno, 0);
  t.is(get('own-symlink-relative').errno, 76);
  t.false(existsSync(join(root, 'data', 'own-abs')));
  t.throws(() => lstatSync(join(root, 'data', 'own-rel')));
  for (const line of debugs) {
    t.false(line.includes(SECRET), line);
    t.false(line.includes(secret), line);
  }
});

test('no host environment variable or argument is visible inside WASI (only PLUGIN_ID, as upstream)', async (t) => {
  const { sizes } = await runEscape(t);
  t.deepEqual(sizes.get('environ'), { count: 1, bytes: 'PLUGIN_ID=vfs-escape\0'.length });
  t.deepEqual(sizes.get('args'), { count: 0, bytes: 0 });
});
