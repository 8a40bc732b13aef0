// The sandbox escape suite: a hostile plugin (test/fixtures/plugins/hostile, built from source)
// runs beside three plugins that hold serial, MQTT and CAN handles, and tries every way out: its
// VFS (`..`, absolute paths, planted and own symlinks, hard links, renames), the host process
// (stdio, signals, sleeping), devices, hosts and MQTT topics it was not granted, the other plugins'
// handle ids, out-of-range pointers in every host function, and deltas in another source's name.
// Each attempt must be refused with the documented code, listed in the plugin's status, and leave
// no trace outside its VFS: sentinel files keep content and mtime, no new file appears, the TCP
// and UDP servers it was not granted see nothing, the broker sees no subscribe or publish from it,
// and the other plugins' handles keep working.

import test from 'ava';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { createEnvImports } from '../../runtime/abi/env.js';
import { createDeviceImports, DEVICE_MODULE, type DeviceHost } from '../../runtime/abi/devices/index.js';
import { GuestMemory } from '../../runtime/abi/memory.js';
import { createWasiOutput } from '../../runtime/abi/wasi-output.js';
import { createLogger } from '../../core/log.js';
import { createWasi } from '../../runtime/abi/wasi.js';
import { DEMO_LOG, PROJECT_ROOT } from '../../runtime/config/settings.js';
import { pluginDir, vfsRoot } from '../../runtime/storage/plugin-storage.js';
import { startBroker, type TestBroker } from '../helpers/mqtt-broker.js';
import {
  configurePlugin,
  FIXTURES,
  openStream,
  pluginFolder,
  pluginStatus,
  publish,
  selfValue,
} from '../helpers/plugins.js';
import { fixtureWasm } from '../helpers/plugin-wasm.js';
import { RecordingHost } from '../helpers/recording-host.js';
import { tempDir } from '../helpers/temp.js';
import { readSignatures } from '../helpers/wasm-signatures.js';
import { startPtyPair, type PtyPair } from '../helpers/pty.js';
import { replaySource, startTestRuntime, type TestRuntime } from '../helpers/runtime.js';
import { waitFor } from '../helpers/wait.js';

const HOSTILE = '_signalk-edge-fixture_hostile';
const SERIAL_VICTIM = '_signalk-edge-fixture_hal-serial-probe';
const MQTT_VICTIM = '_signalk-edge-fixture_hal-mqtt-probe';
const CAN_VICTIM = '_signalk-edge-fixture_hal-can-reader';
const CANDUMP = join(PROJECT_ROOT, 'test', 'fixtures', 'can', 'candumpSample3.txt');

interface Sentinel {
  path: string;
  content: string;
  mtimeMs: number;
}

interface Suite {
  rt: TestRuntime;
  broker: TestBroker;
  dataDir: string;
  outsideDir: string;
  nonce: string;
  victimPty: PtyPair;
  hostilePty: PtyPair;
  sentinels: Sentinel[];
  /** Files outside the hostile's VFS before the attempts: relative path → size/mtime. */
  before: Map<string, string>;
  net: { secretTcp: string[]; controlTcp: string[]; secretUdp: string[]; controlUdp: string[] };
  ports: { secretTcp: number; controlTcp: number; secretUdp: number };
  /** What the runtime's MQTT client subscribed and published, as seen by the broker. */
  mqtt: { subscribed: string[]; published: { topic: string; payload: string }[] };
  /** The worker's own stdout and stderr (dev:ino) before the attempts. */
  stdio: string[];
  close(): Promise<void>;
}

/** Every file and link under `dir` (skipping `skip`), as relative path → type, size and mtime. */
function snapshot(dir: string, skip: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const full = join(dir, name);
    if (full === skip || full.startsWith(`${skip}/`)) continue;
    const st = lstatSync(full);
    out.set(
      name,
      `${st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : 'file'} ${st.isDirectory() ? 0 : st.size} ${st.mtimeMs}`,
    );
  }
  return out;
}

function sentinel(path: string): Sentinel {
  const content = `sentinel ${randomBytes(12).toString('hex')}`;
  writeFileSync(path, content);
  return { path, content, mtimeMs: statSync(path).mtimeMs };
}

/** Device and inode behind one of this process's descriptors. */
function fdIdentity(fd: number): string {
  const st = statSync(`/proc/self/fd/${fd}`);
  return `${st.dev}:${st.ino}`;
}

async function listenTcp(seen: string[]): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    seen.push(`connection from ${socket.remoteAddress}`);
    socket.on('data', (d: Buffer) => seen.push(d.toString()));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

