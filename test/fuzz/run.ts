// `npm run fuzz`: every target for --seconds (default 60) with a seed (printed; --seed N repeats a
// run), a summary per target, exit status 1 on any finding. See docs/reliability.md.
//
//   node dist/test/fuzz/run.js [--seed N] [--seconds S] [--only nmea0183,wasm] [--iterations N]
//                              [--hang-ms MS] [--slow-ms MS] [--json FILE] [--trace FILE]
// --trace writes each input to FILE before it runs: after a native crash (the process dies, exit
// 139), FILE holds the input that caused it.

import { randomInt } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { normalize, OTHER_OUTCOMES } from './harness.js';
import { preview, TARGET_NAMES, type TargetName, type TargetSummary } from './protocol.js';
import { isTargetName, runFuzz, type FuzzOptions } from './runner.js';

function fail(message: string): never {
  process.stderr.write(`fuzz: ${message}\n`);
  process.exit(2);
}

function numberArg(name: string, text: string | undefined, min: number, max: number): number {
  const n = Number(text);
  if (text === undefined || !Number.isInteger(n) || n < min || n > max)
    fail(`${name} needs an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return n;
}

interface Args extends FuzzOptions {
  json?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { seed: randomInt(0, 2 ** 32 - 1), seconds: 60 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    i++;
    if (flag === '--seed') args.seed = numberArg(flag, value, 0, 2 ** 32 - 1);
    else if (flag === '--seconds') args.seconds = numberArg(flag, value, 1, 86_400);
    else if (flag === '--iterations') args.maxIterations = numberArg(flag, value, 1, Number.MAX_SAFE_INTEGER);
    else if (flag === '--hang-ms') args.hangMs = numberArg(flag, value, 100, 3_600_000);
    else if (flag === '--slow-ms') args.slowMs = numberArg(flag, value, 1, 3_600_000);
    else if (flag === '--json') args.json = value ?? fail('--json needs a file name');
    else if (flag === '--trace') args.traceFile = value ?? fail('--trace needs a file name');
    else if (flag === '--only') {
      const names = (value ?? '').split(',').filter((n) => n !== '');
      const bad = names.find((n) => !isTargetName(n));
      if (names.length === 0 || bad !== undefined)
        fail(`--only takes a comma-separated list of ${TARGET_NAMES.join(', ')}; got ${JSON.stringify(value)}`);
      args.only = names as TargetName[];
    } else
      fail(
        `unknown option ${JSON.stringify(flag)} (--seed, --seconds, --only, --iterations, --hang-ms, --slow-ms, --json, --trace)`,
      );
  }
  return args;
}

/** The tally stops telling labels apart at its bound; past it the count is a lower bound. */
function distinct(summary: TargetSummary): string {
  const capped = summary.outcomes.some(([label]) => label === OTHER_OUTCOMES);
  return capped ? `≥ ${summary.outcomes.length - 1}` : String(summary.outcomes.length);
}

function print(summary: TargetSummary): void {
  const rate = summary.seconds > 0 ? Math.round(summary.iterations / summary.seconds) : 0;
  const lines = [
    `\n== ${summary.target}: ${summary.iterations} inputs in ${summary.seconds.toFixed(1)} s (${rate}/s), ${distinct(summary)} distinct outcomes, ${summary.findings.length} findings`,
    `   ${summary.covers}`,
    `   slowest input ${summary.slowestMs.toFixed(1)} ms; worker heap ${summary.heapStartMB} → ${summary.heapEndMB} MB; ${summary.logWarnings} warning lines logged`,
    ...summary.outcomes.slice(0, 12).map(([label, n]) => `   ${String(n).padStart(9)}  ${label}`),
  ];
  if (summary.outcomes.length > 12) lines.push(`   … and ${summary.outcomes.length - 12} more outcomes`);
  for (const f of summary.findings) {
    lines.push(`   FINDING ${f.kind} (×${f.count}, first at input #${f.iteration}): ${f.message.split('\n')[0]}`);
    lines.push(`     normalised: ${normalize(f.message.split('\n')[0] ?? '')}`);
    lines.push(`     input: ${preview(Buffer.from(f.input, 'base64'))}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  let processFault: string | undefined;
  // The supervisor itself must not fail quietly either.
  process.on('unhandledRejection', (reason) => {
    processFault = `unhandled rejection in the supervisor: ${String(reason)}`;
  });
  process.on('uncaughtException', (err) => {
    processFault = `uncaught exception in the supervisor: ${err.stack ?? err.message}`;
  });
  const targets = args.only ?? TARGET_NAMES;
  process.stdout.write(`fuzz: seed ${args.seed}, ${args.seconds} s per target, targets ${targets.join(', ')}\n`);
  process.stdout.write(
    `fuzz: repeat with: node dist/test/fuzz/run.js --seed ${args.seed} --seconds ${args.seconds}${args.only ? ` --only ${args.only.join(',')}` : ''}\n`,
  );
  const summaries = await runFuzz({ ...args, onSummary: print });
  const findings = summaries.reduce((n, s) => n + s.findings.length, 0);
  const inputs = summaries.reduce((n, s) => n + s.iterations, 0);
  if (args.json)
    writeFileSync(args.json, `${JSON.stringify({ seed: args.seed, seconds: args.seconds, summaries }, null, 2)}\n`);
  process.stdout.write(
    `\nfuzz: seed ${args.seed}: ${inputs} inputs, ${findings} findings${processFault ? `; ${processFault}` : ''}\n`,
  );
  process.exitCode = findings > 0 || processFault ? 1 : 0;
}

main().catch((err: unknown) => {
  process.stderr.write(`fuzz: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
