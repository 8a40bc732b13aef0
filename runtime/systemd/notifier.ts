// The runtime's side of `Type=notify`: READY=1 once it serves, WATCHDOG=1 while its loop is
// healthy, STOPPING=1 when it shuts down. Does nothing unless systemd set NOTIFY_SOCKET.

import { createLogger } from '../../core/log.js';
import { SdNotifySender } from './notify.js';
import { LoopWatchdog } from './watchdog.js';

const log = createLogger('systemd');

export interface SystemdNotifier {
  readonly socket: string;
  /** Watchdog period in ms, when systemd asked for one. */
  readonly watchdogMs: number | undefined;
  /** Sends READY=1 (with a status line) and starts feeding the watchdog. */
  ready(status: string): Promise<void>;
  /** Stops the watchdog and sends STOPPING=1. */
  stopping(): Promise<void>;
}

/** WATCHDOG_USEC in ms if the watchdog is meant for this process (WATCHDOG_PID unset or ours). */
export function watchdogMsFromEnv(env: NodeJS.ProcessEnv, pid = process.pid): number | undefined {
  const usec = env.WATCHDOG_USEC;
  if (!usec) return undefined;
  if (env.WATCHDOG_PID && env.WATCHDOG_PID !== String(pid)) return undefined;
  if (!/^\d+$/.test(usec) || Number(usec) === 0) {
    log.warn(`ignoring WATCHDOG_USEC=${JSON.stringify(usec)}: not a positive integer`);
    return undefined;
  }
  return Number(usec) / 1000;
}

export function systemdNotifierFromEnv(env: NodeJS.ProcessEnv = process.env): SystemdNotifier | undefined {
  const socket = env.NOTIFY_SOCKET;
  if (!socket) return undefined;
  const sender = new SdNotifySender(socket);
  const watchdogMs = watchdogMsFromEnv(env);
  const watchdog =
    watchdogMs === undefined
      ? undefined
      : new LoopWatchdog({
          watchdogMs,
          ping: () => {
            if (sender.inFlight > 0) return false;
            void sender.send('WATCHDOG=1');
            return true;
          },
        });
  return {
    socket,
    watchdogMs,
    async ready(status) {
      await sender.send('READY=1', `STATUS=${status.replace(/\n/g, ' ')}`);
      watchdog?.start();
      log.info(
        `told systemd READY=1${watchdog ? `; feeding watchdog every ${watchdog.timing.pingEveryMs} ms while the loop is healthy` : ''}`,
      );
    },
    async stopping() {
      watchdog?.stop();
      await sender.send('STOPPING=1');
    },
  };
}