async function listenUdp(seen: string[]): Promise<{ socket: UdpSocket; port: number }> {
  const socket = createSocket('udp4');
  socket.on('message', (m) => seen.push(m.toString()));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { socket, port: socket.address().port };
}

function recordBroker(aedes: Aedes, mqtt: Suite['mqtt']): void {
  aedes.on('subscribe', (subs, client) => {
    if (client) for (const s of subs) mqtt.subscribed.push(s.topic);
  });
  aedes.on('publish', (packet, client) => {
    if (client) mqtt.published.push({ topic: packet.topic, payload: packet.payload.toString() });
  });
}

/** Plants what the hostile will try to reach: sentinels outside its VFS, links inside it pointing out. */
function plant(dataDir: string, outsideDir: string): Sentinel[] {
  const root = vfsRoot(dataDir, HOSTILE);
  mkdirSync(join(root, 'data'), { recursive: true });
  writeFileSync(join(root, 'data', 'inside.txt'), 'inside the VFS');
  const outside = sentinel(join(outsideDir, 'sentinel.txt'));
  symlinkSync(outside.path, join(root, 'data', 'planted-link'));
  symlinkSync(outsideDir, join(root, 'data', 'planted-dir'));
  const victimVfs = join(vfsRoot(dataDir, SERIAL_VICTIM), 'data');
  mkdirSync(victimVfs, { recursive: true });
  return [
    outside,
    sentinel(join(pluginDir(dataDir, HOSTILE), 'sentinel.txt')), // just above the VFS root
    sentinel(join(dataDir, 'sentinel.txt')),
    sentinel(join(victimVfs, 'secret.txt')),
  ];
}

async function startSuite(): Promise<Suite> {
  const dataDir = join(tmpdir(), `ske-sandbox-${randomBytes(4).toString('hex')}`);
  const outsideDir = join(tmpdir(), `ske-outside-${randomBytes(4).toString('hex')}`);
  mkdirSync(dataDir);
  mkdirSync(outsideDir);
  const nonce = randomBytes(6).toString('hex');
  const sentinels = plant(dataDir, outsideDir);
  const victimPty = await startPtyPair(join(outsideDir, 'victim-peer'), join(outsideDir, 'victim-tty'));
  const hostilePty = await startPtyPair(join(outsideDir, 'hostile-peer'), join(outsideDir, 'hostile-tty'));
  const net: Suite['net'] = { secretTcp: [], controlTcp: [], secretUdp: [], controlUdp: [] };
  const secretTcp = await listenTcp(net.secretTcp);
  const controlTcp = await listenTcp(net.controlTcp);
  const secretUdp = await listenUdp(net.secretUdp);
  const controlUdp = await listenUdp(net.controlUdp);
  const broker = await startBroker();
  const mqtt: Suite['mqtt'] = { subscribed: [], published: [] };
  recordBroker(broker.aedes, mqtt);

  configurePlugin(dataDir, SERIAL_VICTIM, { device: victimPty.b, mode: 1 });
  configurePlugin(dataDir, MQTT_VICTIM, { subscribe: ['victim/#'] });
  configurePlugin(dataDir, CAN_VICTIM, { interface: 'can0' });
  configurePlugin(dataDir, HOSTILE, {
    outside: sentinels[0]!.path,
    outsideDir,
    victimId: SERIAL_VICTIM,
    victimDevice: victimPty.b,
    grantedDevice: hostilePty.b,
    sourceLabel: 'log',
    sourceTalker: 'GP',
    secretTcp: secretTcp.port,
    controlTcp: controlTcp.port,
    secretUdp: secretUdp.port,
    controlUdp: controlUdp.port,
    nonce,
  });
  const plugins = await pluginFolder(
    ['hostile', 'hal-serial-probe', 'hal-mqtt-probe', 'hal-can-reader'].map((name) => ({ from: FIXTURES, name })),
  );
  const rt = await startTestRuntime({
    dataDir,
    pluginDirs: [plugins],
    sources: [
      replaySource('log', DEMO_LOG),
      { id: 'n2k', type: 'can', interface: 'can0', driver: 'candump', file: CANDUMP, rate: 'fast', loop: false },
    ],
    mqtt: { url: broker.url, publish: [], subscribe: [] },
    grants: {
      '*': ['dataRead', 'dataWrite'],
      [SERIAL_VICTIM]: [`serial:${victimPty.b}`],
      [MQTT_VICTIM]: ['mqtt:subscribe:victim/#'],
      [CAN_VICTIM]: ['can:can0'],
      [HOSTILE]: [
        'rawSockets',
        `net:127.0.0.1:${controlTcp.port}`,
        `net:127.0.0.1:${controlUdp.port}`,
        `serial:${hostilePty.b}:write`,
        'can:can0:59904',
        'can:can0:write',
        'mqtt:publish:hostile/ok',
        'mqtt:subscribe:hostile/in',
      ],
    },
  });
  return {
    rt,
    broker,
    dataDir,
    outsideDir,
    nonce,
    victimPty,
    hostilePty,
    sentinels,
    before: new Map(),
    net,
    ports: { secretTcp: secretTcp.port, controlTcp: controlTcp.port, secretUdp: secretUdp.port },
    mqtt,
    stdio: [fdIdentity(1), fdIdentity(2)],
    async close() {
      await rt.stop();
      await Promise.all([victimPty.stop(), hostilePty.stop(), broker.close()]);
      secretTcp.server.close();
      controlTcp.server.close();
      secretUdp.socket.close();
      controlUdp.socket.close();
      for (const dir of [dataDir, outsideDir]) rmSync(dir, { recursive: true, force: true });
    },
  };
}

