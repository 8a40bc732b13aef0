// Upstream (signalk-server 2.32) plugin details: `_start` modules as library plugins (TinyGo),
// enableDebug in the start configuration and the REST config, PLUGIN_ID in the WASI environment,
// stdout/stderr to the log (rate limited), the bounded poll_oneoff sleep, and version 2 deltas
// kept out of the v1 data model.

import { PluginQuota } from '../../runtime/plugins/quotas.js';
import { DEFAULT_LIMITS } from '../../runtime/security/limits.js';
import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { GuestMemory } from '../../runtime/abi/memory.js';
import { createWasi } from '../../runtime/abi/wasi.js';
import { createWasiOutput, LINES_PER_WINDOW, MAX_LINE, WINDOW_MS } from '../../runtime/abi/wasi-output.js';
import { MAX_SLEEP_MS } from '../../runtime/abi/wasi-poll.js';
import { loadPluginBytes, PluginLoadError } from '../../runtime/engine/index.js';
import type { Logger } from '../../core/log.js';
import type { Flags } from '../../runtime/capabilities/policy.js';
import { SignalKModel } from '../../runtime/model/model.js';
import { createHostServices } from '../../runtime/plugins/host-services.js';
import { CallGuard, CallTimeoutError } from '../../runtime/plugins/call-guard.js';
import { configFile } from '../../runtime/storage/plugin-storage.js';
import { FIXTURES, http, openStream, pluginFolder, pluginStatus, selfValue } from '../helpers/plugins.js';
import { RecordingHost } from '../helpers/recording-host.js';
import { startTestRuntime } from '../helpers/runtime.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';

const START_LIBRARY = '_signalk-edge-fixture_start-library';
const BUFFER_FFI = '_signalk-edge-fixture_buffer-ffi';
const EMIT_V2 = '_signalk-edge-fixture_emit-v2';

/** A Logger that keeps its lines. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (msg: string) => lines.push(`${level} ${msg}`);
  return {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    limited: (level, _key, msg) => lines.push(`${level} ${msg}`),
  };
}

// ---- a minimal wasm module written out here: `_start` plus the Rust-convention plugin exports ----

const leb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
};
const name = (s: string): number[] => [...leb(s.length), ...Buffer.from(s, 'utf8')];
const section = (id: number, body: number[]): number[] => [id, ...leb(body.length), ...body];
const vec = (items: number[][]): number[] => [...leb(items.length), ...items.flat()];

/**
 * A module importing wasi proc_exit (function 0) whose `_start` body is `start` (opcodes), and,
 * unless `commandOnly`, exporting plugin_start/plugin_stop/allocate (all answering 0 or 16).
 */
function startModule(start: number[], commandOnly = false): Uint8Array {
  const I32 = 0x7f;
  const types = vec([
    [0x60, 0, 0], // 0: () -> ()
    [0x60, 2, I32, I32, 1, I32], // 1: (i32, i32) -> i32
    [0x60, 0, 1, I32], // 2: () -> i32
    [0x60, 1, I32, 1, I32], // 3: (i32) -> i32
    [0x60, 1, I32, 0], // 4: (i32) -> ()
  ]);
  const imports = vec([[...name('wasi_snapshot_preview1'), ...name('proc_exit'), 0x00, 4]]);
  const funcs = vec([[0], [1], [2], [3]]); // functions 1.._4 (0 is the import)
  const memory = vec([[0x00, 1]]);
  const exported: number[][] = [
    [...name('memory'), 0x02, 0],
    [...name('_start'), 0x00, 1],
  ];
  if (!commandOnly)
    exported.push(
      [...name('plugin_start'), 0x00, 2],
      [...name('plugin_stop'), 0x00, 3],
      [...name('allocate'), 0x00, 4],
    );
  const body = (code: number[]): number[] => [...leb(code.length + 2), 0, ...code, 0x0b];
  const code = vec([body(start), body([0x41, 0]), body([0x41, 0]), body([0x41, 16])]);
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
    ...section(1, types),
    ...section(2, imports),
    ...section(3, funcs),
    ...section(5, memory),
    ...section(7, vec(exported)),
    ...section(10, code),
  ]);
}

