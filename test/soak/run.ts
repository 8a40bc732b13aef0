// `npm run soak [-- --seconds N] [--heap-snapshots DIR] [--cpu-prof DIR]`: the long soak (default 10 minutes),
// printing RSS over time and the loss figures; exit 1 on any loss or RSS growth above 5 % after
// warm-up. With --heap-snapshots, the runtime's heap is written to DIR after warm-up and at the
// end, and what grew between the two is printed. With --cpu-prof, the runtime writes a V8 CPU
// profile into DIR when it exits.

import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runSoak } from './soak.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '600' },
    'heap-snapshots': { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});
const seconds = Number(values.seconds);
if (!Number.isFinite(seconds) || seconds < 30) {
  console.error('--seconds must be a number ≥ 30');
  process.exit(2);
}
const heapSnapshots = values['heap-snapshots'];
if (heapSnapshots) mkdirSync(heapSnapshots, { recursive: true });
const report = await runSoak({
  seconds,
  heapSnapshots: heapSnapshots && resolve(heapSnapshots),
  cpuProfile: values['cpu-prof'] && resolve(values['cpu-prof']),
  log: (line) => console.log(line),
});
for (const [k, v] of Object.entries(report.figures)) console.log(`${k.padEnd(28)} ${v}`);
console.log(`RSS growth after warm-up: ${(report.rssGrowth * 100).toFixed(1)} %`);
for (const line of report.heap ?? []) console.log(line);
if (report.ok) console.log('soak passed: no loss, memory flat');
else {
  console.log(`soak FAILED:\n  ${report.failures.join('\n  ')}`);
  process.exitCode = 1;
}