let suite: Suite;
let stream: { messages: unknown[]; close(): void };
/** The real NMEA source's entry in the model's sources tree before the attempts. */
let sourcesBefore = '';
let canCountsBefore = '';

const hostile = (name: string): unknown => selfValue(suite.rt.runtime, `test.hostile.${name}`);
const vfs = (name: string): { errno: number; content: string } =>
  hostile(`vfs.${name}`) as { errno: number; content: string };
const codes = (name: string): number[] => hostile(name) as number[];

function canCounts(): string {
  const node = suite.rt.runtime.model.get([...suite.rt.runtime.model.selfContext.split('.'), 'test', 'can']);
  return JSON.stringify(node, (k, v: unknown) => (k === 'timestamp' ? undefined : v));
}

/** Runs one step of the hostile plugin (see its index.ts). */
function trigger(step: string): void {
  publish(suite.rt.runtime, [{ path: 'test.hostile.go', value: step }]);
}

test.before(async () => {
  suite = await startSuite();
  const { rt } = suite;
  await waitFor(async () => {
    for (const id of [HOSTILE, SERIAL_VICTIM, MQTT_VICTIM, CAN_VICTIM])
      if ((await pluginStatus(rt.runtime, id)).state !== 'running') return false;
    return true;
  }, 'every plugin running');
  await waitFor(
    () =>
      Number(selfValue(rt.runtime, 'test.serial.open')) > 0 &&
      Number(selfValue(rt.runtime, 'test.mqtt.subscribe.0')) > 0,
    'victims hold their handles',
  );
  await waitFor(() => rt.runtime.sources.every((s) => s.status().state === 'ended'), 'replays end');
  writeFileSync(suite.victimPty.a, '$GPTXT,01,01,01,before*00\r\n');
  await waitFor(() => Number(selfValue(rt.runtime, 'test.serial.lines')) === 1, 'the victim reads its serial line');
  sourcesBefore = JSON.stringify(rt.runtime.model.get(['sources', 'log']));
  canCountsBefore = canCounts();
  suite.before = snapshot(suite.dataDir, vfsRoot(suite.dataDir, HOSTILE));
  stream = await openStream(rt.runtime);
  trigger('suite');
  await waitFor(() => hostile('done') === suite.nonce, 'the hostile plugin finishes its attempts');
});

test.after.always(async () => {
  stream?.close();
  await suite?.close();
});

