// What the fuzz supervisor and its target workers share: the worker's parameters, the shared
// status words (the iteration in progress and its input, readable after the worker hangs), and
// the summary a worker posts at the end.

import type { FindingKind } from './harness.js';

export const TARGET_NAMES = ['nmea0183', 'candump', 'deltas', 'websocket', 'settings', 'wasm'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];
/** A target that misbehaves on purpose, so a test can check every kind of finding is caught (not run by `npm run fuzz`). */
export const SELF_CHECK = 'self-check';
export type RunnableTarget = TargetName | typeof SELF_CHECK;

export interface WorkerParams {
  target: RunnableTarget;
  seed: number;
  seconds: number;
  /** Stop after this many iterations even before the time is up. */
  maxIterations: number;
  /** An iteration slower than this is a `slow` finding. */
  slowMs: number;
  shared: SharedArrayBuffer;
  /** Each input is written here before it runs: what killed the whole process (a native crash) is left behind. */
  traceFile?: string;
}

/** Status words at the start of the shared buffer; the current input follows them. */
export const STATUS = { iteration: 0, inputLength: 1, phase: 2 } as const;
export const PHASE = { setup: 0, running: 1, closing: 2 } as const;
const STATUS_BYTES = 16;
/** Inputs longer than this are recorded cut (the finding says so). */
export const INPUT_MAX = 1024 * 1024;

export function sharedBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(STATUS_BYTES + INPUT_MAX);
}

export function statusWords(shared: SharedArrayBuffer): Int32Array {
  return new Int32Array(shared, 0, STATUS_BYTES / 4);
}

export function inputBytes(shared: SharedArrayBuffer): Uint8Array {
  return new Uint8Array(shared, STATUS_BYTES, INPUT_MAX);
}

/** The input of the iteration in progress, as the worker recorded it. */
export function currentInput(shared: SharedArrayBuffer): Uint8Array {
  const length = Atomics.load(statusWords(shared), STATUS.inputLength);
  return inputBytes(shared).slice(0, Math.min(length, INPUT_MAX));
}

export interface FindingReport {
  kind: FindingKind;
  message: string;
  /** How often a finding with this normalised message came up. */
  count: number;
  /** The iteration that first showed it; with the seed, this reproduces it. */
  iteration: number;
  /** That iteration's input, base64 (cut at INPUT_MAX bytes). */
  input: string;
  inputBytes: number;
}

export interface TargetSummary {
  target: RunnableTarget;
  covers: string;
  iterations: number;
  seconds: number;
  /** Outcome label → count (labels normalised, bounded). */
  outcomes: [string, number][];
  findings: FindingReport[];
  slowestMs: number;
  /** V8 heap of the worker after setup and at the end, MB: state that grows with input shows here. */
  heapStartMB: number;
  heapEndMB: number;
  /** Warning lines the code under test logged (rate limited at the source). */
  logWarnings: number;
}

/** What a worker posts: each new finding at once, then its summary or why its target could not run. */
export type WorkerMessage =
  /** Sent when a finding is first seen: it survives a worker that hangs or dies later. */
  | { kind: 'finding'; finding: FindingReport }
  | { kind: 'summary'; summary: TargetSummary }
  | { kind: 'failed'; error: string; iterations: number; findings: FindingReport[] };

/** A preview of an input for humans: printable ASCII, the rest escaped, cut. */
export function preview(bytes: Uint8Array, max = 160): string {
  let out = '';
  for (const b of bytes.subarray(0, max))
    out += b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  return bytes.length > max ? `${out}… (${bytes.length} bytes)` : out;
}
