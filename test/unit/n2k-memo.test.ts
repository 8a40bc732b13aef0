// The NMEA 2000 codec's own parts: fast-packet reassembly by canboatjs's rules, and the decode
// memo answering a repeated message exactly as the libraries do (timestamps aside), following
// the source fields an address claim changes.

import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';
import { parseCandumpLine } from '../../hal/can/candump.js';
import type { CanFrame } from '../../hal/can/frame.js';
import { FastPacketAssembler } from '../../hal/codecs/n2k/fast-packet.js';
import { N2kCodec, type N2kDecodeResult } from '../../hal/codecs/n2k/codec.js';

const LOG_L = join(PROJECT_ROOT, 'test', 'fixtures', 'can', 'candumpSample3.txt');

function frames(): CanFrame[] {
  return readFileSync(LOG_L, 'latin1')
    .split(/\r?\n/)
    .map(parseCandumpLine)
    .flatMap((l) => (l.kind === 'frame' ? [l.frame] : []));
}

const bytes = (...b: number[]) => Uint8Array.from(b);

test('fast packet: frames 0..n make the message; another source in between does not disturb it', (t) => {
  const fp = new FastPacketAssembler();
  // 9 bytes: frame 0 carries 6, frame 1 the last 3 (and padding).
  t.deepEqual(fp.push(1, 129038, bytes(0x40, 9, 1, 2, 3, 4, 5, 6)), { kind: 'pending' });
  t.deepEqual(fp.push(2, 129038, bytes(0x20, 7, 9, 9, 9, 9, 9, 9)), { kind: 'pending' });
  const done = fp.push(1, 129038, bytes(0x41, 7, 8, 9, 0xff, 0xff, 0xff, 0xff));
  t.is(done.kind, 'complete');
  t.deepEqual(done.kind === 'complete' ? [...done.data] : [], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const other = fp.push(2, 129038, bytes(0x21, 10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
  t.deepEqual(other.kind === 'complete' ? [...other.data] : [], [9, 9, 9, 9, 9, 9, 10]);
});

test('fast packet: a frame out of sequence drops the message; a later frame 0 starts a new one', (t) => {
  const fp = new FastPacketAssembler();
  t.deepEqual(fp.push(1, 126996, bytes(0x60, 20, 1, 2, 3, 4, 5, 6)), { kind: 'pending' });
  t.deepEqual(
    fp.push(1, 126996, bytes(0x62, 1, 2, 3, 4, 5, 6, 7)),
    { kind: 'out-of-sequence' },
    'frame 2 without frame 1',
  );
  t.deepEqual(
    fp.push(1, 126996, bytes(0x63, 1, 2, 3, 4, 5, 6, 7)),
    { kind: 'out-of-sequence' },
    'the message was dropped',
  );
  t.deepEqual(
    fp.push(1, 126996, bytes(0x81, 1, 2, 3, 4, 5, 6, 7)),
    { kind: 'out-of-sequence' },
    'a log starting mid-message',
  );
  t.deepEqual(fp.push(1, 126996, bytes(0x80, 8, 1, 2, 3, 4, 5, 6)), { kind: 'pending' });
  const done = fp.push(1, 126996, bytes(0x81, 7, 8, 0xff, 0xff, 0xff, 0xff, 0xff));
  t.deepEqual(done.kind === 'complete' ? [...done.data] : [], [1, 2, 3, 4, 5, 6, 7, 8]);
});

/** A result without its timestamps, for comparing a remembered answer with a computed one. */
function untimed(r: N2kDecodeResult): unknown {
  if (r.kind !== 'delta') return r;
  return { ...r, delta: { ...r.delta, updates: r.delta.updates.map(({ timestamp: _, ...u }) => u) } };
}

test("memo: the recording played again gives what the libraries gave the first time, stamped with the new frames' times", (t) => {
  const log = frames();
  const codec = new N2kCodec('n2k');
  // Address claims first, so both plays see the same source fields (canName, deviceInstance).
  for (const f of log) if (f.id >>> 8 === 0x18eeff) codec.decode(f);
  const first = log.map((f) => codec.decode(f));
  const later = log.map((f) => ({ ...f, time: (f.time ?? 0) + 3_600_000 }));
  const second = later.map((f) => codec.decode(f));
  t.true(first.filter((r) => r.kind === 'delta').length > 1000);
  t.deepEqual(second.map(untimed), first.map(untimed));
  second.forEach((r, i) => {
    if (r.kind === 'delta') for (const u of r.delta.updates) t.is(u.timestamp, new Date(later[i]!.time!).toISOString());
  });
});

test('memo: an address claim after a remembered message gives later answers its canName', (t) => {
  const log = frames();
  const claim = log.find((f) => f.id === 0x18eeffcc);
  const rudder = log.find((f) => f.id === 0x09f10dcc);
  if (!claim || !rudder) return t.fail('the recording lacks the frames this test needs');
  const codec = new N2kCodec('n2k');
  const source = (r: N2kDecodeResult) => (r.kind === 'delta' ? r.delta.updates[0]?.source : undefined);
  t.is(source(codec.decode(rudder))?.canName, undefined);
  t.is(source(codec.decode(rudder))?.canName, undefined, 'remembered');
  codec.decode(claim);
  const after = source(codec.decode(rudder));
  t.is(typeof after?.canName, 'string', 'the claim reaches a remembered message');
  t.deepEqual(source(codec.decode(rudder)), after);
});

test('a frame stamped outside what ISO 8601 timestamps can write is stamped now, not a thrown RangeError (fuzz finding)', (t) => {
  const rudder = frames().find((f) => f.id === 0x09f10dcc)!;
  const before = Date.now();
  for (const time of [1502991391127074e6, 1111503064744030, -1]) {
    const r = new N2kCodec('n2k').decode({ ...rudder, time });
    t.is(r.kind, 'delta');
    const stamp = r.kind === 'delta' ? Date.parse(r.delta.updates[0]!.timestamp!) : NaN;
    t.true(stamp >= before - 1 && stamp <= Date.now() + 1, `${time}`);
  }
});
