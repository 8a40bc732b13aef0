// `systemctl` for install.sh under a stand-in service manager (fake-systemd.ts): daemon-reload,
// enable, is-enabled, is-active, restart [--no-block], stop, show -p ... for the one unit.

import { spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readState, writeState } from './fake-systemd.js';

const dir = process.env.FAKE_SYSTEMD_DIR;
if (!dir) throw new Error('FAKE_SYSTEMD_DIR must be set');
const args = process.argv.slice(2).filter((a) => a !== '--quiet' && a !== '--no-block');
const verb = args[0];
appendCall();

function appendCall(): void {
  writeFileSync(join(dir!, 'calls.log'), `${process.argv.slice(2).join(' ')}\n`, { flag: 'a' });
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function stop(): Promise<void> {
  const pidFile = join(dir!, 'supervisor.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  rmSync(pidFile);
  if (!alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
}

switch (verb) {
  case 'daemon-reload':
    break;
  case 'enable':
    writeFileSync(join(dir, 'enabled'), '');
    break;
  case 'is-enabled':
    process.exitCode = existsSync(join(dir, 'enabled')) ? 0 : 1;
    break;
  case 'is-active':
    process.exitCode = readState(dir).ActiveState === 'active' ? 0 : 3;
    break;
  case 'stop':
    await stop();
    break;
  case 'restart': {
    await stop();
    // A start by hand resets the automatic-restart count, as systemd does.
    writeState(dir, { ActiveState: 'activating', SubState: 'start', NRestarts: 0, MainPID: 0 });
    const log = openSync(join(dir, 'supervisor.log'), 'a');
    const child = spawn(process.execPath, [fileURLToPath(new URL('./fake-systemd.js', import.meta.url))], {
      detached: true,
      stdio: ['ignore', log, log],
      env: process.env,
    });
    writeFileSync(join(dir, 'supervisor.pid'), String(child.pid));
    child.unref();
    break;
  }
  case 'show': {
    const state = readState(dir) as unknown as Record<string, unknown>;
    for (let i = 1; i < args.length; i++)
      if (args[i] === '-p') console.log(`${args[i + 1]}=${String(state[args[i + 1]!])}`);
    break;
  }
  default:
    console.error(`fake systemctl: ${verb} is not supported`);
    process.exitCode = 1;
}
