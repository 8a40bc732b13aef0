// Child process of the goals bench: @signalk/nmea0183-signalk's Parser.parse alone over the lines
// of a file (argv[2]), run beside the pipeline it is compared with so both carry the same load.
// Prints {"rate": lines per CPU second} on stdout.

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
const c0 = process.cpuUsage();
for (const l of lines) parse(l);
const c = process.cpuUsage(c0);
process.stdout.write(JSON.stringify({ rate: lines.length / ((c.user + c.system) / 1e6) }));
