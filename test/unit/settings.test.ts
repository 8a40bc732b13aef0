import test from 'ava';
import { basename, join } from 'node:path';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { loadSettings, parseSettings, demoSettings, DEMO_LOG, PROJECT_ROOT } from '../../runtime/config/settings.js';
import { SettingsError } from '../../core/settings-reader.js';

const file = '/etc/signalk-edge/settings.json';

test('a full settings file parses with defaults filled in', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ske-settings-'));
  writeFileSync(join(dir, 'log.nmea'), '');
  const s = parseSettings(
    {
      port: 3100,
      dataDir: 'data',
      sources: [
        { id: 'nmea1', type: 'serial', device: '/dev/ttyUSB0' },
        { id: 'r', type: 'replay', file: 'log.nmea', rate: 'fast' },
      ],
    },
    join(dir, 'settings.json'),
  );
  t.is(s.port, 3100);
  t.is(s.dataDir, join(dir, 'data'));
  t.deepEqual(s.sources[0], { id: 'nmea1', type: 'serial', device: '/dev/ttyUSB0', baudRate: 4800 });
  t.like(s.sources[1], { id: 'r', type: 'replay', file: join(dir, 'log.nmea'), rate: 'fast', loop: false });
});

test("upstream's resourcesApi.defaultProviders setting is read", (t) => {
  t.deepEqual(
    parseSettings({ resourcesApi: { defaultProviders: { routes: 'my-routes-plugin' } } }, file).resourcesApi,
    { defaultProviders: { routes: 'my-routes-plugin' } },
  );
});

test('errors name the bad key', (t) => {
  const bad: [unknown, string][] = [
    [[], 'must be an object'],
    [{ port: 70000 }, 'port: must be an integer from 0 to 65535'],
    [{ prot: 3000 }, 'prot: unknown key'],
    [{ sources: {} }, 'sources: must be an array'],
    [
      { sources: [{ id: 'a', type: 'serial', device: '/dev/x', baudRate: 4801 }] },
      'sources[0].baudRate: must be one of',
    ],
    [{ sources: [{ id: 'a', type: 'serial' }] }, 'sources[0].device: must be a non-empty string'],
    [{ sources: [{ id: 'a', type: 'modem' }] }, 'sources[0].type: must be one of serial, replay'],
    [
      {
        sources: [
          { id: 'a', type: 'serial', device: '/dev/x' },
          { id: 'a', type: 'serial', device: '/dev/y' },
        ],
      },
      'sources[1].id: duplicate',
    ],
    [{ sources: [{ id: 'a', type: 'replay', file: '/nonexistent/log' }] }, 'sources[0].file: no such file'],
    [{ selfUrn: 'boat' }, 'selfUrn: must look like'],
    [
      { resourcesApi: { defaultProviders: { routes: 7 } } },
      'resourcesApi.defaultProviders.routes: must be a non-empty string',
    ],
    [{ resourcesApi: { defaults: {} } }, 'resourcesApi.defaults: unknown key'],
  ];
  for (const [input, msg] of bad) {
    const err = t.throws(() => parseSettings(input, file), { instanceOf: SettingsError });
    t.true(err?.message.includes(msg), `${err?.message} should include ${msg}`);
  }
});

test('unreadable or invalid JSON files give a clear error', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ske-settings-'));
  const p = join(dir, 's.json');
  writeFileSync(p, '{ "port": ');
  t.throws(() => loadSettings(p), { message: /not valid JSON/ });
  t.throws(() => loadSettings(join(dir, 'missing.json')), { message: /cannot read/ });
});

test('the demo default replays the bundled log on localhost', (t) => {
  const s = demoSettings('/tmp/x');
  t.is(s.host, '127.0.0.1');
  t.is(s.port, 3000);
  t.like(s.sources[0], { type: 'replay', file: DEMO_LOG, loop: true });
  // Every library example that is built, not the command-plugin one (no serial port in the demo,
  // ~90 MB sandbox); the Rust example only where Debian's toolchain built it.
  const rust = existsSync(join(PROJECT_ROOT, 'examples', 'depth-watch-rust', 'plugin.wasm'))
    ? ['depth-watch-rust']
    : [];
  t.deepEqual(s.plugins.dirs.map((d) => basename(d)).sort(), [
    'anchor-light',
    ...rust,
    'nmea-proprietary',
    'trip-log',
    'true-wind',
  ]);
});
