// A benchmarked child process as Linux accounts for it: CPU seconds (user + system, all threads)
// and resident memory from /proc, and waiting until it has gone quiet. Both sides of a comparison
// (signalk-edge and signalk-server) are measured this way, in the same run, under the same load
// from whatever else shares the machine.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times: 100 on every Linux this runs on (`getconf CLK_TCK`). */
const TICKS_PER_SECOND = 100;

export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) in parentheses; utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

export function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Resolves when the process has used less than `quietShare` of a core over `windowMs` (its input
 * is processed), after `minMs`; rejects after `timeoutMs`. Returns the CPU seconds at the start of
 * the quiet window, so the wait itself is not counted.
 */
export async function untilQuiet(
  pid: number,
  opts: { windowMs?: number; quietShare?: number; minMs?: number; timeoutMs?: number } = {},
): Promise<number> {
  const windowMs = opts.windowMs ?? 2000;
  const quietShare = opts.quietShare ?? 0.02;
  const t0 = Date.now();
  const samples: [number, number][] = [];
  for (;;) {
    await sleep(250);
    const now = Date.now();
    samples.push([now, cpuSeconds(pid)]);
    // Keep the newest sample at least a window old: dropping every sample older than the window
    // left the oldest kept one short of 0.9 window whenever polls came ~350 ms apart, and a quiet
    // process was waited for until jitter let one through (minutes, here).
    while (samples.length > 2 && now - samples[1]![0] >= windowMs) samples.shift();
    const [t1, c1] = samples[0]!;
    if (
      now - t0 >= (opts.minMs ?? 0) &&
      now - t1 >= windowMs * 0.9 &&
      (samples[samples.length - 1]![1] - c1) / ((now - t1) / 1000) < quietShare
    )
      return c1;
    if (now - t0 > (opts.timeoutMs ?? 600_000))
      throw new Error(`process ${pid} still busy after ${opts.timeoutMs ?? 600_000} ms`);
  }
}

export interface Child {
  proc: ChildProcess;
  pid: number;
  /** The last 20 kB of its stderr and stdout, for error messages. */
  output(): string;
  stop(): Promise<void>;
}

export function startChild(command: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv }): Child {
  const proc = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (c: Buffer) => (out = (out + c.toString()).slice(-20_000));
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  if (proc.pid === undefined) throw new Error(`could not start ${command}`);
  return {
    proc,
    pid: proc.pid,
    output: () => out,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls `url` until it answers (any HTTP status), or rejects with the child's output after `timeoutMs`. */
export async function untilServing(child: Child, url: string, timeoutMs = 120_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    if (child.proc.exitCode !== null)
      throw new Error(`exited with ${child.proc.exitCode}: ${child.output().slice(-2000)}`);
    try {
      await fetch(url);
      return;
    } catch {
      // not yet listening
    }
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`not serving ${url} after ${timeoutMs} ms: ${child.output().slice(-2000)}`);
    await sleep(200);
  }
}