const load = (bytes: Uint8Array) =>
  loadPluginBytes({
    id: 'start-module',
    vfsRoot: mkdtempSync(join(tmpdir(), 'ske-vfs-')),
    host: new RecordingHost(),
    bytes,
  });

// ---- _start library plugins ----

test('a library plugin built with an exported _start gets _start run once at load, then its exports', async (t) => {
  const { runtime, stop } = await startTestRuntime({
    pluginDirs: [await pluginFolder([{ from: FIXTURES, name: 'start-library' }])],
  });
  t.teardown(stop);
  const status = await pluginStatus(runtime, START_LIBRARY);
  t.like(status, { state: 'running', name: 'Start library fixture', statusMessage: 'initialised by _start, runs 1' });
  t.is(selfValue(runtime, 'test.startLibrary.startRuns'), 1);
  // A restart is a new instance: _start runs for it once again, never twice for one instance.
  const res = await http(runtime, 'POST', `/plugins/${START_LIBRARY}/restart`);
  t.true(res.status < 300, JSON.stringify(res));
  await waitFor(
    async () => ((await pluginStatus(runtime, START_LIBRARY)).events ?? []).some((e) => e.event.includes('restart')),
    'the restart',
  );
  t.is((await pluginStatus(runtime, START_LIBRARY)).statusMessage, 'initialised by _start, runs 1');
});

test('a _start library plugin: a normal return and proc_exit(0) load; a non-zero exit or a trap is a load error', async (t) => {
  const ok = await load(startModule([]));
  t.is(ok.kind, 'rust', 'allocate picks the (ptr, len) buffer convention');
  t.is(ok.start('{}'), 0);
  ok.close();
  const exit0 = await load(startModule([0x41, 0, 0x10, 0])); // i32.const 0; call proc_exit
  t.is(exit0.start('{}'), 0);
  exit0.close();
  const exit3 = await t.throwsAsync(load(startModule([0x41, 3, 0x10, 0])), { instanceOf: PluginLoadError });
  t.regex(exit3.message, /_start exited with code 3/);
  const trap = await t.throwsAsync(load(startModule([0x00])), { instanceOf: PluginLoadError }); // unreachable
  t.regex(trap.message, /initialization \(_initialize or _start\) failed/);
});

test('a WASI program without plugin exports is not taken for a library plugin: the error says to declare it a command', async (t) => {
  const err = await t.throwsAsync(load(startModule([], true)), { instanceOf: PluginLoadError });
  t.regex(err.message, /exports _start but no plugin_start.*"kind": "command"/);
});

// ---- WASI environment, output, poll_oneoff ----

/** createWasi bound to a fresh 1-page memory, as an instance would bind it. */
function wasiWithMemory(t: { teardown(fn: () => void): void }, log: Logger) {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const guest = new GuestMemory();
  guest.attach(memory);
  const wasi = createWasi(tempDir(t, 'ske-wasi-'), guest, { pluginId: 'my-plugin', output: createWasiOutput(log) });
  wasi.initialize({ exports: { memory } } as unknown as WebAssembly.Instance);
  t.teardown(() => wasi.close());
  type Fn = (...a: number[]) => number;
  return {
    view: new DataView(memory.buffer),
    bytes: new Uint8Array(memory.buffer),
    call: (fn: string, ...args: number[]) => (wasi.imports[fn] as Fn)(...args),
    close: () => wasi.close(),
  };
}

test('WASI: the environment holds PLUGIN_ID (as upstream), nothing else', (t) => {
  const w = wasiWithMemory(t, recordingLogger());
  t.is(w.call('environ_sizes_get', 0, 4), 0);
  t.is(w.view.getUint32(0, true), 1);
  const size = w.view.getUint32(4, true);
  t.is(w.call('environ_get', 16, 64), 0);
  t.is(Buffer.from(w.bytes.subarray(64, 64 + size)).toString(), 'PLUGIN_ID=my-plugin\0');
});

