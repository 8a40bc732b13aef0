// The worker thread behind one command plugin: it owns the plugin's @wasmer/sdk instance, sandbox
// and program, so terminating this worker stops everything the plugin runs, its SDK threads
// included. That is the only reliable stop: the SDK's own kill() is cooperative, and a program
// looping without system calls goes on using a core after it (docs/decisions/
// 0037-command-plugin-worker-per-plugin.md). The SDK is initialised offline from the wasm file bundled in node_modules, with its
// memory capped (initSdk), and `cache: false`: no package cache, no registry; the program is
// loaded from its bytes.
//
// Protocol with runtime/engine/command.ts: the main thread sends stdin chunks one at a time and
// waits for `written` (the program took them), `eof` on stop, `shutdown` at the end; this side
// sends stdout lines, stderr lines, how the program ended, and `closed` once the VFS is written
// back. The main thread then terminates the worker.

import { readFile } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import type { Process, Sandbox } from '@wasmer/sdk/node';
import { LineFramer } from '../../hal/framing.js';
import { Utf8Lines } from './command-io.js';
import { copyIn, copyOut, GUEST_VFS } from './sandbox-vfs.js';

export interface CommandWorkerData {
  /** The prepared module (memory cap applied). */
  bytes: Uint8Array;
  /** Cap of the SDK's own memory: its state and the sandbox's in-memory file system. */
  sdkMemoryMB: number;
  /** Passed as argv[1]. */
  configJson: string;
  vfsRoot: string;
}

export type ToWorker = { type: 'stdin'; chunk: Uint8Array } | { type: 'eof' } | { type: 'shutdown'; graceMs: number };

export type FromWorker =
  | { type: 'started'; copiedBytes: number }
  | { type: 'written' }
  | { type: 'lines'; lines: string[] }
  | { type: 'overlong'; bytes: number }
  | { type: 'log'; lines: string[] }
  | { type: 'ended'; why: string }
  | { type: 'error'; message: string }
  | { type: 'closed'; written: number; removed: number; error?: string };

/** After an exit, how long stdout and stderr may take to end (they do at once; this bounds a broken stream). */
const OUTPUT_DRAIN_MS = 1000;

const port = parentPort;
if (!port) throw new Error('command-worker must run in a worker thread');
const data = workerData as CommandWorkerData;
const post = (m: FromWorker): void => port.postMessage(m);

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

let proc: Process | undefined;
let sandbox: Sandbox | undefined;
let copiedIn = false;
let ended: Promise<string> | undefined;
let stopReading: () => void = () => undefined;
const readingStopped = new Promise<void>((resolve) => (stopReading = resolve));

async function waitExit(p: Process): Promise<string> {
  try {
    const out = await p.wait();
    return out.reason === 'exited'
      ? `exited with code ${out.exitCode}`
      : `was ${out.reason} (exit code ${out.exitCode})`;
  } catch (err) {
    // A trap: "command execution failed: RuntimeError: ... unreachable", then a stack.
    return `trapped: ${message(err).split('\n')[0]}`;
  }
}

/** Reads a stream until it ends, fails, or reading is stopped (the SDK never ends a killed process's streams). */
async function read(stream: AsyncIterable<Uint8Array> | null, each: (chunk: Uint8Array) => void): Promise<void> {
  if (!stream) return;
  const chunks = stream[Symbol.asyncIterator]();
  const stopped = readingStopped.then(() => undefined);
  try {
    for (;;) {
      const next = await Promise.race([chunks.next(), stopped]);
      if (next === undefined || next.done === true) return;
      each(next.value);
    }
  } catch {
    // the process is gone; what was read has been handled
  }
}

async function readStdout(p: Process): Promise<void> {
  const lines: string[] = [];
  const flush = (): void => {
    if (lines.length > 0) post({ type: 'lines', lines: lines.splice(0) });
  };
  const splitter = new Utf8Lines({
    line: (text) => lines.push(text),
    overlong: (bytes) => post({ type: 'overlong', bytes }),
  });
  await read(p.stdout, (chunk) => {
    splitter.push(chunk);
    flush();
  });
  splitter.end();
  flush();
}

async function readStderr(p: Process): Promise<void> {
  const lines: string[] = [];
  const framer = new LineFramer({ line: (text) => lines.push(text), error: () => undefined });
  const flush = (): void => {
    if (lines.length > 0) post({ type: 'log', lines: lines.splice(0) });
  };
  await read(p.stderr, (chunk) => {
    framer.push(chunk);
    flush();
  });
  framer.end();
  flush();
}

