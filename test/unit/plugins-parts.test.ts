// The plugin manager's parts that need no WASM: discovery, config schema checks, subscription
// filters, the config file and emitted-delta tagging.

import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { derivePluginId, discoverPlugins, type DiscoveredPackage } from '../../runtime/plugins/discovery.js';
import { validateConfig } from '../../runtime/plugins/config-schema.js';
import { subscriptionFilter } from '../../runtime/plugins/subscriptions.js';
import { readPluginConfig, writePluginConfig } from '../../runtime/plugins/plugin-config.js';
import { tagWithPlugin } from '../../runtime/plugins/host-services.js';
import { SignalKModel } from '../../runtime/model/model.js';
import type { JsonValue } from '../../core/json.js';
import { DEFAULT_PLUGIN_RESTART, parseSettings } from '../../runtime/config/settings.js';
import { SettingsError } from '../../core/settings-reader.js';

function writePackage(dir: string, pkg: unknown): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), typeof pkg === 'string' ? pkg : JSON.stringify(pkg));
}

function byId(found: DiscoveredPackage[]): Map<string, DiscoveredPackage> {
  return new Map(found.map((f) => [f.ok ? f.manifest.id : f.broken.id, f]));
}

test('plugin ids follow upstream: @scope/name becomes _scope_name', (t) => {
  t.is(derivePluginId('@signalk/example-weather-plugin'), '_signalk_example-weather-plugin');
  t.is(derivePluginId('my-simple-plugin'), 'my-simple-plugin');
});

test('discovery finds plain, scoped and node_modules layouts and lists broken manifests', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'ske-discovery-'));
  writePackage(join(root, 'plain'), { name: 'plain-plugin', version: '1.2.3', wasmManifest: 'plugin.wasm' });
  writePackage(join(root, 'node_modules', '@acme', 'wind'), {
    name: '@acme/wind',
    wasmManifest: 'build/wind.wasm',
    wasmCapabilities: { putHandlers: true, dataRead: false },
    signalkEdge: { subscriptions: [{ path: 'environment.wind.*' }, { context: '*', path: 'navigation.position' }] },
  });
  writePackage(join(root, 'node_modules', 'lib-only'), { name: 'lib-only', version: '1.0.0' });
  writePackage(join(root, 'not-json'), '{ "name": ');
  writePackage(join(root, 'escape'), { name: 'escape', wasmManifest: '../../etc/passwd' });
  writePackage(join(root, 'bad-cap'), {
    name: 'bad-cap',
    wasmManifest: 'p.wasm',
    wasmCapabilities: { network: 'yes' },
  });
  writePackage(join(root, 'bad-subs'), {
    name: 'bad-subs',
    wasmManifest: 'p.wasm',
    signalkEdge: { subscriptions: [{ context: 'x' }] },
  });
  writePackage(join(root, 'keyword-only'), { name: 'keyword-only', keywords: ['signalk-wasm-plugin'] });
  writePackage(join(root, 'zz-dup'), { name: 'plain-plugin', wasmManifest: 'plugin.wasm' });

  const found = byId(discoverPlugins([root]));
  const plain = found.get('plain-plugin');
  t.true(plain?.ok);
  if (plain?.ok) {
    t.is(plain.manifest.version, '1.2.3');
    t.is(plain.manifest.wasmPath, join(root, 'plain', 'plugin.wasm'));
    t.is(plain.manifest.subscriptions, undefined);
    t.like(plain.manifest.requested, { dataRead: true, dataWrite: true, putHandlers: false, network: false });
  }
  const wind = found.get('_acme_wind');
  t.true(wind?.ok);
  if (wind?.ok) {
    t.like(wind.manifest.requested, { putHandlers: true, dataRead: false });
    t.deepEqual(wind.manifest.subscriptions, [
      { path: 'environment.wind.*' },
      { context: '*', path: 'navigation.position' },
    ]);
  }
  t.false(found.has('lib-only'), 'a package without wasmManifest is not a WASM plugin');
  const errors = new Map(
    [...found.values()].filter((f) => !f.ok).map((f) => (f.ok ? ['', ''] : [f.broken.id, f.broken.error])),
  );
  t.regex(errors.get('not-json') ?? '', /package.json is not valid JSON/);
  t.regex(errors.get('escape') ?? '', /points outside the package folder/);
  t.regex(errors.get('bad-cap') ?? '', /wasmCapabilities.network must be true or false/);
  t.regex(errors.get('bad-subs') ?? '', /signalkEdge.subscriptions\[0\].path must be a non-empty string/);
  t.regex(errors.get('keyword-only') ?? '', /no wasmManifest/);
  t.true([...errors.values()].some((e) => /duplicate plugin id plain-plugin/.test(e)));
});

test('a plugin dir that is itself a package is found', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'ske-discovery-'));
  writePackage(root, { name: 'self-pkg', wasmManifest: 'plugin.wasm' });
  const found = discoverPlugins([root, join(root, 'missing')]);
  t.is(found.length, 1);
  t.true(found[0].ok);
});

const schema: JsonValue = {
  type: 'object',
  required: ['name'],
  properties: {
    name: { type: 'string' },
    rate: { type: 'number', minimum: 0.1, maximum: 10, default: 1 },
    mode: { type: 'string', enum: ['fast', 'slow'] },
    count: { type: 'integer' },
    targets: {
      type: 'array',
      items: { type: 'object', properties: { path: { type: 'string' }, on: { type: 'boolean', default: true } } },
    },
  },
};

