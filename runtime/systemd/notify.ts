// Sends sd_notify messages (READY=1, WATCHDOG=1, STOPPING=1) to $NOTIFY_SOCKET.
//
// Node has no unix datagram sockets, so each message is handed to `systemd-notify`. Since systemd
// 246 it waits (BARRIER=1) until the manager has read the message, so the manager can still
// attribute the sender to our unit (the unit sets NotifyAccess=all for that child). It also
// handles abstract (`@…`) sockets. See docs/decisions/0011-sd-notify-via-systemd-notify.md.

import { spawn } from 'node:child_process';
import { createLogger } from '../../core/log.js';

const log = createLogger('systemd');

export class SdNotifySender {
  private queue: Promise<void> = Promise.resolve();
  private pending = 0;
  private broken = false;

  constructor(
    readonly socket: string,
    private readonly binary = 'systemd-notify',
  ) {}

  /** Messages not yet acknowledged; the watchdog skips a ping rather than piling them up. */
  get inFlight(): number {
    return this.pending;
  }

  /** Queues one notification (`KEY=value` assignments); resolves once it was delivered or failed. */
  send(...assignments: string[]): Promise<void> {
    if (this.broken) return Promise.resolve();
    this.pending++;
    const done = this.queue.then(() => this.deliver(assignments)).finally(() => this.pending--);
    this.queue = done;
    return done;
  }

  private deliver(assignments: string[]): Promise<void> {
    return new Promise((resolve) => {
      const child = spawn(this.binary, assignments, {
        env: { NOTIFY_SOCKET: this.socket, PATH: process.env.PATH ?? '/usr/bin:/bin' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') {
          // No systemd-notify means no systemd to tell; say it once and stop trying.
          this.broken = true;
          log.warn(`NOTIFY_SOCKET is set but ${this.binary} is not installed: readiness and watchdog not reported`);
        } else {
          log.limited('warn', 'notify-error', `${this.binary} failed: ${err.message}`);
        }
        resolve();
      });
      child.on('close', (code) => {
        if (code !== 0 && code !== null)
          log.limited('warn', 'notify-exit', `${this.binary} ${assignments[0]} exited ${code}: ${stderr.trim()}`);
        resolve();
      });
    });
  }
}
