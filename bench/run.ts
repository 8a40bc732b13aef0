// `npm run bench [name...] [--vs-signalk-server] [--soak-seconds N] [--goals n2k,bus,...]`: runs each benchmark (or the
// named ones) in turn and prints its figures. To add one, export an `async () => string[]` from a
// module in bench/ and list it here. `--vs-signalk-server` runs signalk-server 2.32 beside the
// `goals` bench (installed into a cache folder on first use; see bench/anchor.ts).

import { setLogLevel } from '../core/log.js';
import { benchApi } from './api.js';
import { benchCan } from './can.js';
import { benchCommand } from './command.js';
import { benchEngine } from './engine.js';
import { benchGoals } from './goals.js';
import { benchHal } from './hal.js';
import { benchIsolation } from './isolation.js';
import { benchPlugins } from './plugins.js';
import { benchPipeline } from './pipeline.js';
import { benchSerialRead } from './serial-read.js';
import { benchStartup } from './startup.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : (args[i + 1] ?? '');
};
const soakSeconds = Number(flag('--soak-seconds') ?? 60);

const benches: [string, () => Promise<string[]>][] = [
  [
    'goals',
    () =>
      benchGoals({
        vsSignalkServer: args.includes('--vs-signalk-server'),
        soakSeconds,
        only: (flag('--goals') ?? '').split(',').filter(Boolean),
        log: (l) => process.stdout.write(`${l}\n`),
      }),
  ],
  ['pipeline', benchPipeline],
  ['can', benchCan],
  ['engine', benchEngine],
  ['plugins', () => benchPlugins()],
  ['startup', () => benchStartup()],
  ['hal', () => benchHal()],
  ['serial-read', () => benchSerialRead()],
  ['isolation', benchIsolation],
  ['command', benchCommand],
  ['api', benchApi],
];

async function main(): Promise<void> {
  setLogLevel('warn');
  const only = args.filter(
    (a, i) => !a.startsWith('--') && args[i - 1] !== '--soak-seconds' && args[i - 1] !== '--goals',
  );
  for (const [name, run] of benches) {
    if (only.length > 0 && !only.includes(name)) continue;
    process.stdout.write(`== ${name}\n`);
    try {
      const lines = await run();
      process.stdout.write(`${lines.join('\n')}\n\n`);
    } catch (err) {
      process.stdout.write(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n\n`);
      process.exitCode = 1;
    }
  }
}

void main();
