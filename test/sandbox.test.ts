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
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Aedes } from 'aedes';
import { DEMO_LOG, PROJECT_ROOT } from '../runtime/config/settings.js';
import { pluginDir, vfsRoot } from '../runtime/storage/plugin-storage.js';
import { startBroker, type TestBroker } from './helpers/mqtt-broker.js';
import { configurePlugin, FIXTURES, pluginFolder, pluginStatus, publish, selfValue } from './helpers/plugins.js';
import { startPtyPair, type PtyPair } from './helpers/pty.js';
import { replaySource, startTestRuntime, type TestRuntime } from './helpers/runtime.js';
import { waitFor } from './helpers/wait.js';

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
    out.set(name, `${st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : 'file'} ${st.isDirectory() ? 0 : st.size} ${st.mtimeMs}`);
  }
  return out;
}

function sentinel(path: string): Sentinel {
  const content = `sentinel ${randomBytes(12).toString('hex')}`;
  writeFileSync(path, content);
  return { path, content, mtimeMs: statSync(path).mtimeMs };
}

function fdIdentity(fd: number): string {
  const st = lstatSync(`/proc/self/fd/${fd}`, { throwIfNoEntry: true });
  const target = statSync(`/proc/self/fd/${fd}`);
  return `${target.dev}:${target.ino}:${st.isSymbolicLink()}`;
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
  const plugins = await pluginFolder(['hostile', 'hal-serial-probe', 'hal-mqtt-probe', 'hal-can-reader'].map((name) => ({ from: FIXTURES, name })));
  const rt = await startTestRuntime({
    dataDir,
    pluginDirs: [plugins],
    sources: [replaySource('log', DEMO_LOG), { id: 'n2k', type: 'can', interface: 'can0', driver: 'candump', file: CANDUMP, rate: 'fast', loop: false }],
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
    mqtt,
    stdio: [fdIdentity(1), fdIdentity(2)],
    async close() {
      await rt.stop();
      await Promise.all([victimPty.stop(), hostilePty.stop(), broker.close()]);
      secretTcp.server.close();
      controlTcp.server.close();
      secretUdp.socket.close();
      controlUdp.socket.close();
    },
  };
}

let suite: Suite;

test.before(async () => {
  suite = await startSuite();
  const { rt } = suite;
  await waitFor(async () => {
    for (const id of [HOSTILE, SERIAL_VICTIM, MQTT_VICTIM, CAN_VICTIM]) if ((await pluginStatus(rt.runtime, id)).state !== 'running') return false;
    return true;
  }, 'every plugin running');
  await waitFor(() => Number(selfValue(rt.runtime, 'test.serial.open')) > 0 && Number(selfValue(rt.runtime, 'test.mqtt.subscribe.0')) > 0, 'victims hold their handles');
  await waitFor(() => rt.runtime.sources.every((s) => s.status().state === 'ended'), 'replays end');
  writeFileSync(suite.victimPty.a, '$GPTXT,01,01,01,before*00\r\n');
  await waitFor(() => selfValue(rt.runtime, 'test.serial.lines') === '1' || selfValue(rt.runtime, 'test.serial.lines') === 1, 'the victim reads its serial line');
  suite.before = snapshot(suite.dataDir, vfsRoot(suite.dataDir, HOSTILE));
  publish(rt.runtime, [{ path: 'test.hostile.go', value: 'suite' }]);
  await waitFor(() => selfValue(rt.runtime, 'test.hostile.done') === suite.nonce, 'the hostile plugin finishes its attempts');
});

test.after.always(async () => {
  await suite?.close();
});

test.serial('dump', (t) => {
  const lines: string[] = [];
  for (const v of suite.rt.runtime.model.current()) if (v.path.startsWith('test.') || v.path.startsWith('navigation.speed')) lines.push(`${v.path} = ${JSON.stringify(v.value)} [${v.$source}]`);
  console.log(lines.sort().join('\n'));
  t.pass();
});
