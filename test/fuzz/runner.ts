// The fuzz supervisor: runs each target in its own worker thread, one after another, and watches
// it. A worker whose iteration counter stops moving for `hangMs` is terminated and the input in
// progress reported as a hang; a worker that dies (uncaught error, out of its heap limit) is a
// crash. Reproducible: the same seed gives each target the same input sequence.

import { Worker } from 'node:worker_threads';
import {
  PHASE,
  STATUS,
  TARGET_NAMES,
  currentInput,
  sharedBuffer,
  statusWords,
  type FindingReport,
  type RunnableTarget,
  type TargetName,
  type TargetSummary,
  type WorkerMessage,
  type WorkerParams,
} from './protocol.js';

export interface FuzzOptions {
  seed: number;
  /** Fuzzing time per target (setup not included). */
  seconds: number;
  only?: readonly RunnableTarget[];
  maxIterations?: number;
  /** No progress for this long is a hang (default 10 s). */
  hangMs?: number;
  /** One input slower than this is a `slow` finding (default 2 s). */
  slowMs?: number;
  /** Writes each input to this file before it runs (slower): for inputs that kill the whole process. */
  traceFile?: string;
  /** Called with each target's summary as it completes. */
  onSummary?: (summary: TargetSummary) => void;
}

/** Setup (building plugins, starting a server) and teardown are bounded too. */
const SETUP_LIMIT_MS = 180_000;
const CLOSE_LIMIT_MS = 30_000;
/** The worker's heap limit: a target whose state grows without bound fails here, not the machine. */
const HEAP_LIMIT_MB = 1536;

export function isTargetName(name: string): name is TargetName {
  return (TARGET_NAMES as readonly string[]).includes(name);
}

function emptySummary(target: RunnableTarget, iterations: number, findings: FindingReport[]): TargetSummary {
  return {
    target,
    covers: '',
    iterations,
    seconds: 0,
    outcomes: [],
    findings,
    slowestMs: 0,
    heapStartMB: 0,
    heapEndMB: 0,
    logWarnings: 0,
  };
}

function runTarget(target: RunnableTarget, opts: FuzzOptions): Promise<TargetSummary> {
  const shared = sharedBuffer();
  const status = statusWords(shared);
  const params: WorkerParams = {
    target,
    seed: opts.seed,
    seconds: opts.seconds,
    maxIterations: opts.maxIterations ?? Number.MAX_SAFE_INTEGER,
    slowMs: opts.slowMs ?? 2000,
    shared,
    traceFile: opts.traceFile,
  };
  const hangMs = opts.hangMs ?? 10_000;
  const worker = new Worker(new URL('./worker.js', import.meta.url), {
    workerData: params,
    resourceLimits: { maxOldGenerationSizeMb: HEAP_LIMIT_MB },
  });
  return new Promise<TargetSummary>((resolve) => {
    let settled = false;
    let stuck: FindingReport | undefined;
    let died: string | undefined;
    const startedAt = Date.now();
    let lastIteration = -1;
    let lastProgress = Date.now();

    const report = (kind: FindingReport['kind'], message: string): FindingReport => {
      const input = currentInput(shared);
      return {
        kind,
        message,
        count: 1,
        iteration: Atomics.load(status, STATUS.iteration),
        input: Buffer.from(input).toString('base64'),
        inputBytes: Atomics.load(status, STATUS.inputLength),
      };
    };
    const finish = (summary: TargetSummary): void => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      resolve(summary);
    };

    const watchdog = setInterval(() => {
      const phase = Atomics.load(status, STATUS.phase);
      const now = Date.now();
      const iteration = Atomics.load(status, STATUS.iteration);
      if (iteration !== lastIteration) {
        lastIteration = iteration;
        lastProgress = now;
      }
      let problem: string | undefined;
      if (phase === PHASE.setup && now - startedAt > SETUP_LIMIT_MS)
        problem = `setup did not finish within ${SETUP_LIMIT_MS} ms`;
      else if (phase === PHASE.running && now - lastProgress > hangMs)
        problem = `no progress for ${hangMs} ms: the input below hangs the code under test`;
      else if (phase === PHASE.closing && now - lastProgress > CLOSE_LIMIT_MS)
        problem = `closing did not finish within ${CLOSE_LIMIT_MS} ms`;
      if (problem && !stuck) {
        stuck = report('hang', problem);
        void worker.terminate();
      }
    }, 200);

    // Findings as they come, for a worker that never gets to its summary.
    const early: FindingReport[] = [];
    worker.on('message', (msg: WorkerMessage) => {
      if (msg.kind === 'finding') {
        early.push(msg.finding);
        return;
      }
      // Its work is done; whatever it still holds open must not outlive the run.
      void worker.terminate();
      if (msg.kind === 'summary') finish(msg.summary);
      else
        finish(
          emptySummary(target, msg.iterations, [
            ...msg.findings,
            report('crash', `the target could not run: ${msg.error}`),
          ]),
        );
    });
    worker.on('error', (err) => {
      died = `the worker died: ${err.name}: ${err.message}`;
    });
    worker.on('exit', (code) => {
      const iterations = Atomics.load(status, STATUS.iteration);
      if (stuck) finish(emptySummary(target, iterations, [...early, stuck]));
      else
        finish(
          emptySummary(target, iterations, [
            ...early,
            report('crash', died ?? `the worker exited (code ${code}) without a summary`),
          ]),
        );
    });
  });
}

/** Runs the targets in order; resolves with every summary (findings included, never throws for them). */
export async function runFuzz(opts: FuzzOptions): Promise<TargetSummary[]> {
  const summaries: TargetSummary[] = [];
  for (const target of opts.only ?? TARGET_NAMES) {
    const summary = await runTarget(target, opts);
    opts.onSummary?.(summary);
    summaries.push(summary);
  }
  return summaries;
}
