// The one @wasmer/sdk client of the process, shared by every command plugin. It is created when
// the first command plugin starts and closed when the last one has ended: an open client keeps
// worker threads (and so the process) alive, and re-creating it costs under 1 ms once the SDK's own
// wasm has been initialised (55-160 ms, once per process). Offline: the Node entry initialises from
// the wasm file bundled in node_modules/@wasmer/sdk/pkg, and `cache: false` means no package cache
// and no registry; command plugins are loaded from their bytes.

import type { Wasmer } from '@wasmer/sdk/node';

export interface WasmerLease {
  readonly wasmer: Wasmer;
  /** Lets go of the client; the last release closes it. Idempotent. */
  release(): Promise<void>;
}

let client: Promise<Wasmer> | undefined;
let users = 0;
/** A close in progress: a new client is made only after it has finished. */
let closing: Promise<void> = Promise.resolve();

async function create(): Promise<Wasmer> {
  await closing;
  const { Wasmer } = await import('@wasmer/sdk/node');
  return Wasmer.create({ cache: false });
}

export async function acquireWasmer(): Promise<WasmerLease> {
  users++;
  const current = (client ??= create());
  let wasmer: Wasmer;
  try {
    wasmer = await current;
  } catch (err) {
    users--;
    if (client === current) client = undefined;
    throw err;
  }
  let released = false;
  return {
    wasmer,
    release: async () => {
      if (released) return;
      released = true;
      if (--users > 0 || client !== current) return;
      client = undefined;
      closing = wasmer.close().catch(() => undefined);
      await closing;
    },
  };
}
