import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPlugin, PluginLoadError } from '../../runtime/engine/index.js';
import { ensurePluginStorage } from '../../runtime/storage/plugin-storage.js';
import { RecordingHost } from '../helpers/recording-host.js';
import { ensurePluginsBuilt, exampleWasm, fixtureWasm } from '../helpers/plugin-wasm.js';

let dataDir = '';

test.before(async () => {
  await ensurePluginsBuilt();
  dataDir = await mkdtemp(join(tmpdir(), 'skedge-engine-'));
});

test.after.always(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

function load(id: string, wasmPath: string, host = new RecordingHost({ pluginId: id })) {
  return { host, plugin: loadPlugin({ id, wasmPath, vfsRoot: ensurePluginStorage(dataDir, id), host }) };
}

const selfDelta = (values: { path: string; value: unknown }[]): string =>
  JSON.stringify({
    context: 'vessels.self',
    updates: [{ source: { label: 'test' }, timestamp: new Date().toISOString(), values }],
  });

async function loadError(id: string, wasmPath: string): Promise<PluginLoadError> {
  const { plugin } = load(id, wasmPath);
  const err = await plugin.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof PluginLoadError)) throw new Error(`expected PluginLoadError, got ${String(err)}`);
  return err;
}

test('true-wind: lifecycle and derived true wind from apparent wind, speed and heading', async (t) => {
  const { host, plugin: p } = load('true-wind', exampleWasm('true-wind'));
  const plugin = await p;
  t.is(plugin.name, 'True wind');
  t.deepEqual(plugin.schema, { type: 'object', properties: {} });
  t.true(plugin.hasDeltaHandler);
  t.is(plugin.start('{}'), 0);
  t.true(host.statuses.some((s) => s.startsWith('Waiting')));

  const awa = 0.6,
    aws = 9.5,
    stw = 4.2,
    heading = 1.1;
  plugin.deliverDelta(
    selfDelta([
      { path: 'navigation.speedThroughWater', value: stw },
      { path: 'navigation.headingTrue', value: heading },
    ]),
  );
  t.is(host.deltas.length, 0, 'no output before apparent wind is known');
  plugin.deliverDelta(
    selfDelta([
      { path: 'environment.wind.angleApparent', value: awa },
      { path: 'environment.wind.speedApparent', value: aws },
    ]),
  );
  t.is(host.deltas.length, 1);
  t.is(host.deltas[0]!.version, 1);

  const x = aws * Math.cos(awa) - stw;
  const y = aws * Math.sin(awa);
  const out = host.emittedValues();
  t.true(Math.abs((out.get('environment.wind.angleTrueWater') as number) - Math.atan2(y, x)) < 1e-9);
  t.true(Math.abs((out.get('environment.wind.speedTrue') as number) - Math.hypot(x, y)) < 1e-9);
  t.true(
    Math.abs((out.get('environment.wind.directionTrue') as number) - ((heading + Math.atan2(y, x)) % (2 * Math.PI))) <
      1e-9,
  );
  t.is(JSON.parse(host.deltas[0]!.json).context, 'vessels.self');
  t.is(plugin.stop(), 0);
  plugin.close();
});

test('trip-log: state kept in its VFS across restarts', async (t) => {
  const first = load('trip-log', exampleWasm('trip-log'));
  const a = await first.plugin;
  t.true(a.hasPoll);
  t.is(a.start('{}'), 0);
  const pos = (latitude: number, longitude: number) =>
    selfDelta([{ path: 'navigation.position', value: { latitude, longitude } }]);
  a.deliverDelta(pos(60.0, 24.0));
  a.deliverDelta(pos(60.01, 24.0)); // 0.01° of latitude ≈ 1112 m
  t.is(a.stop(), 0);
  a.close();

  const stateFile = join(dataDir, 'plugin-config-data', 'trip-log', 'vfs', 'data', 'state.json');
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as {
    deltas: number;
    distance: number;
    lastPosition: { latitude: number };
  };
  t.is(state.deltas, 2);
  t.true(Math.abs(state.distance - 1111.95) < 1, `distance ${state.distance}`);
  t.is(state.lastPosition.latitude, 60.01);

  const second = load('trip-log', exampleWasm('trip-log'));
  const b = await second.plugin;
  t.is(b.start('{}'), 0);
  t.true(
    second.host.statuses.some((s) => s.includes('2 positions')),
    second.host.statuses.join('|'),
  );
  b.deliverDelta(pos(60.02, 24.0));
  const log = second.host.emittedValues().get('navigation.trip.log') as number;
  t.true(Math.abs(log - 2 * 1111.95) < 2, `trip log ${log}`);
  t.is(b.stop(), 0);
  b.close();
});

