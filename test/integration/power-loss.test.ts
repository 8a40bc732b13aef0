// Power loss: the runtime runs as a child process (`signalk-edge run --settings ...`) with a plugin
// that saves a new version of its state on every position (test/fixtures/plugins/durable-writer:
// VFS file by temp + fsync + rename + folder fsync through WASI, and sk_save_config), while the
// test PUTs the trip-log example's configuration over REST and runs `signalk-edge grant`/`revoke`
// (some of those killed too). The child is killed with SIGKILL at seeded random points; after each
// kill every file must be a whole version, never empty, torn or mixed, and no older than what was
// acknowledged before the kill; on restart the plugin must load the real file, not a leftover temp.
//
// SIGKILL ends the process but not the kernel: data written before it stays in the page cache and
// reaches the disk, so kills prove atomicity (rename), not durability (fsync). The second test
// traces the system calls to show every write is fsynced before its rename and the folder after it.

import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { DEMO_LOG, PROJECT_ROOT } from '../../runtime/config/settings.js';
import { readGrantsFile } from '../../runtime/capabilities/store.js';
import { configFile, vfsRoot } from '../../runtime/storage/plugin-storage.js';
import { EXAMPLES, FIXTURES, IDS, pluginFolder } from '../helpers/plugins.js';
import { tempDir } from '../helpers/temp.js';
import { systemTool } from '../helpers/system-tool.js';
import { waitFor } from '../helpers/wait.js';

const MAIN = join(PROJECT_ROOT, 'dist', 'runtime', 'cli', 'main.js');
const WRITER = '_signalk-edge-fixture_durable-writer';
const KILLS = 24;
const SEED = Number(process.env.POWER_LOSS_SEED ?? 7_2024);
/** Grants toggled by the CLI while the runtime runs (made-up devices: nothing opens them). */
const TOGGLED = ['serial:/dev/ttyPL0', 'serial:/dev/ttyPL1', 'serial:/dev/ttyPL2'];

/** mulberry32: a small seeded generator, so a failing schedule can be replayed with POWER_LOSS_SEED. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// The durable-writer's versions (test/fixtures/plugins/durable-writer/assembly/version.ts).
function padFor(seq: number): string {
  const len = 1000 + ((seq * 7919) % 150_000);
  return Buffer.from(Array.from({ length: len }, (_, i) => 97 + ((seq + i) % 26))).toString('latin1');
}

function checkOf(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/** The seq of a whole version of the writer's state, or a reason it is not one. */
function versionSeq(value: unknown): number | string {
  if (typeof value !== 'object' || value === null) return `not an object: ${JSON.stringify(value)?.slice(0, 80)}`;
  const { seq, pad, check } = value as Record<string, unknown>;
  if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 1) return `bad seq ${String(seq)}`;
  if (pad !== padFor(seq) || check !== checkOf(`${seq}:${pad}`))
    return `seq ${seq} with a pad or check of another version`;
  return seq;
}

/** The k-th configuration PUT over REST (its pad makes sizes vary, so a torn file cannot pass). */
function restConfig(k: number): { rest: number; pad: string } {
  return { rest: k, pad: 'r'.repeat(1000 + ((k * 7919) % 150_000)) };
}

/** The parsed file; throws naming the file (and `when`) if it is empty or not JSON: a torn write. */
function readJson(file: string, when = ''): unknown {
  const text = readFileSync(file, 'utf8');
  if (text.length === 0) throw new Error(`${when}${file} is empty`);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new Error(`${when}${file} is not whole JSON (${text.length} bytes): ${(err as Error).message}`);
  }
}

interface Child {
  proc: ChildProcess;
  url: string;
  exited: Promise<void>;
  log: string[];
}

/** Every child started, killed when the test ends however it ends (killing an exited one is a no-op). */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

async function startRuntime(settings: string): Promise<Child> {
  const proc = spawn(process.execPath, [MAIN, 'run', '--settings', settings], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  const log: string[] = [];
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  let url = '';
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    const m = /discovery:\s+(http:\/\/\S+)\/signalk/.exec(line);
    if (m) url = m[1]!;
  });
  createInterface({ input: proc.stderr! }).on('line', (line) => {
    log.push(line);
    if (log.length > 50) log.shift();
  });
  await waitFor(() => url !== '' || proc.exitCode !== null, 'the runtime prints its address');
  if (!url) throw new Error(`runtime exited early: ${log.join('\n')}`);
  return { proc, url, exited, log };
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return res.json() as Promise<unknown>;
}

async function selfValue(child: Child, path: string): Promise<unknown> {
  const res = await fetch(`${child.url}/signalk/v1/api/vessels/self/${path.replace(/\./g, '/')}`);
  return res.ok ? ((await res.json()) as { value?: unknown }).value : undefined;
}