test('WASI: stdout and stderr become log lines, split at newlines, unterminated text flushed at close', (t) => {
  const log = recordingLogger();
  const w = wasiWithMemory(t, log);
  const put = (at: number, text: string): number => {
    const bytes = Buffer.from(text);
    w.bytes.set(bytes, at);
    return bytes.length;
  };
  // Two iovecs: "hello wor" + "ld\nsecond", written to stdout.
  w.view.setUint32(0, 100, true);
  w.view.setUint32(4, put(100, 'hello wor'), true);
  w.view.setUint32(8, 200, true);
  w.view.setUint32(12, put(200, 'ld\nsecond'), true);
  t.is(w.call('fd_write', 1, 0, 2, 16), 0);
  t.is(w.view.getUint32(16, true), 18, 'every byte counted as written');
  w.view.setUint32(4, put(100, 'oops\n'), true);
  t.is(w.call('fd_write', 2, 0, 1, 16), 0);
  t.deepEqual(log.lines, ['info stdout: hello world', 'warn stderr: oops']);
  w.close();
  t.deepEqual(log.lines.slice(2), ['info stdout: second']);
  t.is(w.call('fd_write', 1, 0, 2, 70_000), 61, 'nwritten outside memory: EOVERFLOW, as node:wasi answers');
  w.view.setUint32(0, 65_000, true);
  w.view.setUint32(4, 4096, true);
  t.is(w.call('fd_write', 1, 0, 1, 16), 61, 'an iovec outside memory');
});

test('WASI output is bounded: long lines cut, at most LINES_PER_WINDOW lines per window, the rest counted', (t) => {
  const log = recordingLogger();
  let now = 0;
  const out = createWasiOutput(log, () => now);
  out.write(1, Buffer.from('x'.repeat(MAX_LINE * 2 + 5)));
  t.is(log.lines.length, 2, 'an unterminated line is flushed at MAX_LINE');
  t.is(log.lines[0], `info stdout: ${'x'.repeat(MAX_LINE)}`);
  log.lines.length = 0;
  now = WINDOW_MS; // a fresh window
  out.write(1, Buffer.from('line\n'.repeat(LINES_PER_WINDOW + 7)));
  t.is(log.lines.length, LINES_PER_WINDOW);
  now += WINDOW_MS;
  out.write(2, Buffer.from('later\n'));
  out.write(1, Buffer.from('next\n'));
  t.true(
    log.lines.includes(`warn stdout: 7 more line(s) not logged (over ${LINES_PER_WINDOW} per ${WINDOW_MS / 1000} s)`),
    log.lines.join('\n'),
  );
  t.true(log.lines.includes('warn stderr: later'));
  t.true(log.lines.includes('info stdout: next'));
  // Multi-byte characters split across writes arrive whole.
  const anchor = Buffer.from('⚓\n');
  out.write(2, anchor.subarray(0, 1));
  out.write(2, anchor.subarray(1));
  t.is(log.lines.at(-1), 'warn stderr: ⚓');
});

