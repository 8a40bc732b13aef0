// The service on Venus OS (Cerbo GX), which has no systemd: a daemontools service folder whose
// `run` execs the runtime (svscan restarts it when it exits) and whose `log/run` keeps its output
// with multilog, plus the line for /data/rc.local that links the folder into /service at boot
// (/service lives on the root file system, which Venus OS firmware updates replace).

import type { BoardProfile } from './profile.js';
import { serviceCommand, serviceEnvironment, type DropInOptions } from '../systemd/unit.js';

export const RC_LOCAL_MARK = '# signalk-edge (scripts/install.sh): start the service under daemontools';

export function renderRunScript(profile: BoardProfile, opts: DropInOptions): string {
  return [
    '#!/bin/sh',
    `# signalk-edge under daemontools, board ${profile.id}. Written by scripts/install.sh; re-run it rather than editing this file.`,
    'exec 2>&1',
    `cd ${profile.paths.data} || exit 1`,
    ...Object.entries(serviceEnvironment()).map(([name, value]) => `export ${name}=${value}`),
    `exec ${serviceCommand(profile, opts)}`,
    '',
  ].join('\n');
}

/** Timestamped, rotated logs in RAM (/var/log is a tmpfs on Venus OS): 4 files of 25 kB. */
export function renderLogRunScript(): string {
  return ['#!/bin/sh', 'exec multilog t s25000 n4 /var/log/signalk-edge', ''].join('\n');
}

/** The /data/rc.local lines that put the service folder under svscan at every boot. */
export function renderRcLocalBlock(serviceDir: string): string {
  return `${RC_LOCAL_MARK}\nln -sfn ${serviceDir} /service/signalk-edge\n`;
}
