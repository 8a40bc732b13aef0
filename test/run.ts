// The test command: ava over one tier or both (`node dist/test/run.js [unit|integration] [ava
// args...]`), then a closing count of the tests skipped for a missing system tool, each with its
// reason. ava's own summary is printed as ava prints it, and the exit code is ava's.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SKIP_LOG_ENV, type SkipRecord } from './helpers/skip-log.js';

const TIERS: Record<string, string> = {
  unit: 'dist/test/unit/**/*.test.js',
  integration: 'dist/test/integration/**/*.test.js',
};

const [first, ...rest] = process.argv.slice(2);
const tier = first !== undefined && first in TIERS ? first : undefined;
const avaArgs = tier ? [TIERS[tier]!, ...rest] : process.argv.slice(2);

const dir = mkdtempSync(join(tmpdir(), 'ske-test-run-'));
const log = join(dir, 'skips.jsonl');
// ava exports no path to its CLI (package.json `bin`): it sits beside its main entry point.
const cli = join(dirname(fileURLToPath(import.meta.resolve('ava'))), 'cli.mjs');
const child = spawn(process.execPath, [cli, ...avaArgs], {
  stdio: 'inherit',
  env: { ...process.env, [SKIP_LOG_ENV]: log },
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));

child.on('exit', (code, signal) => {
  const skips: SkipRecord[] = existsSync(log)
    ? readFileSync(log, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as SkipRecord)
    : [];
  rmSync(dir, { recursive: true, force: true });
  const lines = [
    `${skips.length} test${skips.length === 1 ? '' : 's'} skipped for a missing system tool${skips.length ? ':' : ''}`,
  ];
  for (const s of skips) lines.push(`  ${s.file} › ${s.title}: ${s.reason}`);
  console.log(`\n${lines.join('\n')}`);
  process.exitCode = code ?? (signal ? 1 : 0);
});
