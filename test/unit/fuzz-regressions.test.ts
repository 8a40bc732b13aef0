// What `npm run fuzz` (test/fuzz/) found, each input kept with the answer the code now gives.
// Inputs are the fuzzer's own, byte for byte; long runs are written with repeat() (the counts are
// the fuzzer's). Where a finding surfaced on a later input than its cause (state kept across
// inputs), the test says so and uses the smallest input of the same shape.

import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEnvImports } from '../../runtime/abi/env.js';
import { GuestMemory } from '../../runtime/abi/memory.js';
import { createWasiOutput } from '../../runtime/abi/wasi-output.js';
import { createLogger } from '../../core/log.js';
import { createWasi } from '../../runtime/abi/wasi.js';
import { STREAM_PATH } from '../../runtime/api/stream.js';
import { DeltaBus } from '../../runtime/bus/bus.js';
import { parseDelta } from '../../runtime/bus/delta.js';
import { Nmea0183Codec } from '../../hal/codecs/nmea0183/codec.js';
import { withChecksum } from '../../hal/codecs/nmea0183/sentence.js';
import { matchesPattern } from '../../runtime/bus/subscription.js';
import { addGrant, GrantTable, readGrantsFile } from '../../runtime/capabilities/store.js';
import { parseSettings } from '../../runtime/config/settings.js';
import { SettingsError } from '../../core/settings-reader.js';
import { SOURCE_TYPES } from '../../hal/sources/table.js';
import { SignalKModel } from '../../runtime/model/model.js';
import { createHostServices } from '../../runtime/plugins/host-services.js';
import { recordingTarget } from '../fuzz/targets/deltas.js';
import { StreamClient } from '../fuzz/targets/websocket.js';
import { startBareApi, TEST_SELF_URN, type BareApi } from '../helpers/runtime.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';

// ---- settings ----

/** Seed 8, input #7787: sources[5].type nested 18,477 objects deep. */
const DEEP_TYPE_SETTINGS =
  '{"port":3000,"host":"0.0.0.0","dataDir":"data","selfUrn":"urn:mrn:imo:mmsi:230000001","board":"rpi4","cacheDir":"cache","sources":[{"id":"nmea1","type":"serial","device":"/dev/ttyUSB0","baudRate":4800},{"id":"log","type":"replay","file":"passage.nmea","rate":"fast","linesPerSecond":10,"loop":false},{"id":"udp","type":"udp","port":10110,"address":"0.0.0.0"},{"id":"tcp","type":"tcp","host":"192.168.1.10","port":10110},{"id":"n2k","type":"can","interface":"can0"},{"id":"n2k-log","type":' +
  '{"a":'.repeat(18477) +
  '"can"' +
  '}'.repeat(18477) +
  ',"interface":"vcan9","driver":"candump","file":"can.log","rate":"realtime","loop":true}],"plugins":{"dirs":["plugins"],"watch":false,"callTimeoutMs":500,"restart":{"baseMs":100,"maxCrashes":3,"stableMs":0,"constructor":1000}},"grants":{"*":["dataRead","dataWrite","dataRead"]},"mqtt":{"url":"mqtt://127.0.0.1:1883","clientId":"edge","username":"u","password":"p","publish":[{"path":"environment.*","topic":"signalk/{id}/{path}","qos":1,"retain":true,"context":"vessels.self"}],"subscribe":[{"topic":"boat/+/temp","path":"environment.inside.temperature","qos":0}]}}';

