// A serial cable twin made in-process from two raw pseudo-terminals: the test's own addon
// (test/native/pty.c) opens them, and this process relays each one's master to the other's, so
// bytes written to one end's tty come out of the other's, as through a null-modem cable. The ends
// are reached through symlinks at stable paths; stop() closes both ptys and removes the links,
// like unplugging a USB adapter (users of the ttys see a hang-up). No external program is needed.

import { existsSync, closeSync, symlinkSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ReadStream } from 'node:tty';
import { PTY_ADDON } from '../../scripts/build-native.js';

interface RawPty {
  /** Master fd (non-blocking). */
  master: number;
  /** Slave fd held open, so the master never reads EIO while no user has the tty open. */
  slave: number;
  /** The slave's path, /dev/pts/N. */
  path: string;
}

interface PtyAddon {
  openRawPty(): RawPty;
}

let addon: PtyAddon | undefined;

function loadAddon(): PtyAddon {
  if (addon) return addon;
  if (!existsSync(PTY_ADDON)) throw new Error(`${PTY_ADDON} is missing: run \`npm run build\` (it builds test/native with node-gyp)`);
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

/** One pty with a stream on its master, linked at `link`. */
class LinkedPty {
  readonly master: ReadStream;
  private readonly pty: RawPty;

  constructor(readonly link: string) {
    this.pty = loadAddon().openRawPty();
    this.master = new ReadStream(this.pty.master);
    // A user closing its end must not end the relay; errors after stop() are of no interest.
    this.master.on('error', () => {});
    rmSync(link, { force: true });
    symlinkSync(this.pty.path, link);
  }

  get device(): string {
    return this.pty.path;
  }

  async close(): Promise<void> {
    rmSync(this.link, { force: true });
    const closed = new Promise<void>((resolve) => this.master.once('close', () => resolve()));
    this.master.destroy(); // closes the master fd: users of the tty get a hang-up
    await closed;
    closeSync(this.pty.slave);
  }
}

/** Two ttys wired to each other at the paths `a` and `b`. */
export async function startPtyPair(a: string, b: string): Promise<PtyPair> {
  const ends = [new LinkedPty(a), new LinkedPty(b)] as const;
  ends[0].master.pipe(ends[1].master);
  ends[1].master.pipe(ends[0].master);
  return {
    a,
    b,
    async stop() {
      ends[0].master.unpipe();
      ends[1].master.unpipe();
      await Promise.all(ends.map((e) => e.close()));
    },
  };
}

export interface PtyLoopback {
  /** Symlink to the tty. */
  readonly path: string;
  stop(): Promise<void>;
}

/** One tty whose transmit is wired to its own receive (a TX↔RX loopback plug) at `path`. */
export async function startPtyLoopback(path: string): Promise<PtyLoopback> {
  const end = new LinkedPty(path);
  end.master.pipe(end.master);
  return {
    path,
    async stop() {
      end.master.unpipe();
      await end.close();
    },
  };
}
