// The NMEA 2000 codec's own parts: fast-packet reassembly by canboatjs's rules, and the decode
// memo answering a repeated message exactly as the libraries do (timestamps aside), following
// the source fields an address claim changes, and never answering a moving reading from memory.

import test from 'ava';
import { readFileSync } from 'node:fs';
import { FromPgn } from '@canboat/canboatjs';
import { N2kMapper } from '@signalk/n2k-signalk';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';
import { candumpFrames, parseCandumpLine } from '../../hal/can/candump.js';
import { parseId, type CanFrame } from '../../hal/can/frame.js';
import { movingBusLines } from '../../bench/moving-bus.js';
import { FastPacketAssembler } from '../../hal/codecs/n2k/fast-packet.js';
import { N2kCodec, type N2kDecodeResult } from '../../hal/codecs/n2k/codec.js';

const LOG_L = join(PROJECT_ROOT, 'test', 'fixtures', 'can', 'candumpSample3.txt');

function frames(): CanFrame[] {
  return candumpFrames(readFileSync(LOG_L, 'latin1'));
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

/** The values the libraries alone give for a frame, as the codec puts them on the wire (JSON's rules, "not available" left out). */
function libraryValues(parser: FromPgn, mapper: N2kMapper, f: CanFrame): unknown[] | undefined {
  const data = Buffer.from(f.data);
  const message: unknown = parser.parse({
    pgn: { ...parseId(f.id), timestamp: new Date(f.time!) },
    length: data.length,
    data,
  });
  if (!message) return undefined;
  const delta = mapper.toDelta(message as Parameters<N2kMapper['toDelta']>[0]) as
    { updates?: { values: { path: string; value: unknown }[] }[] } | undefined;
  const values = (delta?.updates ?? []).flatMap((u) =>
    u.values.filter((v) => !(typeof v.value === 'number' && !Number.isFinite(v.value))),
  );
  return values.length > 0 ? (JSON.parse(JSON.stringify(values)) as unknown[]) : undefined;
}

test('memo: on a bus whose readings move, every delta carries what the libraries give for that very frame, never a remembered value', (t) => {
  // Six loops of the recording with headings, positions, depth, wind... rewritten on every message (bench/moving-bus.ts).
  const log = movingBusLines(7).map((l) => {
    const p = parseCandumpLine(l);
    if (p.kind !== 'frame') throw new Error(l);
    return p.frame;
  });
  const codec = new N2kCodec('n2k');
  // Counts what canboatjs parses: a frame answered without a parse was answered from the memo.
  const inner = (codec as unknown as { parser: FromPgn }).parser;
  const parse = inner.parse.bind(inner);
  let parsed = 0;
  inner.parse = (...args: Parameters<FromPgn['parse']>) => (parsed++, parse(...args));
  const parser = new FromPgn({});
  parser.on('error', () => {});
  parser.on('warning', () => {});
  const mapper = new N2kMapper({});
  let deltas = 0;
  let remembered = 0;
  const headings = new Set<unknown>();
  for (const f of log) {
    const before = parsed;
    const r = codec.decode(f);
    const expected = libraryValues(parser, mapper, f);
    if (r.kind !== 'delta') {
      t.is(expected, undefined, `frame ${f.id.toString(16)} gave ${r.kind} where the libraries give values`);
      continue;
    }
    deltas++;
    if (parsed === before) remembered++;
    t.deepEqual(
      r.delta.updates.flatMap((u) => u.values ?? []),
      expected,
    );
    for (const u of r.delta.updates) t.is(u.timestamp, new Date(f.time!).toISOString());
    if (r.pgn === 127250) headings.add(r.delta.updates[0]!.values![0]!.value);
  }
  t.true(deltas > 8000);
  t.true(headings.size > 1000, 'the heading moves on every message');
  t.true(remembered > 100, `the memo answered the messages that do repeat (${remembered} of ${deltas} deltas)`);
  t.true(remembered < deltas / 2, `most messages are new (${remembered} of ${deltas} deltas from the memo)`);
});

test('memo: a value carrying the message time (a Seatalk alarm) follows every frame, repeated in the same millisecond or not', (t) => {
  const codec = new N2kCodec('n2k');
  // PGN 65288 from source 16: Raymarine, alarm met and not silenced, shallow depth, instrument group.
  const data = bytes(0x3b, 0x9f, 0x00, 0x01, 0x01, 0x00, 0xff, 0xff);
  const t0 = 1_700_000_000_000;
  for (const time of [t0, t0, t0 + 1000, t0 + 2500, t0 + 2500, t0 + 3000, t0 + 60_000]) {
    const r = codec.decode({ id: 0x1cff0810, data, time });
    const value = r.kind === 'delta' ? (r.delta.updates[0]!.values![0]!.value as { timestamp?: string }) : undefined;
    t.is(value?.timestamp, new Date(time).toISOString());
  }
});

test('memo: a sender whose readings stop moving (a boat coming to anchor) is answered from memory again', (t) => {
  const codec = new N2kCodec('n2k');
  const inner = (codec as unknown as { parser: FromPgn }).parser;
  const parse = inner.parse.bind(inner);
  let parsed = 0;
  inner.parse = (...args: Parameters<FromPgn['parse']>) => (parsed++, parse(...args));
  // PGN 127250 (vessel heading) from source 204, heading h × 1e-4 rad, true.
  const heading = (h: number): CanFrame => ({
    id: 0x09f112cc,
    data: bytes(0xff, h & 0xff, h >> 8, 0xff, 0x7f, 0xff, 0x7f, 0xfc),
    time: 1_700_000_000_000 + h,
  });
  const value = (r: N2kDecodeResult) => (r.kind === 'delta' ? r.delta.updates[0]!.values![0]!.value : undefined);
  // Turning: every heading new, so its lookups stop paying and the sender is decoded without them.
  for (let h = 0; h < 600; h++) t.is(value(codec.decode(heading(h))), h / 1e4);
  // At anchor: one heading over and over, answered exactly whether looked up or not.
  const still = 20_000;
  let fromMemory = 0;
  for (let i = 0; i < 4000; i++) {
    const before = parsed;
    t.is(value(codec.decode(heading(still))), still / 1e4);
    if (parsed === before) fromMemory++;
  }
  t.true(fromMemory > 1000, `answered from memory again (${fromMemory} of 4000)`);
  t.true(fromMemory < 4000, 'after a rest without lookups');
});
