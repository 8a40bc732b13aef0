// WASI poll_oneoff for plugins: the sleep of TinyGo's time.Sleep, Rust's std::thread::sleep and
// C's nanosleep. Library plugins run on the runtime's event-loop thread, so a real sleep would
// stall every other plugin, source and client: a clock subscription sleeps at most MAX_SLEEP_MS
// (Atomics.wait, no spinning) and is then reported as due, so a plugin asking for longer wakes
// early. A plugin that sleeps in a loop is bounded like any other busy call, by the call guard.
// Descriptor subscriptions (waiting for input) are answered at once with ENOTSUP: a plugin has no
// readable WASI stream (stdin is /dev/null) and reads its data through the host functions.

import type { GuestMemory } from './memory.js';

/** The longest one poll_oneoff call sleeps, in ms. */
export const MAX_SLEEP_MS = 10;

const SUBSCRIPTION_SIZE = 48;
const EVENT_SIZE = 32;
const EVENTTYPE_CLOCK = 0;
const CLOCK_REALTIME = 0;
const FLAG_ABSTIME = 1;
const ERRNO_SUCCESS = 0;
/** What node:wasi answers for memory it cannot reach; the same here. */
const ERRNO_OVERFLOW = 61;
const ERRNO_INVAL = 28;
const ERRNO_NOTSUP = 58;

const sleeper = new Int32Array(new SharedArrayBuffer(4));

function nowNs(clock: number): bigint {
  return clock === CLOCK_REALTIME ? BigInt(Date.now()) * 1_000_000n : process.hrtime.bigint();
}

/** The `poll_oneoff(in, out, nsubscriptions, nevents_out)` import. */
export function createPollOneoff(
  memory: GuestMemory,
  sleep: (ms: number) => void = (ms) => Atomics.wait(sleeper, 0, 0, ms),
) {
  return (inPtr: number, outPtr: number, count: number, neventsPtr: number): number => {
    count >>>= 0;
    if (count === 0) return ERRNO_INVAL;
    const subs = memory.view(inPtr, count * SUBSCRIPTION_SIZE);
    const events = memory.view(outPtr, count * EVENT_SIZE);
    const nevents = memory.view(neventsPtr, 4);
    if (!subs || !events || !nevents) return ERRNO_OVERFLOW;
    const inView = new DataView(subs.buffer, subs.byteOffset, subs.byteLength);
    let waitNs: bigint | undefined;
    for (let i = 0; i < count; i++) {
      const at = i * SUBSCRIPTION_SIZE;
      if (inView.getUint8(at + 8) !== EVENTTYPE_CLOCK) continue;
      const clock = inView.getUint32(at + 16, true);
      const timeout = inView.getBigUint64(at + 24, true);
      const rel = (inView.getUint16(at + 40, true) & FLAG_ABSTIME) !== 0 ? timeout - nowNs(clock) : timeout;
      const ns = rel < 0n ? 0n : rel;
      if (waitNs === undefined || ns < waitNs) waitNs = ns;
    }
    // Any descriptor subscription answers at once; else sleep for the nearest clock, bounded.
    const onlyClocks = Array.from({ length: count }, (_, i) => inView.getUint8(i * SUBSCRIPTION_SIZE + 8)).every(
      (t) => t === EVENTTYPE_CLOCK,
    );
    if (onlyClocks && waitNs !== undefined && waitNs > 0n)
      sleep(Math.min(MAX_SLEEP_MS, Math.ceil(Number(waitNs) / 1e6)));
    events.fill(0);
    const outView = new DataView(events.buffer, events.byteOffset, events.byteLength);
    for (let i = 0; i < count; i++) {
      const at = i * EVENT_SIZE;
      const type = inView.getUint8(i * SUBSCRIPTION_SIZE + 8);
      outView.setBigUint64(at, inView.getBigUint64(i * SUBSCRIPTION_SIZE, true), true);
      outView.setUint16(at + 8, type === EVENTTYPE_CLOCK ? ERRNO_SUCCESS : ERRNO_NOTSUP, true);
      outView.setUint8(at + 10, type);
    }
    new DataView(nevents.buffer, nevents.byteOffset, 4).setUint32(0, count, true);
    return ERRNO_SUCCESS;
  };
}