test('WASI poll_oneoff: a clock sleep is bounded by MAX_SLEEP_MS and reported due; descriptors get ENOTSUP; bad pointers EOVERFLOW', (t) => {
  const w = wasiWithMemory(t, recordingLogger());
  const subscribe = (at: number, userdata: bigint, tag: number, clockNs: bigint, flags = 0) => {
    w.bytes.fill(0, at, at + 48);
    w.view.setBigUint64(at, userdata, true);
    w.view.setUint8(at + 8, tag);
    w.view.setUint32(at + 16, 1, true); // monotonic clock (fd 1 for a descriptor subscription)
    w.view.setBigUint64(at + 24, clockNs, true);
    w.view.setUint16(at + 40, flags, true);
  };
  subscribe(0, 7n, 0, 30_000_000_000n); // 30 s, relative
  const t0 = performance.now();
  t.is(w.call('poll_oneoff', 0, 1000, 1, 2000), 0);
  const slept = performance.now() - t0;
  t.true(slept < 1000, `slept ${slept.toFixed(1)} ms of a 30 s request (bound ${MAX_SLEEP_MS} ms)`);
  t.true(slept >= MAX_SLEEP_MS - 2, `slept ${slept.toFixed(1)} ms: it does sleep`);
  t.is(w.view.getUint32(2000, true), 1);
  t.is(w.view.getBigUint64(1000, true), 7n, 'userdata');
  t.is(w.view.getUint16(1008, true), 0, 'no error');
  t.is(w.view.getUint8(1010), 0, 'clock event');

  subscribe(0, 8n, 0, 1n, 1); // absolute time long past: due now, no sleep
  subscribe(48, 9n, 1, 0n); // fd_read on fd 1
  t.is(w.call('poll_oneoff', 0, 1000, 2, 2000), 0);
  t.is(w.view.getUint32(2000, true), 2);
  t.is(w.view.getUint16(1008, true), 0);
  t.is(w.view.getBigUint64(1032, true), 9n);
  t.is(w.view.getUint16(1040, true), 58, 'a descriptor subscription: ENOTSUP');
  t.is(w.view.getUint8(1042), 1, 'fd_read event');

  t.is(w.call('poll_oneoff', 70_000, 1000, 1, 2000), 61);
  t.is(w.call('poll_oneoff', 0, 1000, 0, 2000), 28, 'no subscriptions: EINVAL');
});

test('a plugin sleeping in a loop (poll_oneoff) is stopped by the call bound like any busy loop', async (t) => {
  const I32 = 0x7f;
  // plugin_start: loop { poll_oneoff(0, 64, 1, 128) } with a 1 s relative clock subscription at 0.
  const types = vec([
    [0x60, 4, I32, I32, I32, I32, 1, I32], // 0: poll_oneoff
    [0x60, 2, I32, I32, 1, I32], // 1: plugin_start
    [0x60, 0, 1, I32], // 2: plugin_stop
    [0x60, 1, I32, 1, I32], // 3: allocate
  ]);
  const body = (code: number[]): number[] => [...leb(code.length + 2), 0, ...code, 0x0b];
  const sleepLoop = [
    0x03, 0x40, 0x41, 0, 0x41, 0xc0, 0x00, 0x41, 1, 0x41, 0x80, 0x01, 0x10, 0, 0x1a, 0x0c, 0, 0x0b, 0x41, 0,
  ];
  const bytes = new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
    ...section(1, types),
    ...section(2, vec([[...name('wasi_snapshot_preview1'), ...name('poll_oneoff'), 0x00, 0]])),
    ...section(3, vec([[1], [2], [3]])),
    ...section(5, vec([[0x00, 1]])),
    ...section(
      7,
      vec([
        [...name('memory'), 0x02, 0],
        [...name('plugin_start'), 0x00, 1],
        [...name('plugin_stop'), 0x00, 2],
        [...name('allocate'), 0x00, 3],
      ]),
    ),
    ...section(10, vec([body(sleepLoop), body([0x41, 0]), body([0x41, 16])])),
    // timeout (u64 at byte 24 of the subscription) = 1e9 ns
    ...section(11, vec([[0x00, 0x41, 24, 0x0b, ...vec([[0x00], [0xca], [0x9a], [0x3b], [0], [0], [0], [0]])]])),
  ]);
  const guard = new CallGuard(300);
  const plugin = await loadPluginBytes({
    id: 'sleeper',
    vfsRoot: tempDir(t, 'ske-vfs-'),
    host: new RecordingHost(),
    bytes,
    guard: (fn, what) => guard.run(fn, what),
  });
  t.teardown(() => plugin.close());
  const err = t.throws(() => guard.run(() => plugin.start('{}'), 'plugin_start'), { instanceOf: CallTimeoutError });
  t.regex(err?.message ?? '', /plugin_start did not return within 300 ms/);
});

// ---- enableDebug ----

