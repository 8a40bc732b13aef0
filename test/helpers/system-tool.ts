// Tests that need a program of the system (strace for the fsync proof, systemd-analyze for the
// unit checks) go through here: where the program is missing or does not work, the test is
// skipped with a one-line reason naming the Debian package to install, and the reason is recorded
// for the test runner (test/run.ts), which counts such skips at the end of the run.

import test, { type ImplementationFn } from 'ava';
import { spawnSync } from 'node:child_process';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { recordSkip } from './skip-log.js';

export interface SystemTool {
  /** Undefined when the tool works; otherwise why not, with the package to install. */
  readonly missing: string | undefined;
  /** Declares a test that runs only where the tool works. */
  test(title: string, impl: ImplementationFn<[]>): void;
}

/**
 * `probe` is a command line that must exit 0 for the tool to count as working (strace may be
 * installed but refused ptrace in a container). `caller` is the test file's import.meta.url.
 */
export function systemTool(name: string, debianPackage: string, probe: readonly string[], caller: string): SystemTool {
  const r = spawnSync(name, probe.slice(), { stdio: 'ignore', timeout: 10_000 });
  const missing =
    r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT'
      ? `needs ${name}, not installed: apt-get install ${debianPackage}`
      : r.status !== 0
        ? `needs ${name}, which does not work here (\`${[name, ...probe].join(' ')}\` failed): reinstall ${debianPackage} or allow it (ptrace, etc.)`
        : undefined;
  return { missing, test: requirement(missing, caller) };
}

/**
 * Declares tests that need something this machine may lack (a program, the npm registry): where
 * `missing` says why it is lacking, the test is skipped with that reason, recorded for the runner.
 */
export function requirement(missing: string | undefined, caller: string): SystemTool['test'] {
  const file = basename(fileURLToPath(caller));
  return (title, impl) => {
    if (missing === undefined) {
      test(title, impl);
      return;
    }
    test.skip(`${title} [skipped: ${missing}]`, impl);
    recordSkip({ file, title, reason: missing });
  };
}