async function plugins(child: Child): Promise<{ id: string; state: string }[]> {
  return (await getJson(`${child.url}/plugins`)) as { id: string; state: string }[];
}

/** Runs `signalk-edge grant|revoke` as its own process; resolves with its exit code (null: killed). */
function cli(
  settings: string,
  op: 'grant' | 'revoke',
  capability: string,
): { proc: ChildProcess; done: Promise<number | null> } {
  const proc = spawn(process.execPath, [MAIN, op, WRITER, capability, '--settings', settings], { stdio: 'ignore' });
  children.add(proc);
  return { proc, done: new Promise((resolve) => proc.once('exit', (code) => resolve(code))) };
}

function grantsOf(dataDir: string): string[] {
  return [...(readGrantsFile(dataDir)[WRITER] ?? [])].sort();
}

/** The child's settings.json in `dataDir`: the demo log replayed in a loop, the plugins in `folder`. */
function writeSettings(
  dataDir: string,
  folder: string,
  linesPerSecond: number,
  extra: Record<string, unknown> = {},
): string {
  const settings = join(dataDir, 'settings.json');
  writeFileSync(
    settings,
    JSON.stringify({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      sources: [{ id: 'log', type: 'replay', file: DEMO_LOG, rate: 'realtime', linesPerSecond, loop: true }],
      plugins: { dirs: [folder], watch: false },
      ...extra,
    }),
  );
  return settings;
}

/** Files the runtime wrote with writeFileAtomic, and temp files it left, outside the plugins' VFS folders. */
function runtimeFiles(dataDir: string): { json: string[]; temps: string[] } {
  const all = readdirSync(dataDir, { recursive: true, encoding: 'utf8' }).filter(
    (f) => !f.includes('/vfs/') && !f.endsWith('/vfs'),
  );
  return {
    json: all.filter((f) => f.endsWith('.json')).map((f) => join(dataDir, f)),
    temps: all.filter((f) => /(^|\/)\.[^/]+\.\d+\.[0-9a-f]{8}\.tmp$/.test(f)),
  };
}

