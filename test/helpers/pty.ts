// A serial cable twin made in-process from two raw pseudo-terminals: the test's own addon
// (test/native/pty.c) opens them, and this process relays each one's master to the other's, so
// bytes written to one end's tty come out of the other's, as through a null-modem cable. The ends
// are reached through symlinks at stable paths; stop() closes both ptys and removes the links,
// like unplugging a USB adapter (users of the ttys see a hang-up). No external program is needed.
//
// Masters are read through a tty stream but written with non-blocking writeSync: libuv writes to
// a pty master in blocking mode (it cannot reopen a master), and a blocked write would stop this
// event loop, which may be the one that reads the far end — a deadlock once a tty's 4 KB fill up.

import { existsSync, closeSync, symlinkSync, rmSync, writeSync } from 'node:fs';
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

/** Above this many bytes waiting for the far tty, the near one is not read (a cable's flow control). */
const HIGH_WATER = 64 * 1024;
const RETRY_MS = 1;

/** One pty with a stream on its master, linked at `link`. */
class LinkedPty {
  readonly master: ReadStream;
  private readonly pty: RawPty;
  private queue: Buffer[] = [];
  private queued = 0;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

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

  /** Sends what `from`'s master reads into this pty's master, pausing `from` while this one is full. */
  relayFrom(from: LinkedPty): void {
    from.master.on('data', (chunk: Buffer) => {
      this.queue.push(chunk);
      this.queued += chunk.length;
      this.flush(from);
      if (this.queued > HIGH_WATER) from.master.pause();
    });
  }

  private flush(from: LinkedPty): void {
    this.retry = undefined;
    while (this.queue.length > 0 && !this.closed) {
      const head = this.queue[0]!;
      let n: number;
      try {
        n = writeSync(this.pty.master, head);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        // The far tty's input queue is full until its user reads: try again shortly.
        this.retry ??= setTimeout(() => this.flush(from), RETRY_MS);
        return;
      }
      this.queued -= n;
      if (n === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(n);
    }
    if (from.master.isPaused()) from.master.resume();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
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
  ends[1].relayFrom(ends[0]);
  ends[0].relayFrom(ends[1]);
  return {
    a,
    b,
    async stop() {
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
  end.relayFrom(end);
  return {
    path,
    async stop() {
      await end.close();
    },
  };
}
