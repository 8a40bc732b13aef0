// The tests' serial cable (test/helpers/pty.ts): its native relay thread passes every byte value
// both ways unchanged and in order, holds back a writer while the far end is not read (no loss),
// and leaves no thread or file descriptor behind once stopped.

import test from 'ava';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { startPtyLoopback, startPtyPair } from '../helpers/pty.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';

async function openPort(t: { teardown(fn: () => Promise<void>): void }, path: string): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate: 460800 });
  await new Promise<void>((resolve, reject) => port.once('open', resolve).once('error', reject));
  t.teardown(() => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())));
  return port;
}

/** Everything `port` receives, as one growing list of chunks. */
function collect(port: SerialPort): Buffer[] {
  const chunks: Buffer[] = [];
  port.on('data', (c: Buffer) => chunks.push(c));
  return chunks;
}

const total = (chunks: Buffer[]): number => chunks.reduce((n, c) => n + c.length, 0);

function threads(): number {
  return Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
}

test.serial('start runs one relay thread; stop joins it and closes every fd it opened', async (t) => {
  const dir = tempDir(t, 'skedge-ptypair-');
  const fds = readdirSync('/proc/self/fd').length;
  const before = threads();
  const pty = await startPtyPair(join(dir, 'a'), join(dir, 'b'));
  t.is(threads(), before + 1);
  t.true(existsSync(pty.a) && existsSync(pty.b));
  await pty.stop();
  await pty.stop(); // a second stop closes nothing that may have been reused
  t.is(threads(), before);
  t.is(readdirSync('/proc/self/fd').length, fds);
  t.false(existsSync(pty.a) || existsSync(pty.b));
});

test.serial('every byte value crosses both ways at once, unchanged and in order, past a stalled reader', async (t) => {
  const dir = tempDir(t, 'skedge-ptypair-');
  const pty = await startPtyPair(join(dir, 'a'), join(dir, 'b'));
  t.teardown(() => pty.stop());
  const a = await openPort(t, pty.a);
  const b = await openPort(t, pty.b);
  // 1 MB one way is far more than the ttys and the relay buffer hold: b is paused first, so the
  // writer must be held back (as by a cable's flow control), not lose bytes.
  const forth = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(1024 * 1024)]);
  const back = Buffer.from('\r\n\n\r\0\x03\x04\x11\x13\x1a\x7f\xff'.repeat(4096), 'latin1');
  const atB = collect(b);
  const atA = collect(a);
  b.pause();
  a.write(forth);
  b.write(back);
  await new Promise((r) => setTimeout(r, 200));
  t.true(total(atB) < forth.length, 'a paused reader holds the writer back');
  b.resume();
  await waitFor(() => total(atB) >= forth.length && total(atA) >= back.length, 'both directions to arrive', 30_000);
  t.true(Buffer.concat(atB).equals(forth));
  t.true(Buffer.concat(atA).equals(back));
});

test.serial('a loopback plug returns what is written, binary bytes included', async (t) => {
  const dir = tempDir(t, 'skedge-ptyloop-');
  const loop = await startPtyLoopback(join(dir, 'loop'));
  t.teardown(() => loop.stop());
  const port = await openPort(t, loop.path);
  const sent = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7) & 0xff));
  const got = collect(port);
  port.write(sent);
  await waitFor(() => total(got) >= sent.length, 'the bytes to come back', 30_000);
  t.true(Buffer.concat(got).equals(sent));
});
