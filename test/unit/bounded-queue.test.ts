// The drop-oldest queue behind a plugin's inbox, a command plugin's delta queue, device handles and
// raw sockets: order, what it drops and counts, and long runs past its compaction.

import test from 'ava';
import { BoundedQueue } from '../../core/bounded-queue.js';

test('keeps the newest items in order, says when it dropped one and counts it', (t) => {
  const q = new BoundedQueue<number>(3);
  t.deepEqual(
    [1, 2, 3, 4, 5].map((n) => q.push(n)),
    [false, false, false, true, true],
  );
  t.is(q.length, 3);
  t.is(q.received, 5);
  t.is(q.dropped, 2);
  t.is(q.peek(), 3);
  t.is(q.length, 3, 'peek leaves the item queued');
  t.deepEqual([q.shift(), q.shift(), q.shift(), q.shift()], [3, 4, 5, undefined]);
  t.is(q.peek(), undefined);
  t.is(q.length, 0);
});

test('clear empties it, returns what it discarded and leaves the drop count alone', (t) => {
  const q = new BoundedQueue<string>(2);
  t.is(q.clear(), 0);
  q.push('a');
  q.push('b');
  q.push('c');
  t.is(q.clear(), 2);
  t.is(q.length, 0);
  t.is(q.shift(), undefined);
  t.is(q.dropped, 1);
  t.is(q.received, 3);
  q.push('d');
  t.is(q.peek(), 'd');
});

test('long runs of push and shift (past the compaction threshold) keep FIFO order', (t) => {
  const q = new BoundedQueue<number>(10_000);
  const out: number[] = [];
  for (let i = 0; i < 20_000; i++) {
    q.push(i);
    if (i % 3 !== 0) out.push(q.shift()!);
  }
  while (q.length > 0) out.push(q.shift()!);
  t.deepEqual(
    out,
    Array.from({ length: 20_000 }, (_, i) => i),
  );
  t.is(q.dropped, 0);
});

test('a full queue under a steady stream keeps exactly the newest `limit` items', (t) => {
  const q = new BoundedQueue<number>(1000);
  for (let i = 0; i < 5000; i++) q.push(i);
  t.is(q.length, 1000);
  t.is(q.dropped, 4000);
  const out: number[] = [];
  for (let v = q.shift(); v !== undefined; v = q.shift()) out.push(v);
  t.deepEqual(
    out,
    Array.from({ length: 1000 }, (_, i) => 4000 + i),
  );
});