test('anchor-light: registers a PUT handler, PUT emits the new state and answers COMPLETED', async (t) => {
  const { host, plugin: p } = load('anchor-light', exampleWasm('anchor-light'));
  const plugin = await p;
  t.is(plugin.start('{}'), 0);
  t.deepEqual(host.putHandlers, [{ context: 'vessels.self', path: 'electrical.switches.anchorLight.state' }]);
  t.is(host.emittedValues().get('electrical.switches.anchorLight.state'), 0);

  t.deepEqual(plugin.handlePut('vessels.self', 'electrical.switches.anchorLight.state', 'true'), {
    state: 'COMPLETED',
    statusCode: 200,
  });
  t.is(host.emittedValues().get('electrical.switches.anchorLight.state'), 1);
  const bad = plugin.handlePut('vessels.self', 'electrical.switches.anchorLight.state', '"dim"');
  t.is(bad.statusCode, 400);
  t.is(host.emittedValues().get('electrical.switches.anchorLight.state'), 1);
  t.is(plugin.handlePut('vessels.self', 'electrical.switches.deckLight.state', '1').statusCode, 501);
  plugin.close();
});

test('anchor-light: start fails with an error status when the host refuses the PUT handler', async (t) => {
  const host = new RecordingHost({ pluginId: 'anchor-light-denied', allowPut: false });
  const plugin = await load('anchor-light-denied', exampleWasm('anchor-light'), host).plugin;
  t.is(plugin.start('{}'), 1);
  t.true(host.errors.some((e) => e.includes('not registered')));
  plugin.close();
});

test('missing import is refused, naming the plugin and the import', async (t) => {
  const err = await loadError('missing-import', fixtureWasm('missing-import'));
  t.is(err.pluginId, 'missing-import');
  t.is(err.message, 'plugin missing-import: missing import env.sk_nonexistent');
});

test('truncated module is refused with the cause', async (t) => {
  const bytes = await readFile(exampleWasm('true-wind'));
  const cut = join(dataDir, 'cut.wasm');
  await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
  const err = await loadError('cut', cut);
  t.regex(err.message, /^plugin cut: truncated module: the \w[\w ]* section needs \d+ bytes but only \d+ remain/);
});

test('wrong magic number and empty or missing files are refused with the cause', async (t) => {
  const bytes = Buffer.from(await readFile(exampleWasm('true-wind')));
  bytes[0] = bytes[0]! ^ 0xff;
  const flipped = join(dataDir, 'flipped.wasm');
  await writeFile(flipped, bytes);
  t.regex(
    (await loadError('flipped', flipped)).message,
    /^plugin flipped: not a wasm module \(bad magic: expected 0061736d, got ff61736d\)/,
  );

  const empty = join(dataDir, 'empty.wasm');
  await writeFile(empty, '');
  t.regex((await loadError('empty', empty)).message, /empty file/);
  t.regex((await loadError('absent', join(dataDir, 'absent.wasm'))).message, /^plugin absent: cannot read .*ENOENT/);
});

test('a trap in start or in delta_handler surfaces as an exception to the caller', async (t) => {
  const onStart = await load('trap-on-start', fixtureWasm('trap-on-start')).plugin;
  t.throws(() => onStart.start('{}'), { instanceOf: WebAssembly.RuntimeError, message: /unreachable/ });
  onStart.close();

  const { host, plugin: p } = load('trap-on-delta', fixtureWasm('trap-on-delta'));
  const onDelta = await p;
  t.is(onDelta.start('{}'), 0);
  t.deepEqual(host.statuses, ['started']);
  t.throws(() => onDelta.deliverDelta(selfDelta([{ path: 'a.b', value: 1 }])), {
    instanceOf: WebAssembly.RuntimeError,
  });
  onDelta.close();
  t.throws(() => onDelta.start('{}'), { message: /closed/ });
});

