// Where tests skipped for a missing system tool record why (one JSON line each), for the test
// runner's closing count (test/run.ts). Kept apart from the ava helpers: the runner is no ava file.

import { appendFileSync } from 'node:fs';

/** The runner names the file skip records go to. */
export const SKIP_LOG_ENV = 'SKE_SKIP_LOG';

export interface SkipRecord {
  file: string;
  title: string;
  reason: string;
}

/** Records a skip when run by the test runner (ava alone has no closing count to feed). */
export function recordSkip(record: SkipRecord): void {
  const log = process.env[SKIP_LOG_ENV];
  if (log) appendFileSync(log, `${JSON.stringify(record)}\n`);
}
