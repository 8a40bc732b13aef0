// The soak: a real `signalk-edge run` child process under boat-like load for a while — NMEA 2000
// replayed at 2,000 frames/s, four NMEA 0183 streams at 38,400 baud over pseudo-terminals, ten
// plugins (one of them sharing a serial port with a source), five WebSocket clients, an MQTT bridge
// to a real broker — with one serial unplug/replug and one broker restart in the middle. It samples
// the child's RSS, and at the end checks every hop for loss: lines written = lines read per serial
// source, no codec/driver errors, bus rejections, plugin drops or stream drops, and every message
// the stream sent was read by its client.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { SerialPort } from 'serialport';
import WebSocket from 'ws';
import { candumpFrames, candumpLogLine } from '../../hal/can/candump.js';
import { Nmea0183Codec } from '../../hal/codecs/nmea0183/codec.js';
import { DEMO_LOG, PROJECT_ROOT } from '../../runtime/config/settings.js';
import { buildAll } from '../../scripts/build-examples.js';
import { startBroker, type TestBroker } from '../helpers/mqtt-broker.js';
import { PacedLines } from '../helpers/paced-lines.js';
import { startPtyPair, type PtyPair } from '../helpers/pty.js';
import { waitFor } from '../helpers/wait.js';
import { freePort } from '../helpers/child-runtime.js';
import { cpuSeconds, rssMB } from '../../bench/proc.js';
import { writePluginConfig } from '../../runtime/plugins/plugin-config.js';
import { configFile } from '../../runtime/storage/plugin-storage.js';
import { heapGrowth } from './heap-diff.js';

export interface SoakOptions {
  seconds: number;
  /**
   * true: six plugins take every delta (the take-all fixture) instead of six derive-all copies on
   * the few paths each uses. false: the derive-all copies, and the clients subscribe to what an
   * instrument display shows (INSTRUMENT_PATHS, each change as it comes) instead of everything
   * (`subscribe=all`, as when this is left out: `npm run soak`).
   */
  pluginsTakeAll?: boolean;
  /**
   * A folder for two V8 heap snapshots of the runtime, after warm-up and at the end (each pauses
   * the runtime for seconds); the report then says what grew between them.
   */
  heapSnapshots?: string;
  /** A folder for a V8 CPU profile of the runtime (`--cpu-prof`), written when it exits. */
  cpuProfile?: string;
  /** Print progress lines (RSS samples, events). */
  log(line: string): void;
}

export interface SoakReport {
  ok: boolean;
  failures: string[];
  /** [seconds since start, RSS MB] */
  rss: [number, number][];
  rssGrowth: number;
  /** The runtime's CPU time over the run's wall time, in cores (0.1 = 10 % of one core). */
  cpuShare: number;
  figures: Record<string, number | string>;
  /** With `heapSnapshots`: the heap between the two snapshots, kinds that grew most first. */
  heap?: string[];
}

const FRAMES_PER_SECOND = 2000;
const SERIAL_STREAMS = 4;
/** 38,400 baud, 10 bits per byte on the wire. */
const SERIAL_BYTES_PER_SECOND = 3840;
const WS_CLIENTS = 5;
const DERIVE_COPIES = 6;
const SAMPLE_MS = 1000;
/** The runtime's heap bound as the Cerbo GX profile sets it (boards/cerbo-gx.json): V8 collects against it instead of growing toward its own default, so RSS settles within a short run. */
const NODE_FLAGS = ['--max-old-space-size=128'];
/** What each derive-all copy subscribes to: a few paths, as real plugins do. */
const DERIVE_PATHS = [
  'navigation.speedOverGround',
  'navigation.headingMagnetic',
  'environment.depth.*',
  'environment.wind.*',
  'navigation.position',
  'navigation.courseOverGround*',
];

