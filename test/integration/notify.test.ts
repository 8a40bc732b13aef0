import test from 'ava';
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';
import { watchdogMsFromEnv } from '../../runtime/systemd/notifier.js';
import { watchdogTiming } from '../../runtime/systemd/watchdog.js';
import { listenNotify, type NotifyListener, type NotifyMessage } from '../helpers/notify-listener.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';

const CHILD = join(PROJECT_ROOT, 'dist', 'test', 'helpers', 'notify-runtime.js');
/** WATCHDOG_USEC given to the child: 2 s, so it pings every 1 s and a tick > 500 ms late withholds. */
const WATCHDOG_USEC = 2_000_000;
/** A ping spawned just before the loop blocked may still land shortly after. */
const GRACE_NS = 1_500_000_000n;

interface Reply {
  started?: string;
  blocked?: { from: string; to: string };
  stalled?: { from: string; to: string };
  stopped?: string;
}

interface Harness {
  listener: NotifyListener;
  child: ChildProcess;
  replies: Reply[];
  stderr: () => string;
  cleanup: () => Promise<void>;
}

async function startChild(socket: string, env: Record<string, string> = {}): Promise<Harness> {
  const listener = await listenNotify(socket);
  const child = fork(CHILD, [], {
    env: { ...process.env, NOTIFY_SOCKET: socket, WATCHDOG_USEC: String(WATCHDOG_USEC), ...env },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const replies: Reply[] = [];
  child.on('message', (m) => replies.push(m as Reply));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    listener,
    child,
    replies,
    stderr: () => stderr,
    async cleanup() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      await listener.close();
    },
  };
}

const reply = <K extends keyof Reply>(h: Harness, key: K, what: string): Promise<NonNullable<Reply[K]>> =>
  waitFor(() => h.replies.find((r) => r[key] !== undefined)?.[key], what, 30_000) as Promise<NonNullable<Reply[K]>>;

const pingsBetween = (pings: NotifyMessage[], from: bigint, to: bigint) =>
  pings.filter((m) => m.at > from && m.at < to);

function tempSocket(t: { teardown(fn: () => void): void }): string {
  return join(tempDir(t, 'ske-sock-'), 'notify');
}

test('watchdog settings come from WATCHDOG_USEC, only for the process WATCHDOG_PID names', (t) => {
  t.is(watchdogMsFromEnv({ WATCHDOG_USEC: '30000000' }), 30_000);
  t.is(watchdogMsFromEnv({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: String(process.pid) }), 30_000);
  t.is(watchdogMsFromEnv({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' }), undefined);
  t.is(watchdogMsFromEnv({ WATCHDOG_USEC: 'soon' }), undefined);
  t.is(watchdogMsFromEnv({}), undefined);
  t.deepEqual(watchdogTiming(30_000), { pingEveryMs: 15_000, tickMs: 1000, maxLagMs: 7500 });
});

test.serial('READY=1, then WATCHDOG=1 while healthy, none while the loop is blocked, STOPPING=1 on stop', async (t) => {
  const h = await startChild(tempSocket(t));
  t.teardown(() => h.cleanup());
  try {
    const ready = await waitFor(() => h.listener.with('READY=1')[0], 'READY=1', 30_000);
    t.true(
      ready.fields.some((f) => /^STATUS=serving http:\/\/127\.0\.0\.1:\d+\/signalk$/.test(f)),
      ready.fields.join(' '),
    );
    await waitFor(() => h.listener.with('WATCHDOG=1').length >= 3, 'three watchdog pings', 30_000);
    t.true(h.listener.with('WATCHDOG=1')[0]!.at > ready.at, 'pings start after READY=1');

    h.child.send({ block: 6000 });
    const blocked = await reply(h, 'blocked', 'the 6 s block to end');
    const from = BigInt(blocked.from);
    const to = BigInt(blocked.to);
    await waitFor(
      () => h.listener.with('WATCHDOG=1').filter((m) => m.at > to).length >= 2,
      'pings to resume after the block',
      30_000,
    );

    const pings = h.listener.with('WATCHDOG=1');
    const during = pingsBetween(pings, from + GRACE_NS, to);
    const before = pings.filter((m) => m.at < from);
    const gaps = pings.slice(1).map((m, i) => Number(m.at - pings[i]!.at) / 1e6);
    t.log(
      `pings: ${before.length} before the block, ${during.length} during it, ${pings.length - before.length - during.length} after; longest gap ${Math.round(Math.max(...gaps))} ms, median ${Math.round(gaps.sort((a, b) => a - b)[Math.floor(gaps.length / 2)]!)} ms`,
    );
    t.is(during.length, 0, 'no WATCHDOG=1 while the event loop is blocked');
    t.true(before.length >= 3);

    h.child.send({ stop: true });
    await reply(h, 'stopped', 'runtime stop');
    const stopping = h.listener.with('STOPPING=1');
    t.is(stopping.length, 1, 'STOPPING=1 once');
    const last = stopping[0]!;
    t.is(h.listener.with('WATCHDOG=1').filter((m) => m.at > last.at + GRACE_NS).length, 0, 'no pings after STOPPING=1');
  } catch (err) {
    t.log(h.stderr());
    throw err;
  }
});

test.serial('a loop that keeps stalling (timers fire, but late) gets no pings either', async (t) => {
  const h = await startChild(tempSocket(t));
  t.teardown(() => h.cleanup());
  try {
    await waitFor(() => h.listener.with('WATCHDOG=1').length >= 2, 'watchdog pings', 30_000);
    // 900 ms busy out of every 1000 ms for 6 s: the loop still turns, so a naive interval timer
    // would go on pinging; the lateness check must not.
    h.child.send({ stall: { busyMs: 900, everyMs: 1000, forMs: 6000 } });
    const stalled = await reply(h, 'stalled', 'the stall period to end');
    await waitFor(
      () => h.listener.with('WATCHDOG=1').some((m) => m.at > BigInt(stalled.to)),
      'pings to resume',
      30_000,
    );
    const during = pingsBetween(h.listener.with('WATCHDOG=1'), BigInt(stalled.from) + GRACE_NS, BigInt(stalled.to));
    t.log(`pings during 6 s of 90 % stalls: ${during.length}`);
    t.is(during.length, 0);
    t.regex(h.stderr(), /event loop stalled \d+ ms \(limit 500 ms\): watchdog ping withheld/);
  } catch (err) {
    t.log(h.stderr());
    throw err;
  }
});

test.serial('an abstract NOTIFY_SOCKET (@name) receives READY=1 too', async (t) => {
  const h = await startChild(`@signalk-edge-test-${randomBytes(6).toString('hex')}`, { WATCHDOG_USEC: '' });
  t.teardown(() => h.cleanup());
  await waitFor(() => h.listener.with('READY=1')[0], 'READY=1 on the abstract socket', 30_000);
  h.child.send({ stop: true });
  await reply(h, 'stopped', 'runtime stop');
  t.is(h.listener.with('STOPPING=1').length, 1);
  t.is(h.listener.with('WATCHDOG=1').length, 0, 'no watchdog requested, none sent');
});