test.serial('VFS: `..`, absolute paths, planted and own symlinks, hard links and renames stay inside', (t) => {
  t.deepEqual(vfs('inside'), { errno: 0, content: 'inside the VFS' }, 'control: a file inside reads');
  // errno: 44 ENOENT (resolved inside the VFS, nothing there), 76 ENOTCAPABLE (would leave it).
  const expected: Record<string, number> = {
    dotdot: 44, // `..` stops at the VFS root
    'nested-dotdot': 44,
    'deep-dotdot': 44,
    'victim-vfs': 44,
    absolute: 44, // absolute paths are taken inside the VFS
    'planted-link': 44, // followed by uvwasi, its absolute target is taken inside the VFS
    'planted-link-nofollow': 76, // the kernel would follow it: refused
    'planted-dir': 76,
    'write-planted-link': 44,
    'write-planted-dir': 76,
    'write-absolute': 44,
    'create-absolute': 44,
    'symlink-absolute': 76,
    'symlink-relative-out': 76,
    'symlink-up': 76,
    'symlink-inside-dotdot': 76, // stays inside where made, would climb out once moved
    'rename-link-up': 44, // so there is nothing to move
    'link-planted-follow': 44,
    'link-planted-nofollow': 44, // never a hard link of the symlink itself
    'link-dotdot': 44,
    'link-planted-dir': 76,
    'rename-into-planted-dir': 76,
    'unlink-dotdot': 44,
    'unlink-planted-dir': 76,
    'rmdir-dotdot': 76,
    'mkdir-planted-dir': 76,
    'times-dotdot': 44,
    'times-planted-link': 44,
    'times-planted-dir': 76,
    'stat-planted-link': 44,
    'readlink-planted-link': 76,
    'list-planted-dir': 44,
  };
  for (const [name, errno] of Object.entries(expected)) t.deepEqual(vfs(name), { errno, content: '' }, name);
  // Allowed, and inside: a descending symlink, and files made at `../../` land at the VFS root.
  t.is(vfs('symlink-descending').errno, 0);
  const root = vfsRoot(suite.dataDir, HOSTILE);
  for (const name of ['create-dotdot', 'link-out', 'rename-out']) t.is(vfs(name).errno, 0, name);
  for (const suffix of ['', '-link', '-renamed'])
    t.true(existsSync(join(root, `HOSTILE-${suite.nonce}${suffix}`)), `HOSTILE-…${suffix} at the VFS root`);
  t.deepEqual(vfs('prestat-name'), { errno: 0, content: '/' }, 'the preopen is named /, not by its host path');
  t.is(vfs('list-dotdot').errno, 0);
  t.deepEqual(vfs('list-dotdot').content.split(',').sort(), readdirSync(root).sort(), '`..` lists the VFS root itself');
});

test.serial(
  'process: stdio is /dev/null and stays open, output goes to the log, no signal is raised, a bounded sleep',
  (t) => {
    const devNull = statSync('/dev/null', { bigint: true });
    for (const fd of [0, 1, 2])
      t.like(hostile(`stdio.${fd}`), { errno: 0, dev: String(devNull.dev), ino: String(devNull.ino) }, `fd ${fd}`);
    t.is(hostile('stdio.write1'), 0, 'writes to stdout go to the log (test/plugins-upstream.test.ts)');
    t.is(hostile('stdio.write2'), 0);
    t.deepEqual(hostile('stdio.read0'), { errno: 0, bytes: 0 }, 'stdin is at its end at once');
    for (const name of ['close0', 'close1', 'close2', 'renumber-root-to-1', 'renumber-1-to-9'])
      t.is(hostile(`stdio.${name}`), 76, name);
    t.deepEqual([fdIdentity(1), fdIdentity(2)], suite.stdio, "the runtime's own stdout and stderr are untouched");
    t.is(hostile('process.raise-kill'), 76);
    t.is(hostile('process.raise-term'), 76);
    t.is(
      hostile('process.sleep'),
      0,
      'poll_oneoff for 30 s returns after at most MAX_SLEEP_MS (the suite did not stall)',
    );
    t.is(hostile('process.environ'), `1/${`PLUGIN_ID=${HOSTILE}`.length + 1}`, 'PLUGIN_ID only, as upstream');
    t.is(hostile('process.args'), '0/0');
  },
);

test.serial("another plugin's handles are out of reach, and they keep working", async (t) => {
  const { rt } = suite;
  for (const call of [
    'serial_read',
    'serial_write',
    'can_read',
    'can_send',
    'mqtt_poll',
    'serial_close',
    'can_close',
    'mqtt_unsubscribe',
  ]) {
    t.deepEqual(codes(`handles.${call}`), Array<number>(32).fill(-3), call);
  }
  for (const call of ['tcp_send', 'tcp_recv_line', 'tcp_pending', 'udp_recv', 'udp_pending'])
    t.deepEqual(codes(`handles.${call}`), Array<number>(32).fill(-1), call);

  writeFileSync(suite.victimPty.a, '$GPTXT,01,01,01,after*00\r\n');
  await waitFor(
    () => Number(selfValue(rt.runtime, 'test.serial.lines')) === 2,
    "the victim's serial handle still reads",
  );
  t.is(selfValue(rt.runtime, 'test.serial.last'), '$GPTXT,01,01,01,after*00');
  const client = await mqtt.connectAsync(suite.broker.url);
  t.teardown(() => client.endAsync());
  await client.publishAsync('victim/data', 'for the victim only');
  await client.publishAsync('hostile/in', 'for the hostile plugin');
  await waitFor(
    () => (selfValue(rt.runtime, 'test.mqtt.last') as { topic?: string } | undefined)?.topic === 'victim/data',
    "the victim's subscription still delivers",
  );
  await waitFor(
    () => (hostile('mqtt.received') as string[] | undefined)?.includes('hostile/in'),
    "the hostile's granted subscription delivers",
  );
  t.deepEqual(hostile('mqtt.received'), ['hostile/in'], 'nothing of the victim reached the hostile plugin');
  t.is(canCounts(), canCountsBefore, 'the CAN victim lost no frame to the hostile plugin');
  const victim = await pluginStatus(rt.runtime, CAN_VICTIM);
  t.like((victim.hal as { kind: string; target: string }[])[0], { kind: 'can', target: 'can0' });
});

