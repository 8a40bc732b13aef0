// A stand-in service manager for install.sh's upgrade tests: just enough of systemd for one
// Type=notify unit installed under a --root. `systemctl` (fake-systemctl.js, put on PATH as
// SYSTEMCTL) starts this supervisor detached; it runs the unit's ExecStart with paths resolved
// inside the root, gives it a notify socket (READY=1 turns it active, WATCHDOG=1 feeds the
// watchdog), and restarts it on failure as Restart=on-failure would, counting NRestarts.
// State lives in FAKE_SYSTEMD_DIR/state.json for `systemctl show` / `is-active` to read.

import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { listenNotify } from './notify-listener.js';

export interface UnitState {
  ActiveState: string;
  SubState: string;
  NRestarts: number;
  MainPID: number;
}

export const UNIT = 'signalk-edge.service';

export function readState(dir: string): UnitState {
  const file = join(dir, 'state.json');
  return existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as UnitState)
    : { ActiveState: 'inactive', SubState: 'dead', NRestarts: 0, MainPID: 0 };
}

export function writeState(dir: string, state: UnitState): void {
  writeFileSync(join(dir, 'state.json.new'), JSON.stringify(state));
  renameSync(join(dir, 'state.json.new'), join(dir, 'state.json'));
}

/** The unit's directives, the drop-in's overriding the unit's (an empty ExecStart= resets it). */
function directive(root: string, key: string): string | undefined {
  let value: string | undefined;
  for (const file of [`etc/systemd/system/${UNIT}`, `etc/systemd/system/${UNIT}.d/10-board.conf`]) {
    const path = join(root, file);
    if (!existsSync(path)) continue;
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (line.startsWith(`${key}=`)) value = line.slice(key.length + 1);
    }
  }
  return value;
}

/** An absolute path as the service would see it from inside the root (like a chroot). */
function inRoot(root: string, arg: string): string {
  return arg.startsWith('/') && existsSync(dirname(join(root, arg))) ? join(root, arg) : arg;
}

async function supervise(dir: string, root: string): Promise<void> {
  const exec = directive(root, 'ExecStart');
  if (!exec) throw new Error('no ExecStart');
  const [, ...args] = exec.split(' ');
  const argv = args.map((a) => inRoot(root, a));
  const watchdogMs = Number(directive(root, 'WatchdogSec') ?? 0) * 1000;
  const timeoutStartMs = Number(process.env.FAKE_TIMEOUT_START_SEC ?? directive(root, 'TimeoutStartSec') ?? 90) * 1000;
  const restartMs = Number(process.env.FAKE_RESTART_SEC ?? 1) * 1000;
  const log = join(dir, 'service.log');
  const socket = join(dir, 'notify.sock');
  rmSync(socket, { force: true }); // left by the previous supervisor's listener
  const listener = await listenNotify(socket);
  let state = readState(dir);
  let child: ChildProcess | undefined;
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  const set = (patch: Partial<UnitState>): void => {
    state = { ...state, ...patch };
    writeState(dir, state);
  };
  const arm = (ms: number, why: string): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      appendFileSync(log, `fake-systemd: ${why}: killing ${child?.pid}\n`);
      child?.kill('SIGABRT');
    }, ms);
  };
  let seen = 0;
  const poll = setInterval(() => {
    for (const m of listener.messages.slice(seen)) {
      if (m.fields.includes('READY=1') && state.ActiveState === 'activating') {
        set({ ActiveState: 'active', SubState: 'running' });
        if (watchdogMs) arm(watchdogMs, 'watchdog timeout');
        else clearTimeout(timer);
      }
      if (m.fields.includes('WATCHDOG=1') && state.ActiveState === 'active' && watchdogMs)
        arm(watchdogMs, 'watchdog timeout');
    }
    seen = listener.messages.length;
  }, 50);
  const start = (): void => {
    child = spawn(process.execPath, argv, {
      cwd: inRoot(root, directive(root, 'WorkingDirectory') ?? '/'),
      env: {
        ...process.env,
        NOTIFY_SOCKET: listener.socket,
        WATCHDOG_USEC: String(watchdogMs * 1000),
        WATCHDOG_PID: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (c: Buffer) => appendFileSync(log, c));
    child.stderr?.on('data', (c: Buffer) => appendFileSync(log, c));
    set({ ActiveState: 'activating', SubState: 'start', MainPID: child.pid ?? 0 });
    arm(timeoutStartMs, 'start timeout');
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      appendFileSync(log, `fake-systemd: main process exited (${signal ?? code})\n`);
      if (stopping) return;
      set({ ActiveState: 'activating', SubState: 'auto-restart', MainPID: 0 });
      setTimeout(() => {
        set({ NRestarts: state.NRestarts + 1 });
        start();
      }, restartMs);
    });
  };
  process.once('SIGTERM', () => {
    stopping = true;
    clearInterval(poll);
    clearTimeout(timer);
    set({ ActiveState: 'deactivating', SubState: 'stop-sigterm' });
    const done = (): void => {
      set({ ActiveState: 'inactive', SubState: 'dead', MainPID: 0 });
      void listener.close().then(() => process.exit(0));
    };
    if (child && child.exitCode === null && child.signalCode === null) {
      child.once('exit', done);
      child.kill('SIGTERM');
      setTimeout(() => child?.kill('SIGKILL'), 5000).unref();
    } else done();
  });
  start();
}

if (process.argv[1]?.endsWith('fake-systemd.js')) {
  const [dir, root] = [process.env.FAKE_SYSTEMD_DIR, process.env.FAKE_SYSTEMD_ROOT];
  if (!dir || !root) throw new Error('FAKE_SYSTEMD_DIR and FAKE_SYSTEMD_ROOT must be set');
  await supervise(dir, root);
}
