// Child process for test/integration/notify.test.ts: a real runtime (temp data, port 0, no sources) started
// by startTestRuntime, so the notifier runs exactly as in production. The parent drives it over
// IPC: {block: ms} spins the event loop for that long, {stall: {busyMs, everyMs, forMs}} makes the loop
// sluggish by repeated stalls, {stop: true} stops the runtime. Replies carry CLOCK_MONOTONIC
// times (process.hrtime) to compare with the listener's arrival times.

import { startTestRuntime } from './runtime.js';

type Command = { block: number } | { stall: { busyMs: number; everyMs: number; forMs: number } } | { stop: true };

const send = (msg: object): void => {
  process.send?.(msg);
};
const now = (): string => process.hrtime.bigint().toString();

function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy: nothing else runs on this thread meanwhile
  }
}

const { url, stop } = await startTestRuntime();
send({ started: now(), url });

process.on('message', (raw: unknown) => {
  const cmd = raw as Command;
  if ('block' in cmd) {
    const from = now();
    spin(cmd.block);
    send({ blocked: { from, to: now() } });
  } else if ('stall' in cmd) {
    const { busyMs, everyMs, forMs } = cmd.stall;
    const from = now();
    const end = performance.now() + forMs;
    const timer = setInterval(() => {
      spin(busyMs);
      if (performance.now() >= end) {
        clearInterval(timer);
        send({ stalled: { from, to: now() } });
      }
    }, everyMs - busyMs);
  } else if ('stop' in cmd) {
    void stop().then(() => {
      send({ stopped: now() });
      process.disconnect();
    });
  }
});