test('config validation fills defaults and names each bad property', (t) => {
  const ok = validateConfig(schema, { name: 'x', targets: [{ path: 'a' }] });
  t.deepEqual(ok, { ok: true, value: { name: 'x', rate: 1, targets: [{ path: 'a', on: true }] } });

  const bad = validateConfig(schema, { rate: 20, mode: 'medium', count: 1.5, targets: [{ path: 3 }] });
  t.false(bad.ok);
  if (!bad.ok) {
    // ajv's order: `required` before the properties.
    t.deepEqual(bad.errors, [
      'configuration.name: is required',
      'configuration.rate: must be <= 10, got 20',
      'configuration.mode: must be one of "fast", "slow", got "medium"',
      'configuration.count: must be integer, got number 1.5',
      'configuration.targets[0].path: must be string, got number 3',
    ]);
  }
  t.deepEqual(validateConfig(undefined, { anything: 1 }), { ok: true, value: { anything: 1 } });
  t.false(validateConfig({ type: 'object' }, [1] as JsonValue).ok);
});

test('subscription filters match paths with wildcards and contexts with vessels.self', (t) => {
  const model = new SignalKModel('urn:mrn:imo:mmsi:123456789');
  const resolve = (c: string | undefined) => model.resolveContext(c);
  const wind = subscriptionFilter([{ path: 'environment.wind.*' }], model.selfContext, resolve);
  const v = (path: string, context?: string) => ({ context, updates: [{ values: [{ path, value: 1 }] }] });
  t.true(wind(v('environment.wind.speedApparent')));
  t.true(wind(v('environment.wind.speedApparent', model.selfContext)));
  t.true(wind(v('environment.wind.speedApparent', 'vessels.self')));
  t.false(wind(v('environment.wind.speedApparent', 'vessels.urn:mrn:imo:mmsi:987654321')));
  t.false(wind(v('environment.depth.belowKeel')));
  t.false(wind({ updates: [{ meta: [{ path: 'environment.wind.speedApparent', value: {} }] }] }));
  const any = subscriptionFilter([{ context: 'vessels.*', path: 'navigation.position' }], model.selfContext, resolve);
  t.true(any(v('navigation.position', 'vessels.urn:mrn:imo:mmsi:987654321')));
  const all = subscriptionFilter(undefined, model.selfContext, resolve);
  t.true(all({ updates: [{ meta: [{ path: 'x', value: {} }] }] }));
});

test('the config file keeps upstream keys and defaults to enabled', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ske-pcfg-'));
  const file = join(dir, 'p', 'p.json');
  t.deepEqual(readPluginConfig(file), { enabled: true, enableDebug: false, configuration: undefined });
  writeFileSync(join(dir, 'up.json'), JSON.stringify({ enabled: false, enableDebug: true, configuration: { a: 1 } }));
  writePluginConfig(join(dir, 'up.json'), { configuration: { a: 2 } });
  t.deepEqual(JSON.parse(readFileSync(join(dir, 'up.json'), 'utf8')), {
    enabled: false,
    enableDebug: true,
    configuration: { a: 2 },
  });
  writePluginConfig(file, { enabled: false });
  t.deepEqual(readPluginConfig(file), { enabled: false, enableDebug: false, configuration: {} });
  writeFileSync(join(dir, 'corrupt.json'), '[1,');
  t.throws(() => readPluginConfig(join(dir, 'corrupt.json')));
});

test('emitted deltas are tagged with the plugin whatever source they claimed', (t) => {
  const d = tagWithPlugin(
    { updates: [{ source: { label: 'gps', type: 'NMEA0183' }, $source: 'gps.GP', values: [{ path: 'a', value: 1 }] }] },
    'my-plugin',
  );
  t.deepEqual(d.updates[0].source, { label: 'my-plugin', type: 'plugin' });
  t.is(d.updates[0].$source, 'my-plugin');
});

test('plugin settings: restart policy and watch, with upstream defaults and errors naming the key', (t) => {
  const file = '/etc/signalk-edge/settings.json';
  const d = parseSettings({}, file);
  t.deepEqual(d.plugins.restart, { baseMs: 1000, maxMs: 30_000, maxCrashes: 3, stableMs: 30_000 });
  t.deepEqual(DEFAULT_PLUGIN_RESTART, d.plugins.restart);
  t.true(d.plugins.watch);
  const s = parseSettings({ plugins: { dirs: ['p'], watch: false, restart: { baseMs: 50, maxCrashes: 5 } } }, file);
  t.deepEqual(s.plugins, {
    dirs: ['/etc/signalk-edge/p'],
    watch: false,
    restart: { baseMs: 50, maxMs: 30_000, maxCrashes: 5, stableMs: 30_000 },
  });
  for (const [input, msg] of [
    [{ plugins: { watch: 'yes' } }, 'plugins.watch: must be true or false'],
    [{ plugins: { restart: { baseMs: 0 } } }, 'plugins.restart.baseMs: must be an integer from 1'],
    [{ plugins: { restart: { baseMs: 5000, maxMs: 100 } } }, 'plugins.restart.maxMs: must be an integer from 5000'],
    [{ plugins: { restart: { tries: 3 } } }, 'plugins.restart.tries: unknown key'],
  ] as const) {
    const err = t.throws(() => parseSettings(input, file), { instanceOf: SettingsError });
    t.true(err?.message.includes(msg), `${err?.message} should include ${msg}`);
  }
});
