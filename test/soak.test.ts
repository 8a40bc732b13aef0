// The soak's CI variant: 60 s of boat-like load on a real runtime process (see test/soak/soak.ts);
// `npm run soak` runs it for 10 minutes.

import test from 'ava';
import { runSoak } from './soak/soak.js';

test('60 s soak: N2K at 2,000 frames/s, four 38,400-baud ptys, ten plugins, five WebSocket clients, an unplug and a broker restart: nothing lost, RSS flat', async (t) => {
  t.timeout(240_000);
  const report = await runSoak({ seconds: 60, log: (line) => t.log(line) });
  for (const [k, v] of Object.entries(report.figures)) t.log(`${k}: ${v}`);
  t.deepEqual(report.failures, []);
  t.true(report.rss.length >= 20, 'RSS sampled through the run');
});
