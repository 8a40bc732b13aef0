// A stand-in for systemd's notify socket: a unix datagram socket (Node cannot make one, python3
// can) that records every message with its CLOCK_MONOTONIC arrival time, the clock
// process.hrtime uses, so a test can compare arrivals with moments the runtime reports.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { waitFor } from './wait.js';

export interface NotifyMessage {
  /** CLOCK_MONOTONIC nanoseconds at arrival. */
  at: bigint;
  /** The datagram's assignments, e.g. ['READY=1', 'STATUS=serving ...']. */
  fields: string[];
}

export interface NotifyListener {
  /** What to put in NOTIFY_SOCKET: a path, or `@name` for an abstract socket. */
  readonly socket: string;
  readonly messages: NotifyMessage[];
  /** Messages carrying `field` (e.g. 'WATCHDOG=1'). */
  with(field: string): NotifyMessage[];
  close(): Promise<void>;
}

const PY = `
import socket, sys, time
addr = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind('\\0' + addr[1:] if addr.startswith('@') else addr)
print('listening', flush=True)
while True:
    data = s.recv(65536)
    print(time.monotonic_ns(), data.decode('utf-8', 'replace').strip().replace('\\n', '\\t'), flush=True)
`;

export async function listenNotify(socket: string): Promise<NotifyListener> {
  const child = spawn('python3', ['-c', PY, socket], { stdio: ['ignore', 'pipe', 'pipe'] });
  let listening = false;
  let stderr = '';
  const messages: NotifyMessage[] = [];
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line === 'listening') {
      listening = true;
      return;
    }
    const space = line.indexOf(' ');
    messages.push({ at: BigInt(line.slice(0, space)), fields: line.slice(space + 1).split('\t') });
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitFor(() => listening || child.exitCode !== null, 'python3 notify listener').catch(() => undefined);
  if (!listening) {
    child.kill('SIGKILL');
    throw new Error(`notify listener did not start: ${stderr}`);
  }
  return {
    socket,
    messages,
    with: (field) => messages.filter((m) => m.fields.includes(field)),
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