test.serial('devices it was not granted are refused; granted ones open', (t) => {
  for (const name of ['victim', 'victim-write', 'ttyS0', 'dotdot'])
    t.is(hostile(`serial.${name}`), -2, `serial ${name}`);
  t.true(Number(hostile('serial.granted-write')) > 0, 'control: the granted device opens for writing');
  t.true(Number(hostile('serial.granted')) > 0);
  t.is(hostile('serial.granted-close'), 0);
  t.is(hostile('can.pgn'), -2, 'a PGN outside the grant');
  t.is(hostile('can.wildcard'), -2);
  t.true(Number(hostile('can.all')) > 0, 'control: can0 opens, filtered to the granted PGN');
  const victimDevice = suite.rt.runtime.devices.serial.list().find((d) => d.device === suite.victimPty.b);
  t.is(victimDevice?.users, 1, "only the victim holds the victim's device");
});

test.serial('hosts and ports it was not granted see nothing', async (t) => {
  for (const name of [
    'tcp-secret',
    'tcp-secret-localhost',
    'tcp-secret-short',
    'tcp-secret-v6mapped',
    'tcp-control-port-wrap',
  ])
    t.is(hostile(`net.${name}`), -1, name);
  for (const name of ['udp-secret', 'udp-secret-localhost', 'udp-secret-broadcast'])
    t.is(hostile(`net.${name}`), -1, name);
  t.is(hostile('net.tcp-control'), 0);
  t.is(hostile('net.udp-control'), `HOSTILE-${suite.nonce}`.length);
  await waitFor(
    () => suite.net.controlTcp.length > 0 && suite.net.controlUdp.length > 0,
    'the granted servers are reached',
  );
  t.deepEqual(suite.net.controlUdp, [`HOSTILE-${suite.nonce}`]);
  t.deepEqual(suite.net.secretTcp, [], 'no connection to the TCP server it was not granted');
  t.deepEqual(suite.net.secretUdp, [], 'no datagram to the UDP server it was not granted');
});

test.serial('MQTT topics and filters it was not granted are refused; the broker sees nothing of them', (t) => {
  t.deepEqual(
    [0, 1, 2, 3, 4, 5, 6].map((i) => hostile(`mqtt.subscribe.${i}`)),
    Array<number>(7).fill(-2),
    '#, +/#, victim/#, victim/+, $SYS/#, hostile/in/#, hostile/+',
  );
  t.is(hostile('mqtt.subscribe.7'), -1, 'a malformed filter');
  t.deepEqual(
    [0, 1, 2, 3, 4].map((i) => hostile(`mqtt.publish.${i}`)),
    Array<number>(5).fill(-2),
    'victim/cmd, victim/x/y, $SYS/…, hostile/ok/sub, hostile/okx',
  );
  t.is(hostile('mqtt.publish.5'), -1, 'a wildcard in a topic');
  t.is(hostile('mqtt.publish-control'), 0);
  t.true(Number(hostile('mqtt.subscribe-control')) > 0);
  t.deepEqual(
    [...new Set(suite.mqtt.subscribed)].sort(),
    ['hostile/in', 'victim/#'],
    'the broker saw only the granted subscriptions',
  );
  const fromHostile = suite.mqtt.published.filter((m) => m.payload.includes('HOSTILE'));
  t.deepEqual([...new Set(fromHostile.map((m) => m.topic))], ['hostile/ok'], 'the broker saw only the granted publish');
});

