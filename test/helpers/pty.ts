// A serial cable twin made in-process from two raw pseudo-terminals: the test's own addon
// (test/native/pty.c) opens them, and a relay thread in that addon copies each one's master into
// the other's, so bytes written to one end's tty come out of the other's, as through a null-modem
// cable. The ends are reached through symlinks at stable paths; stop() closes both ptys and removes
// the links, like unplugging a USB adapter (users of the ttys see a hang-up). No external program
// is needed.
//
// The relay is a native thread blocked in poll(2), not this event loop: libuv writes a pty master
// in blocking mode, and a blocked write here would stop the loop that may read the far end, while
// retrying non-blocking writes on a timer capped a pair at about 1.4 MB/s (docs/decisions/0100).

import { existsSync, closeSync, symlinkSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { PTY_ADDON } from '../../scripts/build-native.js';

interface RawPty {
  /** Master fd (non-blocking). */
  master: number;
  /** Slave fd held open, so the master never reads EIO while no user has the tty open. */
  slave: number;
  /** The slave's path, /dev/pts/N. */
  path: string;
}

/** A running relay thread (an opaque native handle). */
type Relay = object;

interface PtyAddon {
  openRawPty(): RawPty;
  /** Copies masterA's output into masterB and back (one master into itself if they are equal). */
  startRelay(masterA: number, masterB: number): Relay;
  /** Wakes the thread and joins it; throws what ended it early, if anything did. */
  stopRelay(relay: Relay): void;
}

let addon: PtyAddon | undefined;

function loadAddon(): PtyAddon {
  if (addon) return addon;
  if (!existsSync(PTY_ADDON))
    throw new Error(`${PTY_ADDON} is missing: run \`npm run build\` (it builds test/native with node-gyp)`);
  addon = createRequire(import.meta.url)(PTY_ADDON) as PtyAddon;
  return addon;
}

export interface PtyPair {
  /** Symlinks to the two ends (stable across restarts of the pair). */
  readonly a: string;
  readonly b: string;
  /** Closes both ptys (their users see the device go away) and removes the links. */
  stop(): Promise<void>;
}

/** One raw pty, linked at `link`. */
class LinkedPty {
  readonly pty: RawPty;

  constructor(readonly link: string) {
    this.pty = loadAddon().openRawPty();
    try {
      rmSync(link, { force: true });
      symlinkSync(this.pty.path, link);
    } catch (err) {
      this.closeFds();
      throw err;
    }
  }

  /** Closes the master (users of the tty get a hang-up) and the held slave; after the relay stopped. */
  closeFds(): void {
    closeSync(this.pty.master);
    closeSync(this.pty.slave);
  }
}

/** Ptys linked at `links`, relayed into each other (one: into itself) until the returned stop(). */
function relayed(links: readonly string[]): () => Promise<void> {
  const ends: LinkedPty[] = [];
  const close = (): void => {
    for (const end of ends) rmSync(end.link, { force: true });
    for (const end of ends) end.closeFds();
  };
  let relay: Relay;
  try {
    for (const link of links) ends.push(new LinkedPty(link));
    relay = loadAddon().startRelay(ends[0]!.pty.master, ends[ends.length - 1]!.pty.master);
  } catch (err) {
    close();
    throw err;
  }
  let stopped = false;
  return async () => {
    if (stopped) return; // the fd numbers may already be someone else's
    stopped = true;
    try {
      loadAddon().stopRelay(relay);
    } finally {
      close();
    }
  };
}

/** Two ttys wired to each other at the paths `a` and `b`. */
export async function startPtyPair(a: string, b: string): Promise<PtyPair> {
  return { a, b, stop: relayed([a, b]) };
}

export interface PtyLoopback {
  /** Symlink to the tty. */
  readonly path: string;
  stop(): Promise<void>;
}

/** One tty whose transmit is wired to its own receive (a TX↔RX loopback plug) at `path`. */
export async function startPtyLoopback(path: string): Promise<PtyLoopback> {
  return { path, stop: relayed([path]) };
}