test('SIGKILL at random points while plugins save and settings change: every file is a whole old or new version', async (t) => {
  t.timeout(150_000);
  t.teardown(() => {
    for (const c of children) c.kill('SIGKILL');
  });
  const started = Date.now();
  const random = seeded(SEED);
  t.log(`seed ${SEED} (POWER_LOSS_SEED=${SEED} replays this schedule)`);
  const dataDir = tempDir(t, 'ske-power-');
  const folder = await pluginFolder([
    { from: FIXTURES, name: 'durable-writer' },
    { from: EXAMPLES, name: 'trip-log' },
  ]);
  const settings = writeSettings(dataDir, folder, 400, {
    // The writer saves (fsync and sk_save_config) on every position, far above a plugin's default
    // quotas: lifted here, where durability is the subject, not the bounds.
    // (Its versions are ~100 KB, so a torn write would show.)
    limits: { plugins: { configWritesPerSecond: 1000, cpuShare: 1 }, config: { maxBytes: 1024 * 1024 } },
  });
  const state = join(vfsRoot(dataDir, WRITER), 'data', 'state.json');
  let fileSeq = -2; // what the writer must load next: -2 = no file yet
  let restSent = 0;
  let restAcked = 0;
  let grants: string[] = [];
  const figures = { writes: 0, tempLeftAtRestart: 0, cliKilled: 0, restPuts: 0, cliRuns: 0 };

  for (let kill = 1; kill <= KILLS; kill++) {
    const child = await startRuntime(settings);
    await waitFor(async () => {
      const list = await plugins(child);
      return (
        list.length === 2 &&
        list.every((p) => p.state === 'running') &&
        (await selfValue(child, 'test.durable.loaded')) !== undefined
      );
    }, `cycle ${kill}: plugins running`);
    t.is(
      await selfValue(child, 'test.durable.loaded'),
      fileSeq,
      `cycle ${kill}: the writer loaded the real file (seq ${fileSeq}), not a temp file`,
    );

    // Work until the kill: REST PUTs, grant/revoke commands, acknowledged writes observed.
    const killAt = Date.now() + 80 + random() * 900;
    let acked = 0;
    const until = (): boolean => Date.now() < killAt;
    const watchAcks = (async () => {
      while (until()) {
        const seq = await selfValue(child, 'test.durable.seq').catch(() => undefined);
        if (typeof seq === 'number') acked = Math.max(acked, seq);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const putConfigs = (async () => {
      while (until()) {
        const k = ++restSent;
        const res = await fetch(`${child.url}/plugins/${IDS.tripLog}/config`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ configuration: restConfig(k) }),
        }).catch(() => undefined);
        if (res?.ok) restAcked = k;
        figures.restPuts++;
      }
    })();
    let pendingGrants: string[] | undefined;
    const runCli = (async () => {
      while (until()) {
        const capability = TOGGLED[Math.floor(random() * TOGGLED.length)]!;
        const op = grants.includes(capability) ? 'revoke' : 'grant';
        pendingGrants = (op === 'grant' ? [...grants, capability] : grants.filter((g) => g !== capability)).sort();
        const run = cli(settings, op, capability);
        figures.cliRuns++;
        if (random() < 0.3) {
          const after = random() * 250;
          setTimeout(() => run.proc.kill('SIGKILL'), after);
        }
        const code = await run.done;
        if (code === 0) grants = pendingGrants;
        else if (code === null) figures.cliKilled++;
        if (code !== null) pendingGrants = undefined;
        else break; // a killed command leaves the file old or new: settled after the kill
      }
    })();
    await new Promise((r) => setTimeout(r, Math.max(0, killAt - Date.now())));
    child.proc.kill('SIGKILL');
    await child.exited;
    await Promise.all([watchAcks, putConfigs, runCli]);

    // The writer's VFS file and its sk_save_config file: whole versions, none older than acknowledged
    // (absent only while nothing was: killed before the first position arrived).
    const when = `after kill ${kill}: `;
    if (existsSync(state)) {
      const stateSeq = versionSeq(readJson(state, when));
      t.true(
        typeof stateSeq === 'number' && stateSeq >= acked,
        `cycle ${kill}: ${state}: ${stateSeq} (acknowledged ${acked})`,
      );
      const saved = versionSeq(
        (readJson(configFile(dataDir, WRITER), when) as { configuration?: unknown }).configuration,
      );
      t.true(
        typeof saved === 'number' && saved >= acked,
        `cycle ${kill}: writer config: ${saved} (acknowledged ${acked})`,
      );
      figures.writes = Math.max(figures.writes, typeof stateSeq === 'number' ? stateSeq : 0);
      if (existsSync(`${state}.tmp`)) figures.tempLeftAtRestart++;
      fileSeq = typeof stateSeq === 'number' ? stateSeq : -1;
    } else {
      t.is(acked, 0, `${when}${state} is missing though a version was acknowledged`);
    }

    // The REST-configured plugin's file: one of the configurations PUT, none older than acknowledged.
    const tripFile = configFile(dataDir, IDS.tripLog);
    const trip = existsSync(tripFile)
      ? (readJson(tripFile, when) as { configuration?: { rest?: number } }).configuration
      : undefined;
    const k = trip?.rest ?? 0;
    t.true(
      k >= restAcked && k <= restSent,
      `cycle ${kill}: trip-log config is PUT ${k} (acknowledged ${restAcked}, sent ${restSent})`,
    );
    if (k > 0) t.deepEqual(trip, restConfig(k), `cycle ${kill}: trip-log config ${k} whole`);

    // grants.json: the state after the last finished command, or after the killed one.
    const now = grantsOf(dataDir);
    const allowed = [JSON.stringify(grants), ...(pendingGrants ? [JSON.stringify(pendingGrants)] : [])];
    t.true(
      allowed.includes(JSON.stringify(now)),
      `cycle ${kill}: grants ${JSON.stringify(now)} in ${allowed.join(' | ')}`,
    );
    grants = now;

    // Everything else the runtime wrote (identity, AOT cache index...) still parses.
    for (const file of runtimeFiles(dataDir).json) t.notThrows(() => readJson(file, when));
  }

  // One last start: loads what the last kill left, and new writes clear the temp files of the dead.
  const child = await startRuntime(settings);
  await waitFor(async () => (await selfValue(child, 'test.durable.loaded')) !== undefined, 'last start');
  t.is(await selfValue(child, 'test.durable.loaded'), fileSeq);
  const res = await fetch(`${child.url}/plugins/${IDS.tripLog}/config`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ configuration: restConfig(++restSent) }),
  });
  t.is(res.status, 200);
  t.is(await cli(settings, grants.includes(TOGGLED[0]!) ? 'revoke' : 'grant', TOGGLED[0]!).done, 0);
  await waitFor(async () => Number(await selfValue(child, 'test.durable.seq')) > fileSeq, 'the writer writes again');
  child.proc.kill('SIGTERM');
  await child.exited;
  t.deepEqual(runtimeFiles(dataDir).temps, [], 'no temp file of a killed runtime is left beside a file written since');
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  t.log(
    `${KILLS} kills in ${seconds} s; ${figures.writes} writer versions; ${figures.restPuts} REST PUTs; ${figures.cliRuns} grant/revoke runs (${figures.cliKilled} killed); state.json.tmp left at ${figures.tempLeftAtRestart} restarts`,
  );
});

