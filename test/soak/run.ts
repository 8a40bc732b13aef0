// `npm run soak [-- --seconds N]`: the long soak (default 10 minutes), printing RSS over time and
// the loss figures; exit 1 on any loss or RSS growth above 5 % after warm-up.

import { parseArgs } from 'node:util';
import { runSoak } from './soak.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '600' } } });
const seconds = Number(values.seconds);
if (!Number.isFinite(seconds) || seconds < 30) {
  console.error('--seconds must be a number ≥ 30');
  process.exit(2);
}
const report = await runSoak({ seconds, log: (line) => console.log(line) });
for (const [k, v] of Object.entries(report.figures)) console.log(`${k.padEnd(28)} ${v}`);
console.log(`RSS growth after warm-up: ${(report.rssGrowth * 100).toFixed(1)} %`);
if (report.ok) console.log('soak passed: no loss, memory flat');
else {
  console.log(`soak FAILED:\n  ${report.failures.join('\n  ')}`);
  process.exitCode = 1;
}