test.serial('out-of-range pointers and lengths in every host function are refused with their error code', (t) => {
  const imported = [...readSignatures(readFileSync(fixtureWasm('hostile'))).imports.keys()];
  const memory = new GuestMemory();
  const envNames = Object.keys(createEnvImports(new RecordingHost(), memory).functions);
  const halNames = Object.keys(createDeviceImports({ pluginId: 'names' } as DeviceHost, memory).functions);
  const wasi = createWasi(tempDir(t, 'ske-wasi-names-'), memory, {
    pluginId: 'test',
    output: createWasiOutput(createLogger('test')),
  });
  const wasiNames = Object.keys(wasi.imports);
  wasi.close();
  for (const [module, names] of [
    ['env', envNames],
    [DEVICE_MODULE, halNames],
    ['wasi_snapshot_preview1', wasiNames],
  ] as const) {
    t.deepEqual(
      names.filter((n) => !imported.includes(`${module}.${n}`)),
      [],
      `the hostile plugin imports every ${module} function`,
    );
  }
  const reported = Object.keys(
    (suite.rt.runtime.model.get([...suite.rt.runtime.model.selfContext.split('.'), 'test', 'hostile', 'ptr']) ??
      {}) as Record<string, unknown>,
  );
  t.deepEqual(reported.sort(), ['env', 'signalk_hal', 'wasi']);

  // env: upstream's error return of each function (0 where it answers "nothing", -1 where it answers "error").
  const env = (fn: string): number[] => codes(`ptr.env.${fn}`);
  for (const fn of ['console.log', 'sk_debug', 'sk_set_status', 'sk_set_error', 'sk_handle_message'])
    t.deepEqual(env(fn), [0, 0, 0, 0, 0], `${fn} returned without a trap`);
  for (const fn of [
    'sk_get_self_path.path',
    'sk_get_self_path.buf',
    'sk_get_path.path',
    'sk_get_path.buf',
    'sk_read_config',
    'sk_has_capability',
    'sk_register_put_handler.context',
    'sk_register_put_handler.path',
  ]) {
    t.deepEqual(env(fn), [0, 0, 0, 0, 0], fn);
  }
  t.true(env('sk_get_self_path.control')[0]! > 0, 'control: the same call with valid buffers answers');
  for (const fn of ['sk_save_config', 'sk_publish_notification.path', 'sk_publish_notification.json'])
    t.deepEqual(env(fn), [-1, -1, -1, -1, -1], fn);
  for (const fn of [
    'sk_register_resource_provider',
    'sk_register_weather_provider',
    'sk_register_radar_provider',
    'sk_emit_binary_stream',
    'sk_radar_emit_spokes',
  ])
    t.deepEqual(env(fn), [0, 0, 0, 0, 0], fn);
  for (const fn of [
    'sk_udp_join_multicast.group',
    'sk_udp_join_multicast.iface',
    'sk_udp_leave_multicast.group',
    'sk_udp_leave_multicast.iface',
    'sk_udp_send.address',
    'sk_udp_send.data',
    'sk_udp_recv.buf',
    'sk_tcp_connect',
    'sk_tcp_send',
    'sk_tcp_recv_line',
    'sk_tcp_recv_raw',
  ]) {
    t.deepEqual(env(fn), [-1, -1, -1, -1, -1], fn);
  }
  for (const fn of ['sk_udp_recv.address', 'sk_udp_recv.port', 'sk_udp_bind']) t.deepEqual(env(fn), [-1, -1, -1], fn);
  for (const fn of [
    'sk_udp_set_multicast_ttl',
    'sk_udp_set_multicast_loopback',
    'sk_udp_set_broadcast',
    'sk_udp_pending',
    'sk_tcp_connected',
    'sk_tcp_set_line_buffering',
    'sk_tcp_pending',
  ])
    t.deepEqual(env(fn), [-1, -1], `${fn} on a bad socket id`);

  // signalk_hal: -1 invalid for every bad pointer or length; -5 for a buffer too small for one frame.
  const hal = (fn: string): number[] => codes(`ptr.signalk_hal.${fn}`);
  for (const fn of [
    'hal_last_error',
    'serial_open',
    'serial_read',
    'serial_write',
    'can_open.iface',
    'can_open.pgns',
    'can_read',
    'can_send',
    'mqtt_publish.topic',
    'mqtt_publish.payload',
    'mqtt_subscribe',
    'mqtt_poll',
  ]) {
    t.deepEqual(hal(fn), [-1, -1, -1, -1, -1], fn);
  }
  t.deepEqual(hal('serial_open_args'), [-1, -1, 0], 'bad mode, bad baud; control: the granted device');
  t.deepEqual(hal('can_open.granted'), [0]);
  t.deepEqual(hal('can_read_small'), [-5]);
  t.deepEqual(hal('mqtt_publish.flags'), [-1, -1]);
  t.deepEqual(hal('mqtt_subscribe_qos'), [-1, -1]);

  // WASI: node:wasi answers EOVERFLOW (61) or EINVAL (28) for memory it cannot reach; 8 EBADF for
  // a bad descriptor; 76 where signalk-edge refuses the call itself.
  const wasiReports = Object.entries(
    (suite.rt.runtime.model.get([...suite.rt.runtime.model.selfContext.split('.'), 'test', 'hostile', 'ptr', 'wasi']) ??
      {}) as Record<string, unknown>,
  );
  const flat = new Map<string, number[]>();
  for (const [fn, node] of wasiReports) {
    const n = node as { value?: number[] } & Record<string, { value: number[] }>;
    if (n.value) flat.set(fn, n.value);
    else
      for (const [arg, leaf] of Object.entries(n))
        if (leaf && typeof leaf === 'object' && 'value' in leaf) flat.set(`${fn}.${arg}`, leaf.value);
  }
  const special: Record<string, number[]> = {
    proc_raise: [76, 76],
    // No WASI sockets: every sock_* call is refused (on a stdio descriptor node:wasi crashed the process).
    sock_accept: [76, 76, 76],
    sock_recv: [76, 76, 76],
    sock_send: [76, 76, 76],
    sock_shutdown: [76],
    sched_yield: [0],
    fd_advise: [8, 28],
    fd_allocate: [8],
    fd_close: [8, 28],
    fd_datasync: [8],
    fd_sync: [8],
    fd_fdstat_set_flags: [8],
    fd_fdstat_set_rights: [8],
    fd_filestat_set_size: [8],
    fd_filestat_set_times: [8],
    fd_renumber: [8, 28],
  };
  t.true(flat.size >= 60, `${flat.size} WASI argument checks reported`);
  for (const [fn, got] of flat) {
    if (special[fn]) t.deepEqual(got, special[fn], fn);
    else t.true(got.length >= 2 && got.every((c) => c === 61 || c === 28), `${fn}: ${JSON.stringify(got)}`);
  }
  t.like(hostile('stdio.0'), { errno: 0 }, 'the plugin is still whole after it');
});