/** Seed 10, input #14647: the grants for `*` renamed `__proto__`. */
const PROTO_GRANTS_SETTINGS =
  '{"port":3000,"host":"0.0.0.0","dataDir":"data","selfUrn":"urn:mrn:imo:mmsi:230000001","board":"rpi4","cacheDir":"cache","sources":[{"id":"nmea1","type":"serial","device":"/dev/ttyUSB0","baudRate":4800},{"id":"log","type":"replay","file":"passage.nmea","rate":"fast","linesPerSecond":10,"loop":false},{"id":"udp","type":"udp","port":10110,"address":"0.0.0.0"},{"id":"tcp","type":"tcp","host":"192.168.1.10","port":10110},{"id":"n2k","type":"can","interface":"can0"},{"id":"n2k-log","type":"can","interface":"vcan9","driver":"candump","file":"can.log","rate":"realtime","loop":true}],"plugins":{"dirs":["plugins"],"watch":false,"callTimeoutMs":500,"restart":{"baseMs":100,"maxMs":1000,"maxCrashes":3,"stableMs":0}},"grants":{"my-plugin":["serial:nmea1","can:can0:129025,130306","mqtt:subscribe:boat/+/temp","net:*:2000"],"__proto__":["dataRead","dataWrite"]},"mqtt":{"url":"mqtt://127.0.0.1:1883","clientId":"edge","username":"u","password":"p","publish":[{"path":"environment.*","topic":"signalk/{id}/{path}","qos":1,"retain":true,"context":"vessels.self"}],"subscribe":[{"topic":"boat/+/temp","path":"environment.inside.temperature","qos":0}]}}';

/** A settings folder holding the files the documents above name. */
function settingsDir(t: { teardown(fn: () => void): void }): string {
  const dir = tempDir(t, 'ske-fuzz-reg-');
  writeFileSync(join(dir, 'passage.nmea'), '$GPRMC\r\n');
  writeFileSync(join(dir, 'can.log'), '(1.0) can0 09F8017F#E8AC5119BEAB6DD5\n');
  return dir;
}

test('settings: a value nested thousands deep is a SettingsError naming its key (was a RangeError from the error text)', (t) => {
  const file = join(settingsDir(t), 'settings.json');
  const err = t.throws(() => parseSettings(JSON.parse(DEEP_TYPE_SETTINGS), file), { instanceOf: SettingsError });
  t.is(err?.key, 'sources[5].type');
  t.true(
    err?.message.endsWith(`sources[5].type: must be one of ${Object.keys(SOURCE_TYPES).join(', ')}, got object`),
    err?.message,
  );
});

test('settings: grants under "__proto__" are that plugin id\'s, not the prototype of the grants', (t) => {
  const dir = settingsDir(t);
  const settings = parseSettings(JSON.parse(PROTO_GRANTS_SETTINGS), join(dir, 'settings.json'));
  const grants = settings.grants ?? t.fail('no grants');
  t.false(Array.isArray(Object.getPrototypeOf(grants)), 'the list did not become the prototype');
  t.deepEqual(Object.keys(grants).sort(), ['__proto__', 'my-plugin']);
  const table = new GrantTable(grants, dir);
  t.deepEqual(
    table.listFor('__proto__').map((g) => g.grant),
    ['dataRead', 'dataWrite'],
  );
  t.deepEqual(table.listFor('0'), [], 'an id that is an array index finds nothing');
});

test('grants: a plugin called "constructor" gets its grants (was TypeError: function is not iterable, for any settings)', (t) => {
  const dir = tempDir(t, 'ske-fuzz-reg-');
  // Seed 10, input #10: `{}`, i.e. the default grants.
  const defaults = new GrantTable(parseSettings(JSON.parse('{}'), join(dir, 'settings.json')).grants, dir);
  t.deepEqual(
    defaults.listFor('constructor').map((g) => g.grant),
    ['dataRead', 'dataWrite', 'putHandlers'],
  );
  // The CLI's file: `signalk-edge grant constructor rawSockets` and `grant __proto__ dataRead`.
  t.true(addGrant(dir, 'constructor', 'rawSockets'));
  t.true(addGrant(dir, '__proto__', 'dataRead'));
  const file = readGrantsFile(dir);
  t.deepEqual(file.constructor, ['rawSockets']);
  t.true(Object.hasOwn(file, '__proto__'));
  t.deepEqual(
    new GrantTable(undefined, dir).listFor('constructor').map((g) => `${g.from}:${g.grant}`),
    ['default:dataRead', 'default:dataWrite', 'default:putHandlers', 'grants file:rawSockets'],
  );
});