test('host functions given out-of-range pointers return their error codes and read nothing', async (t) => {
  const host = new RecordingHost({
    pluginId: 'bad-pointers',
    values: { 'vessels.self.navigation.position': { latitude: 60, longitude: 24 } },
    config: { big: 'x'.repeat(100) },
    capabilities: ['rawSockets'],
  });
  const plugin = await load('bad-pointers', fixtureWasm('bad-pointers'), host).plugin;
  t.is(plugin.start('{}'), 0);
  const results = Object.fromEntries(host.statuses[0]!.split(',').map((kv) => kv.split('=') as [string, string]));
  t.deepEqual(results, {
    get_self_path: '0',
    get_self_path_buf: '0',
    get_path: '0',
    read_config: '0',
    read_config_neg: '0',
    save_config: '-1',
    publish_notification: '-1',
    has_capability: '0',
    register_put_handler: '0',
    udp_send: '-1',
    tcp_send: '-1',
  });
  t.deepEqual(host.debugs, []);
  t.deepEqual(host.deltas, []);
  t.deepEqual(host.savedConfigs, []);
  t.deepEqual(host.putHandlers, []);
  plugin.close();
});

test('derive-all: one derived value per delta', async (t) => {
  const { host, plugin: p } = load('derive-all', fixtureWasm('derive-all'));
  const plugin = await p;
  t.is(plugin.start('{}'), 0);
  for (let i = 0; i < 50; i++)
    plugin.deliverDelta(selfDelta([{ path: 'environment.depth.belowTransducer', value: i + 0.5 }]));
  t.is(host.deltas.length, 50);
  t.is(host.emittedValues().get('bench.derived'), 2 * 49.5);
  plugin.close();
});

test('a delta string stays whole through a full collection and new allocations inside delta_handler', async (t) => {
  // The host hands the string over unpinned, as upstream's loader does (runtime/engine/marshal.ts).
  const { host, plugin: p } = load('collect-on-delta', fixtureWasm('collect-on-delta'));
  const plugin = await p;
  t.is(plugin.start('{}'), 0);
  for (let i = 0; i < 200; i++) {
    const json = selfDelta([
      { path: `test.value${i % 7}`, value: i * 1.5 },
      { path: 'test.text', value: 'é€'.repeat(i % 5) },
    ]);
    plugin.deliverDelta(json);
    t.is(host.statuses.at(-1), json, `delta ${i}`);
  }
  plugin.close();
});

test('buffer-FFI convention (upstream Rust plugins): allocate/deallocate, UTF-8 (ptr, len) in, host buffer out', async (t) => {
  const { host, plugin: p } = load('buffer-ffi', fixtureWasm('buffer-ffi'));
  const plugin = await p;
  t.is(plugin.kind, 'rust', 'an allocate export selects the buffer convention, as upstream');
  t.is(plugin.name, 'Buffer FFI fixture ⚓', 'a returned string is read from the host buffer as UTF-8');
  t.deepEqual(plugin.schema, { type: 'object', properties: { label: { type: 'string' } } });
  t.is(plugin.start('{"label":"é"}'), 0);
  t.deepEqual(host.statuses, ['started with {"label":"é"}']);
  const deltas = [
    selfDelta([{ path: 'a', value: 1 }]),
    selfDelta([{ path: 'navigation.position', value: { latitude: 60.1, longitude: 24.9 } }]),
  ];
  for (const d of deltas) plugin.deliverDelta(d);
  t.is(host.deltas.length, 2);
  const last = host.emittedValues();
  t.is(last.get('test.bufferFfi.count'), 2);
  t.is(last.get('test.bufferFfi.bytes'), Buffer.byteLength(deltas[1]), 'the delta arrived whole as UTF-8 bytes');
  t.is(last.get('test.bufferFfi.whole'), 1);
  t.is(plugin.stop(), 0);
  plugin.close();
});

test('the VFS helper creates data, config and tmp and refuses unsafe ids', (t) => {
  const root = ensurePluginStorage(dataDir, '_scope_name');
  for (const sub of ['data', 'config', 'tmp']) t.true(existsSync(join(root, sub)));
  t.throws(() => ensurePluginStorage(dataDir, '../escape'), { message: /unsafe plugin id/ });
  t.throws(() => ensurePluginStorage(dataDir, '..'), { message: /unsafe plugin id/ });
});
