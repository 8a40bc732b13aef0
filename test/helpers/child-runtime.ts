// A real `signalk-edge run` in a child process, for the tests whose subject is the process itself:
// its RSS, its CPU time, whether it stays alive, how much it logs, how fast its API answers. The
// settings file is written to a temp folder, with a free port; `stop()` ends the child and removes
// the folder.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';
import { waitFor } from './wait.js';

export interface ChildRuntime {
  pid: number;
  url: string;
  wsUrl: string;
  dataDir: string;
  /** Bytes the child wrote to stderr (its log) so far. */
  logBytes(): number;
  /** The last 20 kB of its log. */
  logTail(): string;
  /** Exit code or signal once it ended, else undefined. */
  exited(): string | undefined;
  stop(): Promise<void>;
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

// How Linux accounts a child's memory and CPU: one reader for the tests, the soak and the benchmarks.
export { cpuSeconds, rssMB } from '../../bench/proc.js';

/** Milliseconds one GET takes. */
export async function latencyMs(url: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(url);
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return performance.now() - t0;
}

export interface ChildOptions {
  /** Settings besides port, host and dataDir. */
  settings?: Record<string, unknown>;
  /** Node flags, e.g. a heap bound. */
  nodeFlags?: string[];
  /** Runs with the data folder before the child starts (plugin configurations). */
  prepare?(dataDir: string): void;
  /** SIGNALK_EDGE_LOG (default warn). */
  logLevel?: string;
}

export async function startChildRuntime(opts: ChildOptions = {}): Promise<ChildRuntime> {
  const dir = mkdtempSync(join(tmpdir(), 'ske-child-'));
  const dataDir = join(dir, 'data');
  const settingsFile = join(dir, 'settings.json');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  writeFileSync(
    settingsFile,
    JSON.stringify({ ...opts.settings, port, host: '127.0.0.1', dataDir, selfUrn: 'urn:mrn:imo:mmsi:230000002' }),
  );
  opts.prepare?.(dataDir);
  const child = spawn(
    process.execPath,
    [
      ...(opts.nodeFlags ?? []),
      join(PROJECT_ROOT, 'dist', 'runtime', 'cli', 'main.js'),
      'run',
      '--settings',
      settingsFile,
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, SIGNALK_EDGE_LOG: opts.logLevel ?? 'warn' },
    },
  );
  let tail = '';
  let bytes = 0;
  let exit: string | undefined;
  child.stderr?.on('data', (c: Buffer) => {
    bytes += c.length;
    tail = (tail + c.toString()).slice(-20_000);
  });
  child.once('exit', (code, signal) => (exit = signal ?? `exit ${code}`));
  const stop = async (): Promise<void> => {
    if (exit === undefined) {
      const ended = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await ended;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (exit !== undefined) throw new Error(`the runtime ended (${exit}): ${tail}`);
        return (await fetch(`${url}/signalk`)).ok;
      },
      'the runtime to serve',
      30_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    pid: child.pid!,
    url,
    wsUrl: url.replace(/^http/, 'ws'),
    dataDir,
    logBytes: () => bytes,
    logTail: () => tail,
    exited: () => exit,
    stop,
  };
}