// ---- deltas emitted by plugins ----

/** Seed 4, input #802 (op 0: sk_handle_message, version 1): an unknown member 17,764 arrays deep. */
const DEEP_MEMBER_DELTA =
  '{"updates":[{"values":[]}],"valueOf":[[],-1,' + '['.repeat(17764) + ']'.repeat(17764) + ',[[],false]]}';

test('plugin deltas: a member nested deeper than JSON.stringify can encode is refused (was accepted, then failed every subscriber)', (t) => {
  const host = recordingTarget(() => new SignalKModel(TEST_SELF_URN), join(tempDir(t, 'ske-fuzz-reg-'), 'config.json'));
  const refused = createHostServices(host.target).emitDelta(DEEP_MEMBER_DELTA, 1);
  t.is(refused, 'delta nests deeper than 64 levels');
  t.deepEqual(host.queued, []);
  t.deepEqual(host.rejections, ['delta nests deeper than 64 levels']);
  // The bus refuses it from any producer, not only from plugins.
  const bus = new DeltaBus(`vessels.${TEST_SELF_URN}`);
  t.is(bus.publish(JSON.parse(DEEP_MEMBER_DELTA), 'client'), 'delta nests deeper than 64 levels');
  t.is(bus.stats.accepted, 0);
  // The same delta with the member shallow is fine.
  t.true(parseDelta(JSON.parse('{"updates":[{"values":[]}],"valueOf":[[],-1,[[[]]],[[],false]]}')).ok);
});

test('plugin PUT handlers: a path no delta may carry is refused at registration (was registered, its meta delta then refused by the bus)', (t) => {
  const host = recordingTarget(() => new SignalKModel(TEST_SELF_URN), join(tempDir(t, 'ske-fuzz-reg-'), 'config.json'));
  const memory = new WebAssembly.Memory({ initial: 1 });
  const guest = new GuestMemory();
  guest.attach(memory);
  const env = createEnvImports(createHostServices(host.target), guest).functions;
  const register = (context: string, path: string): number => {
    const bytes = Buffer.from(`${context}${path}`);
    new Uint8Array(memory.buffer).set(bytes, 16);
    return Number(
      env.sk_register_put_handler!(
        16,
        Buffer.byteLength(context),
        16 + Buffer.byteLength(context),
        Buffer.byteLength(path),
      ),
    );
  };
  // Seed 4, input #4815: op 3 (sk_register_put_handler), `vessels.self` NUL `value`.
  t.is(register('vessels.self', 'value'), 0);
  t.is(register('vessels.self', 'a'.repeat(300)), 0, 'a path over 256 characters');
  t.deepEqual(host.putHandlers, []);
  t.deepEqual(host.queued, []);
  t.is(register('vessels.self', 'steering.autopilot.target.headingTrue'), 1);
  t.deepEqual(host.putHandlers, ['vessels.self/steering.autopilot.target.headingTrue']);
  t.deepEqual(host.queued[0]?.updates[0]?.meta, [
    { path: 'steering.autopilot.target.headingTrue', value: { supportsPut: true } },
  ]);
});

// ---- wasm binaries ----