test('enableDebug from the plugin config file reaches plugin_start and REST; REST switches it, restarting the plugin', async (t) => {
  const dataDir = tempDir(t, 'ske-data-');
  const file = configFile(dataDir, BUFFER_FFI);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ enabled: true, enableDebug: true, configuration: { label: 'a' } }));
  const { runtime, stop } = await startTestRuntime({
    pluginDirs: [await pluginFolder([{ from: FIXTURES, name: 'buffer-ffi' }])],
    dataDir,
  });
  t.teardown(stop);
  // The fixture's status echoes the configuration plugin_start got.
  t.is((await pluginStatus(runtime, BUFFER_FFI)).statusMessage, 'started with {"label":"a","enableDebug":true}');
  t.like((await http(runtime, 'GET', `/plugins/${BUFFER_FFI}/config`)).body, {
    enabled: true,
    enableDebug: true,
    configuration: { label: 'a' },
  });

  const res = await http(runtime, 'POST', `/plugins/${BUFFER_FFI}/config`, { enableDebug: false });
  t.is(res.status, 200, JSON.stringify(res));
  t.like(res.body, { enableDebug: false, configuration: { label: 'a' } });
  await waitFor(
    async () =>
      (await pluginStatus(runtime, BUFFER_FFI)).statusMessage === 'started with {"label":"a","enableDebug":false}',
    'restarted without debug',
  );
  t.like(JSON.parse(readFileSync(file, 'utf8')), { enabled: true, enableDebug: false, configuration: { label: 'a' } });

  const bad = await http(runtime, 'POST', `/plugins/${BUFFER_FFI}/config`, { enableDebug: 'yes' });
  t.is(bad.status, 400);
  t.regex(JSON.stringify(bad.body), /enableDebug must be true or false/);
});

test("enableDebug decides the level of the plugin's sk_debug lines: info when on, debug when off", (t) => {
  const log = recordingLogger();
  let debug = false;
  const host = createHostServices({
    id: 'p',
    log,
    model: new SignalKModel('urn:mrn:imo:mmsi:230000001'),
    configFile: join(tempDir(t, 'ske-cfg-'), 'p.json'),
    quota: new PluginQuota(DEFAULT_LIMITS.plugins, DEFAULT_LIMITS.config),
    capabilities: () => ({}) as Flags,
    debugEnabled: () => debug,
    allowsNet: () => false,
    noteStatus: () => undefined,
    noteError: () => undefined,
    queueDelta: () => undefined,
    noteRejected: () => undefined,
    addPutHandler: () => true,
    addResourceProvider: () => false,
    addWeatherProvider: () => false,
    addRadarProvider: () => false,
    emitBinary: () => false,
  });
  host.debug('quiet');
  debug = true;
  host.debug('loud');
  t.deepEqual(log.lines, ['debug quiet', 'info debug: loud']);
});

// ---- sk_handle_message version 2 ----

test('a version 2 delta from sk_handle_message reaches stream subscribers but not the v1 data model', async (t) => {
  const { runtime, stop } = await startTestRuntime({
    pluginDirs: [await pluginFolder([{ from: FIXTURES, name: 'emit-v2' }])],
  });
  t.teardown(stop);
  const stream = await openStream(runtime);
  t.teardown(() => stream.close());
  const v1 = await waitFor(() => selfValue(runtime, 'test.emitV2.v1'), 'the v1 value in the model');
  t.is(v1, 1);
  t.is(selfValue(runtime, 'test.emitV2.v2'), undefined, 'the v2 value is not in the v1 tree');
  // Restart to see both on the stream opened meanwhile.
  await http(runtime, 'POST', `/plugins/${EMIT_V2}/restart`);
  const paths = (): string[] =>
    stream.messages.flatMap((m) =>
      ((m as { updates?: { values?: { path: string }[] }[] }).updates ?? []).flatMap((u) =>
        (u.values ?? []).map((v) => v.path),
      ),
    );
  await waitFor(() => paths().includes('test.emitV2.v2'), 'the v2 delta on the stream');
  t.true(paths().includes('test.emitV2.v1'));
  const rest = await http(runtime, 'GET', '/signalk/v1/api/vessels/self/test/emitV2/v2');
  t.is(rest.status, 404);
});