/** The recording's frames, repeated and re-stamped 1/FRAMES_PER_SECOND apart for `seconds`: a busy bus. */
export function busyCandump(file: string, seconds: number): number {
  const frames = candumpFrames(
    readFileSync(join(PROJECT_ROOT, 'test', 'fixtures', 'can', 'candumpSample3.txt'), 'utf8'),
  );
  const total = Math.ceil((FRAMES_PER_SECOND * seconds) / frames.length) * frames.length;
  const text = Array.from({ length: total }, (_, i) => {
    const f = frames[i % frames.length]!;
    return candumpLogLine(f, 1_700_000_000 + i / FRAMES_PER_SECOND, 'can0');
  });
  writeFileSync(file, `${text.join('\n')}\n`);
  return total;
}

/** The demo passage's sentences the codec takes without error (the passage holds some broken ones on purpose): any error in the soak is then the runtime's. */
function nmeaLines(): string[] {
  const codec = new Nmea0183Codec('soak');
  return readFileSync(DEMO_LOG, 'latin1')
    .split(/\r?\n/)
    .filter((l) => (l.startsWith('$') || l.startsWith('!')) && codec.decode(l).kind !== 'error');
}

/** Writes NMEA lines into a pty end at a byte rate; pausable for an unplug. */
class SerialWriter {
  written = 0;
  missed = 0;
  private port: SerialPort | undefined;
  private timer: NodeJS.Timeout | undefined;
  private paused = false;
  private readonly paced: PacedLines;

  constructor(
    private readonly path: string,
    lines: string[],
    offset: number,
  ) {
    this.paced = new PacedLines(lines, SERIAL_BYTES_PER_SECOND, offset);
  }

  async open(): Promise<void> {
    const port = new SerialPort({ path: this.path, baudRate: 38400 });
    await new Promise<void>((resolve, reject) => port.once('open', resolve).once('error', reject));
    port.on('error', () => undefined);
    this.port = port;
  }

  start(): void {
    const tickMs = 50;
    this.timer = setInterval(() => {
      const due = this.paced.due(tickMs);
      if (this.paused) {
        this.missed += due.length;
        return;
      }
      this.written += due.length;
      if (due.length > 0 && this.port) this.port.write(due.join(''));
    }, tickMs);
  }

  /** Stops writing (lines due meanwhile are counted as missed) and closes the end. */
  async unplug(): Promise<void> {
    this.paused = true;
    await new Promise<void>((r) => this.port?.drain(() => r()) ?? r());
    const port = this.port;
    this.port = undefined;
    await new Promise<void>((r) => (port?.isOpen ? port.close(() => r()) : r()));
  }

  /** The device is back; lines go out again once `ready` says the reader has it open. */
  async replug(ready: () => Promise<void>): Promise<void> {
    await this.open();
    await ready();
    this.paused = false;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await new Promise<void>((r) => this.port?.drain(() => r()) ?? r());
    await new Promise<void>((r) => (this.port?.isOpen ? this.port.close(() => r()) : r()));
  }
}

interface StreamClient {
  received: number;
  deltas: number;
  ws: WebSocket;
}

/** What each client shows when clients subscribe to what they use: an instrument display's paths. */
const INSTRUMENT_PATHS = [
  'navigation.position',
  'navigation.speedOverGround',
  'navigation.courseOverGroundTrue',
  'navigation.headingMagnetic',
  'environment.depth.belowTransducer',
  'environment.wind.*',
];

async function openClient(url: string, all: boolean): Promise<StreamClient> {
  const ws = new WebSocket(`${url}/signalk/v1/stream?subscribe=${all ? 'all' : 'none'}`);
  const client: StreamClient = { received: 0, deltas: 0, ws };
  ws.on('message', (data) => {
    client.received++;
    if (String(data).includes('"updates"')) client.deltas++;
  });
  await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
  if (!all)
    ws.send(
      JSON.stringify({
        context: 'vessels.self',
        subscribe: INSTRUMENT_PATHS.map((path) => ({ path, policy: 'instant' })),
      }),
    );
  return client;
}

async function json(url: string): Promise<unknown> {
  const res = await fetch(url);
  return res.json() as Promise<unknown>;
}

