// The parts behind runaway-plugin handling, without WASM: the call guard, the delivery scheduler
// (batches, fairness, charging a timeout or a trap to the right plugin).

import test from 'ava';
import { CallGuard, CallTimeoutError } from '../../runtime/plugins/call-guard.js';
import { DeliveryScheduler, type DeliveryTarget } from '../../runtime/plugins/delivery.js';
import { waitFor } from '../helpers/wait.js';

test('the call guard returns results, passes errors through and stops an endless loop naming the bound', (t) => {
  // A roomy bound where the call must finish (a loaded machine may stall a trivial call past 50 ms),
  // a tight one for the endless loop.
  const guard = new CallGuard(10_000);
  const tight = new CallGuard(50);
  t.is(
    guard.run(() => 41 + 1, 'sum'),
    42,
  );
  const trap = new WebAssembly.RuntimeError('unreachable');
  t.is(
    t.throws(() =>
      guard.run(() => {
        throw trap;
      }, 'trap'),
    ),
    trap,
  );
  let spins = 0;
  const err = t.throws(() =>
    tight.run(() => {
      for (;;) spins++;
    }, 'delta_handler'),
  );
  t.true(err instanceof CallTimeoutError);
  t.is(err?.message, 'delta_handler did not return within 50 ms (plugins.callTimeoutMs) and was stopped');
  t.true(spins > 0);
  // The guard works again after stopping a call; nested runs are covered by the outer one.
  t.is(
    tight.run(() => 'again', 'again'),
    'again',
  );
  t.is(
    guard.run(() => guard.run(() => 'inner', 'inner'), 'outer'),
    'inner',
  );
});

/** A fake plugin: `work` deliveries queued, each running `step`. */
class FakeTarget implements DeliveryTarget {
  delivered = 0;
  flushed = 0;
  running = 'delta_handler';
  failure: unknown;
  constructor(
    readonly name: string,
    public work: number,
    private readonly step: (self: FakeTarget) => void = () => undefined,
    private readonly order?: string[],
  ) {}
  deliverQueued(deadline: number): boolean {
    while (this.work > 0) {
      this.work--;
      this.delivered++;
      this.order?.push(this.name);
      this.step(this);
      if (performance.now() >= deadline) break;
    }
    return this.work > 0;
  }
  flush(): void {
    this.flushed++;
  }
  fail(err: unknown): void {
    this.failure = err;
    this.work = 0;
  }
}

const busy = (ms: number) => () => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

test('the scheduler charges a timeout to the plugin that ran past the bound; the others are served', async (t) => {
  const scheduler = new DeliveryScheduler(new CallGuard(100));
  const before = new FakeTarget('before', 3);
  const spinner = new FakeTarget('spinner', 5, (self) => {
    if (self.delivered === 2) for (;;);
  });
  const after = new FakeTarget('after', 3);
  for (const target of [before, spinner, after]) scheduler.wake(target);
  await waitFor(() => after.delivered === 3, 'the plugin after the runaway');
  t.true(spinner.failure instanceof CallTimeoutError, String(spinner.failure));
  t.is(spinner.delivered, 2);
  t.is(before.failure, undefined);
  t.is(after.failure, undefined);
  t.is(before.delivered, 3);
  t.true(before.flushed >= 1 && spinner.flushed >= 1 && after.flushed >= 1, 'outputs published after the run');
});

test('the scheduler charges a trap to the plugin that trapped and goes on with the others in the same run', async (t) => {
  const scheduler = new DeliveryScheduler(new CallGuard(1000));
  const trap = new Error('unreachable');
  const trapper = new FakeTarget('trapper', 2, () => {
    throw trap;
  });
  const other = new FakeTarget('other', 2);
  scheduler.wake(trapper);
  scheduler.wake(other);
  await waitFor(() => other.delivered === 2, 'the other plugin');
  t.is(trapper.failure, trap);
  t.is(trapper.delivered, 1);
});

test('a busy plugin yields after its time slice and does not starve the others', async (t) => {
  // Bound 200 ms: slices of 50 ms. Each delivery of the busy one takes 10 ms.
  const scheduler = new DeliveryScheduler(new CallGuard(200));
  const order: string[] = [];
  const hog = new FakeTarget('hog', 20, busy(10), order);
  const light = new FakeTarget('light', 1, () => undefined, order);
  scheduler.wake(hog);
  scheduler.wake(light);
  await waitFor(() => hog.work === 0 && light.delivered === 1, 'all work done');
  t.is(hog.failure, undefined, 'no single delivery came near the bound');
  t.true(order.indexOf('light') < 10, `light served at position ${order.indexOf('light')} of ${order.length}`);
});

test('a run past the bound is named by the call the plugin was in (hal_data runs in the same batches)', async (t) => {
  const scheduler = new DeliveryScheduler(new CallGuard(100));
  const reader = new FakeTarget('reader', 1, (self) => {
    self.running = 'hal_data';
    for (;;);
  });
  const other = new FakeTarget('other', 2);
  scheduler.wake(reader);
  scheduler.wake(other);
  await waitFor(() => other.delivered === 2, 'the other plugin');
  t.true(reader.failure instanceof CallTimeoutError, String(reader.failure));
  t.is(
    (reader.failure as Error).message,
    'hal_data did not return within 100 ms (plugins.callTimeoutMs) and was stopped',
  );
  t.is(other.failure, undefined);
});
