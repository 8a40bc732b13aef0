// `signalk-edge compile` as the installer runs it: a child process that fills the AOT cache for
// every installed plugin, reports progress on stderr and a summary, and exits 1 when one failed.

import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';
import { FIXTURES, pluginFolder } from '../helpers/plugins.js';

const CLI = join(PROJECT_ROOT, 'dist', 'runtime', 'cli', 'main.js');

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

test('help lists compile the way scripts/install.sh looks for it', async (t) => {
  const help = await cli(['help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /^ *compile\b/m);
  t.regex(readFileSync(join(PROJECT_ROOT, 'scripts', 'install.sh'), 'utf8'), /main\.js" compile --data "\$DATA_DIR"/);
});

test('compile fills the cache, then finds it full; a broken plugin is named and fails the run', async (t) => {
  const plugins = await pluginFolder([
    { from: FIXTURES, name: 'derive-all' },
    { from: FIXTURES, name: 'alloc-on-delta' },
    { from: FIXTURES, name: 'derive-all', as: 'truncated' },
  ]);
  const pkgFile = join(plugins, 'truncated', 'package.json');
  writeFileSync(pkgFile, JSON.stringify({ ...JSON.parse(readFileSync(pkgFile, 'utf8')), name: 'truncated-plugin' }));
  const wasm = join(plugins, 'truncated', 'plugin.wasm');
  writeFileSync(wasm, readFileSync(wasm).subarray(0, 1000));

  const dataDir = mkdtempSync(join(tmpdir(), 'ske-data-'));
  const cacheDir = join(dataDir, 'aot');
  const settingsFile = join(dataDir, 'settings.json');
  writeFileSync(settingsFile, JSON.stringify({ dataDir, cacheDir, board: 'rpi4', plugins: { dirs: [plugins] } }));
  t.teardown(() => {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(plugins, { recursive: true, force: true });
  });

  const first = await cli(['compile', '--settings', settingsFile]);
  t.is(first.code, 1, first.stdout + first.stderr);
  t.regex(first.stdout, /2 compiled, 0 cached already, 1 failed \(cache: .*aot\)/);
  t.regex(first.stdout, /failed truncated-plugin: plugin truncated-plugin: truncated module/);
  // Not a terminal: one progress line per plugin.
  const progress = first.stderr.split('\n').filter((l) => /^\[[#.]+\] \d\/3 /.test(l));
  t.is(progress.length, 3, first.stderr);
  t.regex(progress[2] ?? '', /^\[#+\] 3\/3 /);
  t.is(readdirSync(cacheDir).filter((f) => f.endsWith('.prep')).length, 2);

  rmSync(join(plugins, 'truncated'), { recursive: true });
  const second = await cli(['compile', '--settings', settingsFile]);
  t.is(second.code, 0, second.stdout + second.stderr);
  t.regex(second.stdout, /0 compiled, 2 cached already, 0 failed/);

  // Another board has another per-plugin budget, so other cache entries.
  const other = await cli(['compile', '--settings', settingsFile, '--board', 'cerbo-gx']);
  t.is(other.code, 0, other.stdout + other.stderr);
  t.regex(other.stdout, /2 compiled, 0 cached already, 0 failed/);
});