test.serial(
  "deltas claiming another source arrive tagged as the plugin, and cannot reach into another source's leaf",
  async (t) => {
    const { rt } = suite;
    const self = rt.runtime.model.selfContext;
    const sog = rt.runtime.model.valueAt(self, 'navigation.speedOverGround');
    t.is(sog?.$source, HOSTILE, 'its value carries the plugin as source');
    t.is(sog?.value, 99.5);
    const real = sog?.values?.['log.GP'];
    t.is(typeof real?.value, 'number', "the real source's value is kept under its own name");
    t.not(real?.value, 99.5);
    for (const [ref, entry] of Object.entries(sog?.values ?? {}))
      t.is(typeof entry.value, 'number', `values.${ref} is a value, not something written into the leaf`);
    t.not(sog?.timestamp, '2000-01-01T00:00:00.000Z');
    for (const path of ['test.spoof.claimed', 'test.spoof.asVictim', 'test.spoof.refOnly'])
      t.is(rt.runtime.model.valueAt(self, path)?.$source, HOSTILE, path);
    t.is(
      JSON.stringify(rt.runtime.model.get(['sources', 'log'])),
      sourcesBefore,
      "the real source's entry in /sources is untouched",
    );
    t.truthy(
      (rt.runtime.model.get([...self.split('.'), 'navigation']) as Record<string, unknown>).speedOverGround,
      'the navigation branch was not replaced',
    );
    const status = await pluginStatus(rt.runtime, HOSTILE);
    t.true((status.deltas?.rejected ?? 0) >= 4, 'the deltas writing into a leaf were refused and counted');
    await waitFor(
      () => stream.messages.some((m) => JSON.stringify(m).includes('test.spoof.claimed')),
      'the stream carries the claims',
    );
    for (const m of stream.messages as {
      updates?: { $source?: string; source?: { label?: string }; values?: { path: string }[] }[];
    }[]) {
      const claimed = (m.updates ?? []).filter((u) => u.values?.some((v) => v.path.startsWith('test.spoof.')));
      for (const u of claimed) t.deepEqual([u.$source, u.source?.label], [HOSTILE, HOSTILE], 'on the stream too');
    }
  },
);