test('WASI: sock_* calls on the stdio descriptors are refused (node:wasi crashed the process: segmentation fault)', (t) => {
  // Seed 1, wasm target, input #14388: the hostile fixture with the export section of another
  // module, so plugin_schema() ran one of its probes and called sock_accept(0, 0, 0) while the
  // engine loaded it. The process died (SIGSEGV, exit 139); `--trace` left the input behind. The
  // module is a build product, so the call it made is kept here, with the other sock_* calls that
  // crashed the same way on fds 0-2 given valid buffers.
  const dir = tempDir(t, 'ske-fuzz-reg-');
  const memory = new WebAssembly.Memory({ initial: 1 });
  const guest = new GuestMemory();
  guest.attach(memory);
  const wasi = createWasi(dir, guest, { pluginId: 'test', output: createWasiOutput(createLogger('test')) });
  wasi.initialize({ exports: { memory } } as unknown as WebAssembly.Instance);
  t.teardown(() => wasi.close());
  const view = new DataView(memory.buffer);
  view.setUint32(100, 1000, true); // one iovec: 64 bytes at 1000
  view.setUint32(104, 64, true);
  const call = (name: string, ...args: number[]): unknown =>
    (wasi.imports[name] as (...a: number[]) => number)(...args);
  const NOTCAPABLE = 76;
  t.is(call('sock_accept', 0, 0, 0), NOTCAPABLE, 'the fuzzer input');
  for (const fd of [0, 1, 2]) {
    t.is(call('sock_accept', fd, 0, 200), NOTCAPABLE);
    t.is(call('sock_recv', fd, 100, 1, 0, 200, 204), NOTCAPABLE);
    t.is(call('sock_send', fd, 100, 1, 0, 200), NOTCAPABLE);
    t.is(call('sock_shutdown', fd, 2), NOTCAPABLE);
  }
});

// ---- WebSocket subscribe messages ----

async function stream(t: {
  teardown(fn: () => Promise<void> | void): void;
}): Promise<{ api: BareApi; open: (query?: string) => Promise<StreamClient> }> {
  const api = await startBareApi();
  const clients: StreamClient[] = [];
  t.teardown(async () => {
    for (const c of clients) c.close();
    await api.api.close();
  });
  const open = async (query = '?subscribe=none'): Promise<StreamClient> => {
    const c = await StreamClient.open(`${api.wsUrl}${STREAM_PATH}${query}`);
    clients.push(c);
    return c;
  };
  return { api, open };
}

const errorsOf = (c: StreamClient): string[] =>
  c.received.flatMap((text) => {
    const m = JSON.parse(text) as { errorMessage?: unknown };
    return typeof m.errorMessage === 'string' ? [m.errorMessage] : [];
  });

/** Publishes a marker delta until `c` has it: the server is still delivering to that client. */
async function delivers(api: BareApi, c: StreamClient, marker: string): Promise<boolean> {
  api.bus.publish(
    { updates: [{ source: { label: 'test' }, values: [{ path: 'test.marker', value: marker }] }] },
    'test',
  );
  return waitFor(() => c.received.some((m) => m.includes(marker)), `${marker} delivered`);
}

test('stream: a context nested 18,801 arrays deep is answered with an error (was a stack overflow, no answer, an error logged)', async (t) => {
  const { api, open } = await stream(t);
  const c = await open();
  // Seed 9, input #1475 (a text frame).
  c.ws.send(
    '{"context":' +
      '['.repeat(18801) +
      '1e999' +
      ']'.repeat(18801) +
      ',"subscribe":["minPeriod"],"hasOwnProperty":5e-324}',
  );
  await waitFor(() => errorsOf(c).length > 0, 'an answer');
  t.deepEqual(errorsOf(c), ['subscribe: context must be a non-empty string, got an array']);
  c.ws.send(JSON.stringify({ context: 'vessels.self', subscribe: [{ path: 'test.*' }] }));
  t.true(await delivers(api, c, 'after-deep'));
});

