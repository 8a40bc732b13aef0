// How the installed service starts the runtime, so the goals measure what a boat runs: the Node
// flags of this machine's board profile (scripts/install.sh puts them into the service's
// ExecStart, or the daemontools `run` script) and the environment the unit file sets.
// V8 sizes its young generation from the memory it may use (4 MB semi-spaces under the service's
// MemoryMax, 16 MB on an unbounded 24 GB bench machine); the profiles state the size a boat runs
// with (docs/decisions/0102), so the bench and a boat run the same heap.

import { resolveBoard } from '../runtime/board/resolve.js';
import { serviceEnvironment } from '../runtime/systemd/unit.js';

export interface InstalledStart {
  /** Node flags before main.js. */
  nodeFlags: string[];
  /** Variables the unit's `Environment=` lines set. */
  env: Record<string, string>;
  /** What was taken from where, for the goals' printed text. */
  what: string;
}

export function installedStart(): InstalledStart {
  const { profile } = resolveBoard();
  const env = serviceEnvironment();
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return {
    nodeFlags: profile.nodeFlags,
    env,
    what: `signalk-edge started as installed: node ${profile.nodeFlags.join(' ')} (boards/${profile.id}.json), ${vars.join(' ')} (systemd/signalk-edge.service)`,
  };
}
