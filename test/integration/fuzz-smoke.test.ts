// Keeps `npm run fuzz` working in CI: every target runs for 2 s with a fixed seed and must find
// nothing while reaching several outcomes; a target that misbehaves on purpose shows the harness
// reports every kind of finding, hangs included. The real runs (60 s per target) are in
// docs/reliability.md.

import test from 'ava';
import { SELF_CHECK, TARGET_NAMES } from '../fuzz/protocol.js';
import { runFuzz } from '../fuzz/runner.js';

const SEED = 20240615;

for (const target of TARGET_NAMES) {
  test.serial(`fuzz target ${target}: 2 s with seed ${SEED} finds nothing`, async (t) => {
    const [summary] = await runFuzz({ seed: SEED, seconds: 2, only: [target] });
    if (!summary) return t.fail('no summary');
    t.deepEqual(
      summary.findings.map((f) => `${f.kind} at input #${f.iteration}: ${f.message.split('\n')[0]}`),
      [],
    );
    t.true(summary.iterations > 10, `${summary.iterations} inputs`);
    t.true(summary.outcomes.length >= 3, `outcomes: ${summary.outcomes.map(([label]) => label).join(' | ')}`);
  });
}

test.serial('the harness reports each kind of finding with the input that caused it, hangs included', async (t) => {
  const [summary] = await runFuzz({ seed: SEED, seconds: 30, only: [SELF_CHECK], hangMs: 1000, slowMs: 200 });
  if (!summary) return t.fail('no summary');
  const byKind = new Map(summary.findings.map((f) => [f.kind, f]));
  t.deepEqual([...byKind.keys()].sort(), [
    'crash',
    'error-log',
    'hang',
    'property',
    'slow',
    'uncaught-exception',
    'unhandled-rejection',
    'warning',
  ]);
  // The self-check target misbehaves on input #n in the n-th way; its input is the byte n.
  const expected: [string, number][] = [
    ['property', 1],
    ['crash', 2],
    ['unhandled-rejection', 3],
    ['error-log', 4],
    ['warning', 5],
    ['slow', 6],
    ['uncaught-exception', 7],
    ['hang', 8],
  ];
  for (const [kind, n] of expected) {
    const f = byKind.get(kind as never);
    t.is(f?.iteration, n, `${kind} found at input #${n}`);
    t.deepEqual([...Buffer.from(f?.input ?? '', 'base64')], [n], `${kind} reported with its input`);
  }
  t.regex(byKind.get('crash')?.message ?? '', /TypeError: an exception the code under test let escape/);
  t.regex(byKind.get('hang')?.message ?? '', /no progress for 1000 ms/);
});