/** strace must be able to trace a child here (it may be absent, or ptrace refused in a container). */
const strace = systemTool('strace', 'strace', ['-f', '-qq', '-o', '/dev/null', 'true'], import.meta.url);

interface Syscall {
  call: string;
  args: string;
  result: number;
}

function parseStrace(text: string): Syscall[] {
  const out: Syscall[] = [];
  for (const line of text.split('\n')) {
    const m = /^\d+\s+(\w+)\((.*)\)\s+=\s+(-?\d+)/.exec(line);
    if (m) out.push({ call: m[1]!, args: m[2]!, result: Number(m[3]) });
  }
  return out;
}

strace.test(
  "every atomic write, the runtime's and the plugin's through WASI, is fsynced before its rename and its folder after it",
  async (t) => {
    const dataDir = tempDir(t, 'ske-power-trace-');
    const folder = await pluginFolder([{ from: FIXTURES, name: 'durable-writer' }]);
    const settings = writeSettings(dataDir, folder, 200);
    const trace = join(dataDir, 'strace.txt');
    const proc = spawn(
      'strace',
      [
        '-f',
        '-qq',
        '-e',
        'trace=openat,write,pwrite64,writev,fsync,fdatasync,close,rename,renameat,renameat2',
        '-o',
        trace,
        process.execPath,
        MAIN,
        'run',
        '--settings',
        settings,
      ],
      {
        stdio: 'ignore',
      },
    );
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    // The runtime is strace's child: its pid starts every line of the trace. Signals go to it, not to
    // strace, which goes on tracing whatever it is sent while the tracee is busy.
    const tracee = (): number => Number(/^(\d+) /.exec(readFileSync(trace, 'utf8'))?.[1]);
    t.teardown(() => {
      for (const pid of [tracee(), proc.pid]) {
        try {
          if (pid) process.kill(pid, 'SIGKILL');
        } catch {
          // exited already
        }
      }
    });
    const state = join(vfsRoot(dataDir, WRITER), 'data', 'state.json');
    await waitFor(
      () => existsSync(state) && (versionSeq(readJson(state)) as number) >= 5,
      'five versions written',
      30_000,
    );
    process.kill(tracee(), 'SIGTERM');
    await exited;

    // Replays the trace: the path behind each descriptor, when each path was last written and fsynced.
    const fdPath = new Map<number, string>();
    const lastWrite = new Map<string, number>();
    const lastSync = new Map<string, number>();
    const pending = new Map<string, string>(); // renamed target → its folder, until that folder is fsynced
    const renamed: string[] = [];
    const faults: string[] = [];
    const syncCalls = new Set<string>(); // how the plugin's temp file was flushed
    parseStrace(readFileSync(trace, 'utf8')).forEach((c, i) => {
      const fd = Number(c.args.split(',')[0]);
      const path = fdPath.get(fd);
      if (c.call === 'openat' && c.result >= 0) fdPath.set(c.result, /"([^"]*)"/.exec(c.args)?.[1] ?? '');
      else if (c.call === 'close') fdPath.delete(fd);
      else if (/^(write|pwrite64|writev)$/.test(c.call) && path !== undefined) lastWrite.set(path, i);
      else if (/^f(data)?sync$/.test(c.call) && path !== undefined) {
        lastSync.set(path, i);
        if (path === `${state}.tmp`) syncCalls.add(c.call);
        for (const [target, dir] of pending) if (dir === path) pending.delete(target);
      } else if (c.call.startsWith('rename') && c.result === 0) {
        const [from, to] = [...c.args.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
        if ((lastWrite.get(from!) ?? -1) > (lastSync.get(from!) ?? -1))
          faults.push(`${from} renamed before its last write was fsynced`);
        if (pending.has(to!)) faults.push(`${to} renamed again before its folder was fsynced`);
        pending.set(to!, dirname(to!));
        renamed.push(to!);
      }
    });
    const config = configFile(dataDir, WRITER);
    t.true(renamed.filter((p) => p === state).length >= 5, "the plugin's own renames of state.json are in the trace");
    t.true(
      renamed.filter((p) => p === config).length >= 5,
      "the runtime's renames of the plugin's config file are in the trace",
    );
    t.deepEqual(
      [...syncCalls].sort(),
      ['fdatasync', 'fsync'],
      'WASI fd_datasync and fd_sync reach the kernel as fdatasync and fsync',
    );
    t.deepEqual(
      faults,
      [],
      'every renamed file was fsynced after its last write, and its folder before the next rename',
    );
    t.deepEqual([...pending.keys()], [], 'every rename was followed by an fsync of its folder');
  },
);
