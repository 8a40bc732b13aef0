// Waiting in the self-test checks: polls a condition until it holds or time is up, and trims a
// driver's "retry in N ms" from its reason (the self-test does not retry; it reports).

import { setTimeout as sleep } from 'node:timers/promises';
import { DeltaBus } from '../bus/bus.js';

/** True once `done()` holds, false when `ms` passed first. */
export async function waitUntil(done: () => boolean, ms: number, everyMs = 20): Promise<boolean> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) return false;
    await sleep(everyMs);
  }
  return true;
}

/** A driver's lastError without the retry it schedules. */
export function reason(lastError: string | undefined, fallback: string): string {
  return (lastError ?? fallback).replace(/; retry in \d+ ms$/, '');
}

/** A bus of the checks' own, apart from any runtime's. */
export function selftestBus(): DeltaBus {
  return new DeltaBus('vessels.urn:mrn:signalk:uuid:00000000-0000-4000-8000-00000000selftest');
}