type Status = {
  sources: {
    id: string;
    state: string;
    lines: number;
    deltas: number;
    errors: Record<string, number>;
    lastError?: string;
    outages?: { count: number; downMs: number };
  }[];
  bus: { accepted: number; rejected: number };
  stream: { clients: number; sent: number; dropped: number; closedSlow: number };
  mqtt?: { state: string; counters: { published: number; dropped: number } };
};
type PluginRow = {
  id: string;
  state: string;
  deltas: { received: number; emitted: number; rejected: number; dropped: number };
  quota?: { cpu: { usedMs: number } };
};

export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  await buildAll(() => undefined);
  const dir = mkdtempSync(join(tmpdir(), 'ske-soak-'));
  const failures: string[] = [];
  const figures: Record<string, number | string> = {};
  const rss: [number, number][] = [];
  let child: ChildProcess | undefined;
  let broker: TestBroker | undefined;
  const ptys: PtyPair[] = [];
  const writers: SerialWriter[] = [];
  const clients: StreamClient[] = [];
  let watcher: mqtt.MqttClient | undefined;
  try {
    // Inputs.
    const candump = join(dir, 'busy.candump');
    figures.canFramesInLog = busyCandump(candump, opts.seconds);
    for (let i = 0; i < SERIAL_STREAMS; i++)
      ptys.push(await startPtyPair(join(dir, `tty${i}-writer`), join(dir, `tty${i}`)));
    broker = await startBroker();
    let mqttMessages = 0;
    watcher = await mqtt.connectAsync(broker.url, { reconnectPeriod: 500 });
    watcher.on('message', () => mqttMessages++);
    await watcher.subscribeAsync('signalk/#');

    // Plugins: the four examples and six derive-all copies (own ids, data subscriptions only).
    const plugins = join(dir, 'plugins');
    for (const name of ['true-wind', 'trip-log', 'anchor-light', 'nmea-proprietary'])
      cpSync(join(PROJECT_ROOT, 'examples', name), join(plugins, name), { recursive: true });
    // Taking every delta: the take-all fixture (no subscriptions: every delta, nothing emitted; six
    // derive-all copies on `*` would answer each other's outputs and multiply the load).
    const derive = join(PROJECT_ROOT, 'test', 'fixtures', 'plugins', opts.pluginsTakeAll ? 'take-all' : 'derive-all');
    for (let i = 0; i < DERIVE_COPIES; i++) {
      const target = join(plugins, `derive-${i}`);
      cpSync(derive, target, { recursive: true });
      const pkg = JSON.parse(readFileSync(join(target, 'package.json'), 'utf8')) as Record<string, unknown>;
      pkg.name = `soak-derive-${i}`;
      if (opts.pluginsTakeAll) delete pkg.signalkEdge;
      else pkg.signalkEdge = { subscriptions: [{ path: DERIVE_PATHS[i % DERIVE_PATHS.length]! }] };
      writeFileSync(join(target, 'package.json'), JSON.stringify(pkg));
    }
    const data = join(dir, 'data');
    const sharedTty = ptys[SERIAL_STREAMS - 1]!.b;
    const proprietaryId = '_signalk-edge_nmea-proprietary';
    const port = await freePort();
    const settings = {
      port,
      host: '127.0.0.1',
      dataDir: data,
      selfUrn: 'urn:mrn:imo:mmsi:230000099',
      sources: [
        { id: 'n2k', type: 'can', interface: 'can0', driver: 'candump', file: candump, rate: 'realtime', loop: false },
        ...ptys.map((p, i) => ({ id: `nmea${i}`, type: 'serial', device: p.b, baudRate: 38400 })),
      ],
      plugins: { dirs: [plugins], watch: false },
      grants: { '*': ['dataRead', 'dataWrite', 'putHandlers'], [proprietaryId]: [`serial:${sharedTty}`] },
      mqtt: { url: broker.url, publish: [{ path: 'navigation.*' }, { path: 'environment.wind.*' }], subscribe: [] },
    };
    writeFileSync(join(dir, 'settings.json'), JSON.stringify(settings, null, 2));
    writePluginConfig(configFile(data, proprietaryId), { enabled: true, configuration: { device: sharedTty } });

    // The runtime, as installers run it.
    const base = `http://127.0.0.1:${port}`;
    const snapshotFlags = opts.heapSnapshots
      ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${opts.heapSnapshots}`]
      : [];
    const profileFlags = opts.cpuProfile ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfile}`] : [];
    child = spawn(
      process.execPath,
      [
        ...NODE_FLAGS,
        ...snapshotFlags,
        ...profileFlags,
        join(PROJECT_ROOT, 'dist', 'runtime', 'cli', 'main.js'),
        'run',
        '--settings',
        join(dir, 'settings.json'),
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, SIGNALK_EDGE_LOG: 'warn' },
      },
    );
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-20_000)));
    await waitFor(
      async () => {
        try {
          return (await fetch(`${base}/signalk`)).ok;
        } catch {
          return false;
        }
      },
      'the runtime to serve',
      30_000,
    );
    for (let i = 0; i < WS_CLIENTS; i++)
      clients.push(await openClient(base.replace(/^http/, 'ws'), opts.pluginsTakeAll !== false));
    // Lines written before the runtime has a port open (and set its tty raw) would be lost to the
    // tty, and the unplug's drained check would wait for them forever.
    await waitFor(
      async () =>
        ((await json(`${base}/edge/v1/status`)) as Status).sources.filter(
          (s) => s.id.startsWith('nmea') && s.state === 'open',
        ).length === SERIAL_STREAMS,
      'the serial sources to open their ports',
      60_000,
    );
    const lines = nmeaLines();
    for (let i = 0; i < SERIAL_STREAMS; i++) {
      const w = new SerialWriter(ptys[i]!.a, lines, i * 97);
      await w.open();
      w.start();
      writers.push(w);
    }

    // The run, with one unplug/replug and one broker restart.
    const t0 = Date.now();
    const cpu0 = cpuSeconds(child.pid!);
    const seconds = () => (Date.now() - t0) / 1000;
    const events: [number, () => Promise<void>][] = [
      [
        opts.seconds * 0.4,
        async () => {
          opts.log(`t=${seconds().toFixed(0)}s: unplug tty0 for 3 s`);
          await writers[0]!.unplug();
          // Unplug between lines: what was written has been read, so a missed line is one never sent.
          await waitFor(
            async () =>
              ((await json(`${base}/edge/v1/status`)) as Status).sources.find((s) => s.id === 'nmea0')!.lines >=
              writers[0]!.written,
            'tty0 drained',
          );
          await ptys[0]!.stop();
          await new Promise((r) => setTimeout(r, 3000));
          ptys[0] = await startPtyPair(join(dir, 'tty0-writer'), join(dir, 'tty0'));
          await writers[0]!.replug(async () => {
            await waitFor(
              async () =>
                ((await json(`${base}/edge/v1/status`)) as Status).sources.find((s) => s.id === 'nmea0')!.state ===
                'open',
              'the source to reopen tty0',
              60_000,
            );
          });
          opts.log(`t=${seconds().toFixed(0)}s: tty0 back`);
        },
      ],
      [
        opts.seconds * 0.6,
        async () => {
          opts.log(`t=${seconds().toFixed(0)}s: MQTT broker down for 3 s`);
          const brokerPort = broker!.port;
          await broker!.close();
          await new Promise((r) => setTimeout(r, 3000));
          broker = await startBroker(brokerPort);
          opts.log(`t=${seconds().toFixed(0)}s: broker back`);
        },
      ],
    ];
    const snapshots: string[] = [];
    let firstSnapshotAt = 0;
    const snapshot = async (): Promise<void> => {
      if (!opts.heapSnapshots || !child) return;
      const dir = opts.heapSnapshots;
      const before = new Set(readdirSync(dir));
      child.kill('SIGUSR2');
      // Written synchronously by the runtime: done once the new file has stopped growing.
      let file = '';
      let size = -1;
      await waitFor(
        () => {
          file ||= readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f)) ?? '';
          const now = file ? statSync(join(dir, file)).size : -1;
          const done = now > 0 && now === size;
          size = now;
          return done;
        },
        'the heap snapshot',
        120_000,
      );
      snapshots.push(join(dir, file));
      if (snapshots.length === 1) firstSnapshotAt = seconds();
      opts.log(`t=${seconds().toFixed(0)}s: heap snapshot ${file} (${(size / 1048576).toFixed(0)} MB)`);
    };
    let lastAccepted = 0;
    while (seconds() < opts.seconds) {
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
      if (child.exitCode !== null) throw new Error(`the runtime exited (${child.exitCode}): ${stderr.slice(-2000)}`);
      const mb = rssMB(child.pid!);
      rss.push([seconds(), mb]);
      const status = (await json(`${base}/edge/v1/status`)) as Status;
      opts.log(
        `t=${seconds().toFixed(0)}s rss=${mb.toFixed(1)} MB bus=${Math.round((status.bus.accepted - lastAccepted) / (SAMPLE_MS / 1000))} deltas/s`,
      );
      lastAccepted = status.bus.accepted;
      while (events.length > 0 && seconds() >= events[0]![0]) await events.shift()![1]();
      if (snapshots.length === 0 && seconds() >= opts.seconds / 3) await snapshot();
    }
    await snapshot();

    const cpuShare = (cpuSeconds(child.pid!) - cpu0) / seconds();
    figures['cpu.shareOfCore'] = `${(cpuShare * 100).toFixed(1)} %`;

    // Drain: stop the writers, let the N2K log end, wait until nothing moves and clients caught up.
    await Promise.all(writers.map((w) => w.stop()));
    let status = (await json(`${base}/edge/v1/status`)) as Status;
    const settled = async (): Promise<boolean> => {
      const before = status.bus.accepted;
      status = (await json(`${base}/edge/v1/status`)) as Status;
      const n2kDone = status.sources.find((s) => s.id === 'n2k')?.state === 'ended';
      const serialDone = writers.every(
        (w, i) => (status.sources.find((s) => s.id === `nmea${i}`)?.lines ?? -1) >= w.written,
      );
      return (
        n2kDone &&
        serialDone &&
        status.bus.accepted === before &&
        clients.reduce((n, c) => n + c.received, 0) >= status.stream.sent
      );
    };
    await waitFor(settled, 'inputs drained and clients caught up', 60_000).catch(() => undefined);
    const plugins_ = (await json(`${base}/plugins`)) as PluginRow[];

    // Loss, hop by hop.
    writers.forEach((w, i) => {
      const s = status.sources.find((x) => x.id === `nmea${i}`)!;
      figures[`nmea${i}.written`] = w.written;
      figures[`nmea${i}.read`] = s.lines;
      if (w.missed) figures[`nmea${i}.missedWhileUnplugged`] = w.missed;
      if (s.outages?.count)
        figures[`nmea${i}.outages`] =
          `${s.outages.count} (${(s.outages.downMs / 1000).toFixed(1)} s down, as the runtime counted)`;
      if (s.lines !== w.written) failures.push(`nmea${i}: ${w.written} lines written, ${s.lines} read`);
      const errors = Object.entries(s.errors).filter(([, n]) => n > 0);
      if (errors.length) failures.push(`nmea${i}: errors ${JSON.stringify(s.errors)}`);
      if (s.state !== 'open') failures.push(`nmea${i}: ${s.state} at the end (${s.lastError ?? ''})`);
    });
    const n2k = status.sources.find((s) => s.id === 'n2k')!;
    figures['n2k.frames'] = n2k.lines;
    figures['n2k.framesPerSecond'] = Math.round(n2k.lines / opts.seconds);
    if (Object.values(n2k.errors).some((n) => n > 0)) failures.push(`n2k: errors ${JSON.stringify(n2k.errors)}`);
    if (n2k.lines < FRAMES_PER_SECOND * opts.seconds * 0.9)
      failures.push(
        `n2k: ${n2k.lines} frames in ${opts.seconds} s, expected about ${FRAMES_PER_SECOND * opts.seconds}`,
      );
    figures['bus.accepted'] = status.bus.accepted;
    if (status.bus.rejected > 0) failures.push(`bus rejected ${status.bus.rejected} deltas`);
    for (const p of plugins_) {
      if (p.state !== 'running') failures.push(`plugin ${p.id} is ${p.state}`);
      if (p.deltas.dropped > 0 || p.deltas.rejected > 0)
        failures.push(`plugin ${p.id}: ${p.deltas.dropped} dropped, ${p.deltas.rejected} rejected`);
    }
    figures['plugins.received'] = plugins_.reduce((n, p) => n + p.deltas.received, 0);
    // Per plugin: deltas received per second, and the wall time of its deliveries per delta.
    figures['plugins.receivedPerSecond'] = plugins_
      .filter((p) => p.deltas.received > 0)
      .map((p) => {
        const us = ((p.quota?.cpu.usedMs ?? NaN) * 1000) / p.deltas.received;
        return `${p.id.replace(/^.*[_/]/, '')} ${Math.round(p.deltas.received / opts.seconds)} (${us.toFixed(0)} µs)`;
      })
      .join(', ');
    const readByClients = clients.reduce((n, c) => n + c.received, 0);
    figures['stream.sent'] = status.stream.sent;
    figures['stream.readByClients'] = readByClients;
    figures['stream.deltasPerClient'] = clients.map((c) => c.deltas).join('/');
    if (status.stream.dropped > 0 || status.stream.closedSlow > 0)
      failures.push(`stream dropped ${status.stream.dropped}, closed ${status.stream.closedSlow} slow clients`);
    if (readByClients !== status.stream.sent)
      failures.push(`stream sent ${status.stream.sent} messages, clients read ${readByClients}`);
    if (status.mqtt) {
      figures['mqtt.published'] = status.mqtt.counters.published;
      figures['mqtt.droppedWhileBrokerDown'] = status.mqtt.counters.dropped;
      figures['mqtt.receivedByWatcher'] = mqttMessages;
      if (status.mqtt.state !== 'connected') failures.push(`MQTT ${status.mqtt.state} at the end`);
    }

    // Memory: the floor (lowest sample, i.e. after a collection) of the first third after warm-up
    // against the floor of the last third. RSS swings ±10 MB between collections under this load,
    // so medians of a few samples move by more than 5 % with nothing leaking; a leak lifts the floor.
    // With heap snapshots, from the end of the first: writing one leaves RSS about 200 MB higher
    // for good (the snapshot generator's native memory), which is not growth of the runtime.
    const warm = Math.max(opts.seconds / 3, firstSnapshotAt);
    const after = rss.filter(([t]) => t >= warm);
    const third = Math.max(1, Math.floor(after.length / 3));
    const early = Math.min(...after.slice(0, third).map(([, m]) => m));
    const late = Math.min(...after.slice(-third).map(([, m]) => m));
    const growth = late / early - 1;
    figures['rss.afterWarmUpMB'] = early.toFixed(1);
    figures['rss.endMB'] = late.toFixed(1);
    figures['rss.peakMB'] = Math.max(...rss.map(([, m]) => m)).toFixed(1);
    if (growth > 0.05)
      failures.push(
        `RSS grew ${(growth * 100).toFixed(1)} % after warm-up (${early.toFixed(1)} → ${late.toFixed(1)} MB)`,
      );
    const heap = snapshots.length === 2 ? heapGrowth(snapshots[0]!, snapshots[1]!) : undefined;
    return { ok: failures.length === 0, failures, rss, rssGrowth: growth, cpuShare, figures, heap };
  } finally {
    for (const c of clients) c.ws.terminate();
    await Promise.all(writers.map((w) => w.stop().catch(() => undefined)));
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise<void>((r) => child!.once('exit', () => r()));
    }
    await watcher?.endAsync().catch(() => undefined);
    await broker?.close();
    await Promise.all(ptys.map((p) => p.stop().catch(() => undefined)));
    rmSync(dir, { recursive: true, force: true });
  }
}