test('stream: periods past what a timer can wait are lowered (were TimeoutOverflowWarning and a 1 ms timer)', async (t) => {
  const warnings: string[] = [];
  const onWarning = (w: Error): void => {
    warnings.push(`${w.name}: ${w.message}`);
  };
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  const { api, open } = await stream(t);
  const c = await open();
  // Seed 5, input #8314.
  c.ws.send('{"subscribe":[{"path":"navigation.position","period":4294967296,"policy":"fixed"}]}');
  // Seed 9 showed the same for minPeriod (12808561315 ms after a throttled value); its input was
  // sent inputs before the warning surfaced, so this is the smallest message of that shape.
  c.ws.send('{"context":"vessels.self","subscribe":[{"path":"navigation.speedOverGround","minPeriod":12808561315}]}');
  for (const v of [1, 2])
    api.bus.publish(
      { updates: [{ source: { label: 'test' }, values: [{ path: 'navigation.speedOverGround', value: v }] }] },
      'test',
    );
  await waitFor(() => errorsOf(c).length >= 2, 'both answers');
  t.deepEqual(errorsOf(c), [
    'subscribe[0].period 4294967296 lowered to 86400000 ms',
    'subscribe[0].minPeriod 12808561315 lowered to 86400000 ms',
  ]);
  c.ws.send(JSON.stringify({ context: 'vessels.self', subscribe: [{ path: 'test.*' }] }));
  t.true(await delivers(api, c, 'after-periods'));
  t.deepEqual(warnings, []);
});

test('stream: star-heavy patterns neither fail nor stall delivery, to that client or the ones after it', async (t) => {
  // Seed 9, input #4046 surfaced "[bus] subscriber failed: SyntaxError: Invalid regular expression:
  // /^xxx…/: Stack overflow" (a row subscribed inputs earlier): the regex built from a pattern
  // with thousands of stars could not be compiled, and the throw skipped every client connected
  // later. The second pattern is the backtracking shape (minutes per match with a regex).
  const { api, open } = await stream(t);
  const fuzzed = await open();
  const later = await open('?subscribe=all');
  fuzzed.ws.send(
    JSON.stringify({
      context: '*',
      subscribe: [{ path: 'x*'.repeat(10_000) }, { path: `${'*a'.repeat(14)}*b` }, { path: 'test.*' }],
    }),
  );
  // Messages are handled in order: once the next one is answered, the subscription is in place.
  fuzzed.ws.send('sync');
  await waitFor(() => errorsOf(fuzzed).some((e) => e.includes('"sync"')), 'the subscription taken');
  api.bus.publish(
    { updates: [{ source: { label: 'test' }, values: [{ path: `a.${'a'.repeat(60)}`, value: 1 }] }] },
    'test',
  );
  t.true(await delivers(api, later, 'later-client'));
  t.true(await delivers(api, fuzzed, 'fuzzed-client'));
  t.false(
    fuzzed.received.some((m) => m.includes('"value":1}')),
    'neither pattern matches that path',
  );
  t.false(matchesPattern(`${'*a'.repeat(14)}*b`, `a.${'a'.repeat(60)}`));
  t.true(matchesPattern(`${'*a'.repeat(14)}*b`, `${'a'.repeat(14)}b`));
  t.true(matchesPattern('x*'.repeat(10_000), 'x'.repeat(10_000)));
  t.false(matchesPattern('x*'.repeat(10_000), 'xx'));
});

test("nmea0183: a path the library builds from an input field (RPM engine id) over 256 characters is the codec's error, not a trusted delta the bus would refuse", (t) => {
  const codec = new Nmea0183Codec('t');
  const long = codec.decode(withChecksum(`$VWRPM,E,${'9'.repeat(280)},1000,10,A`));
  t.like(long, { kind: 'error', reason: 'invalid' });
  const reserved = codec.decode(withChecksum('$VWRPM,E,value,1000,10,A'));
  t.true(
    reserved.kind === 'error' || (reserved.kind === 'delta' && parseDelta(reserved.delta).ok),
    'a leaf key as a segment never reaches the bus unchecked',
  );
  t.like(codec.decode(withChecksum('$VWRPM,E,1,1000,10,A')), { kind: 'delta' });
});
