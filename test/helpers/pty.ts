// A pseudo-terminal pair made by socat, standing in for a serial cable: bytes written to one
// end's link come out of the other. Killing socat removes both ends, like unplugging a device.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { waitFor } from './wait.js';

export interface PtyPair {
  /** Symlinks to the two ends (stable across restarts of the pair). */
  readonly a: string;
  readonly b: string;
  /** Kills socat and waits until it has exited and both links are gone. */
  stop(): Promise<void>;
}

export async function startPtyPair(a: string, b: string): Promise<PtyPair> {
  const child: ChildProcess = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    // socat logs "starting data transfer loop" once both ptys exist and their links are made.
    await waitFor(() => stderr.includes('starting data transfer loop') && existsSync(a) && existsSync(b), `socat links ${a}, ${b}`);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}; socat said: ${stderr}`);
  }
  return {
    a,
    b,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      await waitFor(() => !existsSync(a) && !existsSync(b), 'socat links to disappear', 5_000);
    },
  };
}
