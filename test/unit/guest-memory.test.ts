import test from 'ava';
import { GuestMemory } from '../../runtime/abi/memory.js';

const PAGE = 65536;

function utf16At(memory: WebAssembly.Memory, ptr: number, length: number): string {
  return Buffer.from(memory.buffer, ptr, length * 2).toString('utf16le');
}

test('writeUtf16 writes into memory as it grows and refuses what lies outside it', (t) => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 4 });
  const guest = new GuestMemory();
  guest.attach(memory);
  t.true(guest.writeUtf16(16, 'héllo'));
  t.is(utf16At(memory, 16, 5), 'héllo');
  t.false(guest.writeUtf16(PAGE - 4, 'abc'), 'two bytes past the end');
  t.false(guest.writeUtf16(-2, 'a'), 'a negative pointer reads as past 2 GB');
  t.false(guest.writeUtf16(1.5, 'a'), 'not an integer');

  // grow detaches the buffer the previous writes went through: the next write uses the new one.
  memory.grow(1);
  t.true(guest.writeUtf16(PAGE + 8, 'after grow'));
  t.is(utf16At(memory, PAGE + 8, 10), 'after grow');
  t.true(guest.writeUtf16(32, 'low'));
  t.is(utf16At(memory, 32, 3), 'low');
  t.false(guest.writeUtf16(2 * PAGE - 2, 'ab'));

  // Another memory attached: writes go there.
  const other = new WebAssembly.Memory({ initial: 1 });
  guest.attach(other);
  t.true(guest.writeUtf16(0, 'other'));
  t.is(utf16At(other, 0, 5), 'other');
  t.is(utf16At(memory, 0, 5), '\0\0\0\0\0');
});

test('writeUtf16 follows a shared memory that grew (its buffer is not detached)', (t) => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true });
  const guest = new GuestMemory();
  guest.attach(memory);
  t.true(guest.writeUtf16(0, 'first'));
  memory.grow(1);
  t.true(guest.writeUtf16(PAGE + 2, 'second'));
  t.is(utf16At(memory, PAGE + 2, 6), 'second');
});