/** Pages the SDK's wasm-bindgen glue gives its memory initially (@wasmer/sdk 0.16). */
const SDK_INITIAL_PAGES = 25;

/**
 * Initialises the SDK from its bundled wasm with a capped memory: it declares 4 GB, and the
 * sandbox file system lives in it (a program capped at 16 MB wrote 512 MB to /tmp, measured).
 * The SDK's Node entry loads pkg/ next to dist/ the same way; initialising the glue first makes
 * its own initialisation a no-op, and its worker threads share this memory.
 */
async function initSdk(maxMB: number): Promise<void> {
  const entry = import.meta.resolve('@wasmer/sdk/node');
  const glue: unknown = await import(new URL('../pkg/wasmer_sdk_js.js', entry).href);
  const init = typeof glue === 'object' && glue !== null ? (glue as { default?: unknown }).default : undefined;
  if (typeof init !== 'function') throw new Error('@wasmer/sdk: pkg/wasmer_sdk_js.js has no init function');
  const wasm = await readFile(new URL('../pkg/wasmer_sdk_js_bg.wasm', entry));
  const memory = new WebAssembly.Memory({
    initial: SDK_INITIAL_PAGES,
    maximum: Math.max(SDK_INITIAL_PAGES, maxMB * 16),
    shared: true,
  });
  await (init as (options: { module_or_path: Uint8Array; memory: WebAssembly.Memory }) => Promise<unknown>)({
    module_or_path: wasm,
    memory,
  });
}

/** Makes the sandbox, copies the VFS in and spawns the program. */
async function start(): Promise<Process> {
  await initSdk(data.sdkMemoryMB);
  const { Wasmer } = await import('@wasmer/sdk/node');
  const wasmer = await Wasmer.create({ cache: false });
  const pkg = await wasmer.packages.load(data.bytes);
  const box = (sandbox = await wasmer.sandboxes.create({ packages: [pkg], network: { mode: 'disabled' } }));
  await box.fs.mkdir(GUEST_VFS, { recursive: true });
  const copiedBytes = await copyIn(box, data.vfsRoot);
  copiedIn = true;
  const p = await box
    .command(pkg, [data.configJson], { cwd: GUEST_VFS })
    .spawn({ stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' });
  proc = p;
  ended = waitExit(p);
  post({ type: 'started', copiedBytes });
  return p;
}

/** Publishes what the program writes; reports how it ended after its last lines. */
async function watch(p: Process, exit: Promise<string>): Promise<void> {
  const output = Promise.all([readStdout(p), readStderr(p)]);
  const why = await exit;
  const drain = setTimeout(stopReading, OUTPUT_DRAIN_MS);
  await output;
  clearTimeout(drain);
  post({ type: 'ended', why });
}

const starting: Promise<Process | undefined> = start().catch((err: unknown) => {
  post({ type: 'error', message: `starting the program failed: ${message(err)}` });
  return undefined;
});
void starting.then((p) => (p && ended ? watch(p, ended) : undefined));

async function write(chunk: Uint8Array): Promise<void> {
  try {
    await proc?.stdin?.write(chunk);
    post({ type: 'written' });
  } catch {
    // the program is gone: watch() reports how it ended
  }
}

/** Ends the program (after a grace period), then writes the VFS back. */
async function shutdown(graceMs: number): Promise<void> {
  let written = 0;
  let removed = 0;
  let error: string | undefined;
  try {
    const exit = ended;
    if (proc && exit) {
      let timer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([
        exit.then(() => true),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(false), graceMs))),
      ]);
      clearTimeout(timer);
      // Cooperative only: the worker is terminated right after `closed` whatever the program does.
      if (!finished) await proc.kill().catch(() => undefined);
      stopReading();
    }
    if (sandbox && copiedIn) ({ written, removed } = await copyOut(sandbox, data.vfsRoot));
  } catch (err) {
    error = `writing the VFS back failed: ${message(err)}`;
  }
  post(error === undefined ? { type: 'closed', written, removed } : { type: 'closed', written, removed, error });
}

port.on('message', (m: ToWorker) => {
  if (m.type === 'stdin') void write(m.chunk);
  else if (m.type === 'eof') proc?.stdin?.close().catch(() => undefined);
  // A shutdown during the start waits until the sandbox exists (or the start failed).
  else void starting.then(() => shutdown(m.graceMs));
});
