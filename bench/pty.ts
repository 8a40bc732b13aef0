// Shared by the benchmarks that need a serial line: a pseudo-terminal pair (test/helpers/pty.ts) for the length of
// one benchmark, or a "skipped" line when it cannot be made (benchmarks report, they do not fail).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPtyPair, type PtyPair } from '../test/helpers/pty.js';

export async function withPtyPair(body: (pty: PtyPair) => Promise<string[]>): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'ske-bench-pty-'));
  let pty: PtyPair;
  try {
    pty = await startPtyPair(join(dir, 'a'), join(dir, 'b'));
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    return [
      `skipped: no pseudo-terminal pair (${(err as Error).message.split('\n')[0]}); run npm run build (it builds the pty addon)`,
    ];
  }
  try {
    return await body(pty);
  } finally {
    await pty.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
