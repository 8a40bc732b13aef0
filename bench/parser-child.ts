// Child process of the goals bench: @signalk/nmea0183-signalk's Parser.parse alone over the lines
// of a file (argv[2]), pass after pass for as long as the pipeline it is compared with runs (until
// its stdin closes), so both carry the same load for the same time. Prints {"rate": lines per CPU
// second, "passes": n} on stdout.

import { readFileSync } from 'node:fs';
import { Parser } from '@signalk/nmea0183-signalk';

const lines = readFileSync(process.argv[2]!, 'latin1').split('\n');
const parser = new Parser();
const parse = (l: string): void => {
  try {
    parser.parse(l);
  } catch {
    // a refused line counts like any other: the parser's work was done
  }
};
for (let i = 0; i < 20_000 && i < lines.length; i++) parse(lines[i]!); // JIT warm-up
let stop = false;
process.stdin.on('data', () => undefined).on('end', () => (stop = true));
const CHUNK = 10_000;
let done = 0;
let cpu = 0;
/** One chunk of lines per event-loop turn, so the end of stdin is seen between chunks; at least one whole pass. */
const step = (): void => {
  const c0 = process.cpuUsage();
  const from = done % lines.length;
  for (let i = from; i < Math.min(from + CHUNK, lines.length); i++) parse(lines[i]!);
  const c = process.cpuUsage(c0);
  cpu += (c.user + c.system) / 1e6;
  done += Math.min(CHUNK, lines.length - from);
  if (stop && done >= lines.length) process.stdout.write(JSON.stringify({ rate: done / cpu, passes: done / lines.length }));
  else setImmediate(step);
};
step();
