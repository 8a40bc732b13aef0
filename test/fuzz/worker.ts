// One fuzz target in a worker thread: generate → record → run, until the time or iteration budget
// is spent. The input in progress sits in shared memory so the supervisor can report it even when
// the run hangs. Process-level handlers turn unhandled rejections, uncaught exceptions, Node
// warnings and error-level log lines of the code under test into findings.

import { writeFileSync } from 'node:fs';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import { setLogLevel } from '../../core/log.js';
import { Finding, Tally, normalize, type FindingKind, type TargetModule } from './harness.js';
import {
  inputBytes,
  INPUT_MAX,
  PHASE,
  STATUS,
  statusWords,
  type FindingReport,
  type TargetSummary,
  type WorkerMessage,
  type WorkerParams,
} from './protocol.js';
import { hashString, Rng } from './rng.js';

const params = workerData as WorkerParams;
const status = statusWords(params.shared);
const recorded = inputBytes(params.shared);
const findings = new Map<string, FindingReport>();
let iteration = 0;
let current: Uint8Array = new Uint8Array(0);
let logWarnings = 0;

function note(kind: FindingKind, message: string): void {
  const key = `${kind}:${normalize(message)}`;
  const seen = findings.get(key);
  if (seen) {
    seen.count++;
    return;
  }
  const finding: FindingReport = {
    kind,
    message: message.slice(0, 2000),
    count: 1,
    iteration,
    input: Buffer.from(current.subarray(0, INPUT_MAX)).toString('base64'),
    inputBytes: current.length,
  };
  findings.set(key, finding);
  post({ kind: 'finding', finding });
}

function describe(err: unknown): string {
  if (err instanceof Error)
    return `${err.name}: ${err.message}${err.stack ? `\n${err.stack.split('\n').slice(1, 6).join('\n')}` : ''}`;
  return String(err);
}

process.on('unhandledRejection', (reason) => note('unhandled-rejection', describe(reason)));
process.on('uncaughtException', (err) => note('uncaught-exception', describe(err)));
process.on('warning', (w) => {
  // node:wasi announces itself once; that is not about the input.
  if (w.name !== 'ExperimentalWarning') note('warning', `${w.name}: ${w.message}`);
});

// The code under test logs through core/log.ts onto stderr. Warnings are the expected answer to
// bad input (counted); an error line means something failed that should not have.
const LOG_LINE = /^\S+ (debug|info |warn |error) \[([^\]]*)\] (.*)$/;
process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
  for (const line of String(chunk).split('\n')) {
    const m = LOG_LINE.exec(line);
    if (!m) continue;
    if (m[1] === 'warn ') logWarnings++;
    else if (m[1] === 'error') note('error-log', `[${m[2]}] ${m[3]}`);
  }
  const done = rest.find((r): r is () => void => typeof r === 'function');
  done?.();
  return true;
}) as typeof process.stderr.write;
setLogLevel('warn');

function record(input: Uint8Array): void {
  if (params.traceFile !== undefined) writeFileSync(params.traceFile, input);
  current = input;
  recorded.set(input.subarray(0, INPUT_MAX));
  Atomics.store(status, STATUS.inputLength, input.length);
  Atomics.store(status, STATUS.iteration, iteration);
}

/** Own property names of the prototypes a polluting input would reach. */
function prototypeShape(): string {
  return [Object.prototype, Array.prototype, Function.prototype, String.prototype]
    .map((p) => Object.getOwnPropertyNames(p).length)
    .join(',');
}

// The heap figures are taken after a full collection, so they show kept state, not garbage.
// Worker threads cannot take --expose-gc as an option; V8 accepts the flag at run time.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;
const heapMB = (): number => {
  collect();
  return Math.round((getHeapStatistics().used_heap_size / 1048576) * 10) / 10;
};

async function main(): Promise<void> {
  const module = (await import(`./targets/${params.target}.js`)) as { target: TargetModule };
  const target = await module.target.create();
  const rng = new Rng((params.seed ^ hashString(params.target)) >>> 0);
  const outcomes = new Tally();
  const shape = prototypeShape();
  const heapStartMB = heapMB();
  let slowestMs = 0;
  const started = performance.now();
  const deadline = started + params.seconds * 1000;
  Atomics.store(status, STATUS.phase, PHASE.running);
  while (iteration < params.maxIterations && performance.now() < deadline) {
    const input = target.generate(rng);
    record(input);
    const t0 = performance.now();
    try {
      for (const label of await target.run(input)) outcomes.add(label);
    } catch (err) {
      if (err instanceof Finding) note(err.kind, err.message);
      else note('crash', `escaped: ${describe(err)}`);
      outcomes.add(err instanceof Finding ? `finding:${err.kind}` : 'finding:crash');
    }
    const took = performance.now() - t0;
    slowestMs = Math.max(slowestMs, took);
    if (took > params.slowMs) note('slow', `one input took ${Math.round(took)} ms (bound ${params.slowMs} ms)`);
    if (prototypeShape() !== shape)
      note('property', 'a built-in prototype gained or lost properties (prototype pollution)');
    // Warnings, unhandled rejections and timers surface once the event loop turns: turn it after
    // every input, so what they report is blamed on the input that caused it.
    await yieldToLoop();
    iteration++;
  }
  const seconds = (performance.now() - started) / 1000;
  Atomics.store(status, STATUS.phase, PHASE.closing);
  await target.close();
  // Late rejections and log lines of the last inputs.
  await yieldToLoop();
  const summary: TargetSummary = {
    target: params.target,
    covers: module.target.covers,
    iterations: iteration,
    seconds,
    outcomes: [...outcomes.counts].sort((a, b) => b[1] - a[1]),
    findings: [...findings.values()],
    slowestMs,
    heapStartMB,
    heapEndMB: heapMB(),
    logWarnings,
  };
  post({ kind: 'summary', summary });
}

function post(msg: WorkerMessage): void {
  parentPort?.postMessage(msg);
}

main().catch((err: unknown) => {
  post({ kind: 'failed', error: describe(err), iterations: iteration, findings: [...findings.values()] });
});