test.serial('nothing outside the VFS was read or written', (t) => {
  for (const s of suite.sentinels) {
    t.is(readFileSync(s.path, 'utf8'), s.content, `${s.path} content`);
    t.is(statSync(s.path).mtimeMs, s.mtimeMs, `${s.path} mtime`);
  }
  const after = snapshot(suite.dataDir, vfsRoot(suite.dataDir, HOSTILE));
  const changed = [...new Set([...after.keys(), ...suite.before.keys()])].filter(
    (k) => after.get(k) !== suite.before.get(k),
  );
  t.deepEqual(changed, [], 'no file in the data folder outside the VFS appeared, changed or went');
  const marker = `HOSTILE-${suite.nonce}`;
  for (const dir of [suite.outsideDir, tmpdir(), PROJECT_ROOT, process.cwd(), '/']) {
    t.deepEqual(
      readdirSync(dir).filter((n) => n.includes(marker)),
      [],
      `no ${marker}* in ${dir}`,
    );
  }
  const outside = readdirSync(suite.outsideDir, { recursive: true, encoding: 'utf8' }).filter((n) =>
    n.includes(marker),
  );
  t.deepEqual(outside, []);
  const reports = JSON.stringify(
    suite.rt.runtime.model.get([...suite.rt.runtime.model.selfContext.split('.'), 'test', 'hostile']),
  );
  for (const s of suite.sentinels) t.false(reports.includes(s.content), `${relative(tmpdir(), s.path)} was not read`);
  const root = realpathSync(vfsRoot(suite.dataDir, HOSTILE));
  // Recursive listing follows the planted directory link: keep what really lies inside.
  const inVfs = readdirSync(root, { recursive: true, encoding: 'utf8' }).map((n) => join(root, n));
  for (const file of inVfs.filter((f) => lstatSync(f).isFile() && realpathSync(f).startsWith(`${root}/`))) {
    const text = readFileSync(file, 'utf8');
    for (const s of suite.sentinels) t.false(text.includes(s.content), `no copy of a sentinel in ${file}`);
  }
  t.is(readlinkSync(join(root, 'data', 'planted-link')), suite.sentinels[0]!.path, 'the planted link is as planted');
});

test.serial("the plugin's REST status lists the denials", async (t) => {
  const status = await pluginStatus(suite.rt.runtime, HOSTILE);
  t.is(status.state, 'running');
  const denied = (status.capabilities as { denied: { capability: string; count: number }[] }).denied.map(
    (d) => d.capability,
  );
  const { victimPty, ports } = suite;
  for (const capability of [
    `serial:${victimPty.b}`,
    `serial:${victimPty.b}:write`,
    'serial:/dev/ttyS0',
    'serial:/dev/../dev/ttyS0',
    'can:can0:129025',
    'can:*',
    `net:127.0.0.1:${ports.secretTcp}`,
    `net:localhost:${ports.secretTcp}`,
    `net:127.1:${ports.secretTcp}`,
    `net:::ffff:127.0.0.1:${ports.secretTcp}`,
    `net:127.0.0.1:${ports.controlTcp + 65536}`,
    `net:127.0.0.1:${ports.secretUdp}`,
    `net:localhost:${ports.secretUdp}`,
    `net:255.255.255.255:${ports.secretUdp}`,
    'mqtt:subscribe:#',
    'mqtt:subscribe:victim/#',
    'mqtt:subscribe:$SYS/#',
    'mqtt:publish:victim/cmd',
    'mqtt:publish:hostile/okx',
  ]) {
    t.true(denied.includes(capability), `${capability} in ${JSON.stringify(denied)}`);
  }
});

test.serial('a plugin asking for ever new devices keeps a bounded denial list', async (t) => {
  trigger('flood');
  await waitFor(() => hostile('flood.denied') === 1000, 'the flood ends');
  const status = await pluginStatus(suite.rt.runtime, HOSTILE);
  const denied = (status.capabilities as { denied: { capability: string; count: number }[] }).denied;
  t.true(denied.length <= 65, `${denied.length} entries`);
  t.true((denied.find((d) => d.capability === '(other capabilities)')?.count ?? 0) > 900, 'the rest counted together');
});

test.serial('proc_exit inside a call crashes the plugin only; what its instance held is closed', async (t) => {
  const { rt } = suite;
  const root = realpathSync(vfsRoot(suite.dataDir, HOSTILE));
  const held = (): string[] =>
    readdirSync('/proc/self/fd').flatMap((fd) => {
      try {
        const target = readlinkSync(`/proc/self/fd/${fd}`);
        return target === root || target.startsWith(`${root}/`) ? [target] : [];
      } catch {
        return [];
      }
    });
  t.deepEqual(held(), [root], 'the running instance holds its VFS root');
  const before = (await pluginStatus(rt.runtime, HOSTILE)).restarts ?? 0;
  trigger('exit');
  await waitFor(async () => {
    const s = await pluginStatus(rt.runtime, HOSTILE);
    return s.state === 'running' && (s.restarts ?? 0) > before;
  }, 'the plugin is restarted after its crash');
  t.deepEqual(held(), [root], 'the crashed instance left no descriptor open (its root and its five files closed)');
  for (const id of [SERIAL_VICTIM, MQTT_VICTIM, CAN_VICTIM])
    t.is((await pluginStatus(rt.runtime, id)).state, 'running', id);
  writeFileSync(suite.victimPty.a, '$GPTXT,01,01,01,last*00\r\n');
  await waitFor(() => Number(selfValue(rt.runtime, 'test.serial.lines')) === 3, 'the runtime and the victims go on');
});
