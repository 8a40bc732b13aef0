// Command plugins: WASI programs (they export `_start`) run in a @wasmer/sdk sandbox, behind the
// same PluginInstance contract as library plugins, so the runner gives them the same lifecycle,
// crash recovery, status and reload. Each instance gets a worker thread of its own
// (command-worker.ts) holding its SDK, sandbox and program: nothing of it runs on the main thread,
// and terminating that worker stops it for certain.
//
// stdin carries the NMEA lines of a granted serial device and/or the deltas matching the plugin's
// subscriptions (JSON, one per line); each stdout line is a delta, validated by
// HostServices.emitDelta like a library plugin's; stderr goes to the plugin's log (rate limited).
// An exit or a trap ends the instance as a crash; so does a runaway: stdin is written one chunk at
// a time, and a chunk the program has not taken within the bound (plugins.callTimeoutMs) — its
// stdin is full and it reads nothing — makes it a runaway.
//
// Load (validation, memory cap, AOT cache, exports and imports) happens in loadCommandPlugin and
// fails with a PluginLoadError like a library plugin's. start() returns at once; the worker starts
// the program asynchronously, and every later event reaches the runner through CommandEvents.

import { Worker } from 'node:worker_threads';
import { readFile } from 'node:fs/promises';
import type { PutResult } from '../api/types.js';
import type { DeviceHost, DeviceSession } from '../abi/devices/index.js';
import { SerialStream } from '../abi/devices/serial-stream.js';
import { createLogger, type Logger } from '../../core/log.js';
import { BoundedQueue } from '../../core/bounded-queue.js';
import { prepareCached } from './aot-cache.js';
import { LogBudget, MAX_OUTPUT_LINE } from './command-io.js';
import type { CommandWorkerData, FromWorker, ToWorker } from './command-worker.js';
import { PluginLoadError } from './errors.js';
import { DEFAULT_MEMORY_LIMIT_MB } from './prepare.js';
import type { HostServices, PluginInstance } from './types.js';

/** What a command plugin reports between calls, to its runner. */
export interface CommandEvents {
  /** stdout lines: each goes to HostServices.emitDelta (validated, counted), then what it queued is published. */
  output(lines: readonly string[]): void;
  /** A stdout line that cannot be a delta before parsing (too long): count it as refused. */
  rejected(reason: string): void;
  /** The program ended (exit, trap) or was stopped as a runaway: a crash. */
  failed(err: Error): void;
}

/** What goes to the program's stdin. */
export interface CommandStdinOptions {
  /** Serial device (path or board alias) whose NMEA lines are written to stdin, when granted. */
  serial?: string;
  /** Deltas delivered to the plugin are written to stdin as JSON lines. */
  deltas: boolean;
}

export interface CommandLoadOptions {
  id: string;
  wasmPath: string;
  /** The plugin's VFS folder: copied to /workspace before the start, written back at the end. */
  vfsRoot: string;
  host: HostServices;
  hal: DeviceHost;
  stdin: CommandStdinOptions;
  /** A program that has not taken a stdin chunk after this long is a runaway. */
  runawayMs: number;
  events: CommandEvents;
  memoryLimitMB?: number;
  cacheDir?: string;
}

const WORKER_URL = new URL('./command-worker.js', import.meta.url);
/** The only imports the sandbox provides. */
const WASI_MODULES = new Set(['wasi_snapshot_preview1', 'wasi_unstable', 'wasix_32v1']);
/** Time a program gets after its spawn to start reading stdin before the runaway bound applies (start-up is ~1 s on x86, slower on a board). */
const STARTUP_ALLOWANCE_MS = 10_000;
/** stdin is written in chunks of at most this size, one at a time: the runaway bound applies to each. */
const STDIN_CHUNK_BYTES = 4096;
/** Deltas waiting to be written to stdin; beyond this the oldest are dropped (and counted). */
const MAX_QUEUED_DELTAS = 10_000;
/** After stdin is closed on stop, how long the program may take to finish before it is killed. */
const MAX_STOP_GRACE_MS = 1000;
/** How long the worker may take to write the VFS back before it is terminated without. */
const CLOSE_TIMEOUT_MS = 5000;
const NEWLINE = Buffer.from('\n');
/** The SDK's own memory gets the plugin's cap plus this (it uses 4-6 MB for one program, measured). */
const SDK_OWN_MB = 16;

/** Instances still closing (VFS being written back), by VFS folder: the next one starts after. */
const pendingCloses = new Map<string, Promise<void>>();

/** Resolves once every closed command instance has written its VFS back and its worker has ended. */
export function commandPluginsClosed(): Promise<void> {
  return Promise.all(pendingCloses.values()).then(() => undefined);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function loadCommandPlugin(opts: CommandLoadOptions): Promise<PluginInstance> {
  const { id } = opts;
  let bytes: Uint8Array;
  try {
    bytes = await readFile(opts.wasmPath);
  } catch (err) {
    throw new PluginLoadError(id, `cannot read ${opts.wasmPath}: ${message(err)}`);
  }
  // The same preparation as library plugins: validation, the memory cap in the binary, the AOT cache.
  const prepared = prepareCached(id, bytes, {
    memoryLimitMB: opts.memoryLimitMB ?? DEFAULT_MEMORY_LIMIT_MB,
    cacheDir: opts.cacheDir,
  });
  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(prepared.bytes);
  } catch (err) {
    throw new PluginLoadError(id, `compile failed: ${message(err)}`);
  }
  if (!WebAssembly.Module.exports(module).some((e) => e.name === '_start' && e.kind === 'function')) {
    throw new PluginLoadError(id, 'a command plugin must be a WASI program exporting _start');
  }
  const foreign = WebAssembly.Module.imports(module).find((i) => !WASI_MODULES.has(i.module));
  if (foreign)
    throw new PluginLoadError(
      id,
      `command plugins get WASI only: import ${foreign.module}.${foreign.name} is not provided`,
    );
  return new CommandPlugin(opts, prepared.bytes, (opts.memoryLimitMB ?? DEFAULT_MEMORY_LIMIT_MB) + SDK_OWN_MB);
}

type State = 'loaded' | 'running' | 'stopping' | 'closed';

class CommandPlugin implements PluginInstance {
  readonly id: string;
  /** A WASI program exports no name: the runner shows the package name. */
  readonly name = '';
  readonly schema = undefined;
  readonly hasDeltaHandler: boolean;
  readonly hasPoll = false;
  readonly hasHalData = false;
  readonly hal: DeviceSession | undefined;
  private readonly serial: SerialStream | undefined;
  private readonly log: Logger;
  private readonly stderrLog: LogBudget;
  private readonly deltas = new BoundedQueue<string>(MAX_QUEUED_DELTAS);
  private droppedDeltas = 0;
  private state: State = 'loaded';
  /** Alternates stdin lines between the serial stream and deltas. */
  private serialTurn = false;
  private launching: Promise<void> = Promise.resolve();
  private worker: Worker | undefined;
  /** The program runs: stdin can be written. */
  private started = false;
  private startedAt = 0;
  /** A stdin chunk the program has not taken yet, timed by this. */
  private runawayTimer: NodeJS.Timeout | undefined;
  private inFlight = false;
  private reported = false;
  private onClosed: ((m: Extract<FromWorker, { type: 'closed' }>) => void) | undefined;

  constructor(
    private readonly opts: CommandLoadOptions,
    private readonly bytes: Uint8Array,
    private readonly sdkMemoryMB: number,
  ) {
    this.id = opts.id;
    this.log = createLogger(`plugin ${opts.id}`);
    this.stderrLog = new LogBudget(this.log, 'stderr: ');
    this.hasDeltaHandler = opts.stdin.deltas;
    const device = opts.stdin.serial;
    this.serial =
      device === undefined
        ? undefined
        : new SerialStream(
            opts.hal,
            device,
            () => this.pump(),
            (problem) =>
              problem === undefined
                ? opts.host.setStatus(`reading NMEA from ${device} on stdin`)
                : opts.host.setError(problem),
          );
    this.hal = this.serial;
  }

  start(configJson: string): number {
    if (this.state !== 'loaded') throw new Error(`plugin ${this.id}: a command instance starts once`);
    this.state = 'running';
    this.serial?.open();
    this.launching = this.launch(configJson).catch((err: unknown) =>
      this.fail(new Error(`cannot start its worker: ${message(err)}`)),
    );
    return 0;
  }

  /** Closes stdin: a program that finishes at end of input exits by itself; close() ends it after a grace period. */
  stop(): number {
    if (this.state === 'running') this.state = 'stopping';
    this.send({ type: 'eof' });
    return 0;
  }

  deliverDelta(json: string): void {
    if (this.deltas.push(json)) {
      this.droppedDeltas++;
      this.log.limited(
        'warn',
        'stdin-full',
        `stdin queue full (${MAX_QUEUED_DELTAS} deltas): oldest dropped, ${this.droppedDeltas} so far; the program does not keep up`,
      );
    }
    this.pump();
  }

  poll(): number {
    return 0;
  }

  halData(): void {}

  handlePut(): PutResult {
    return { state: 'COMPLETED', statusCode: 501, message: 'command plugins have no PUT handlers' };
  }

  close(): void {
    if (this.state === 'closed') return;
    // Only a requested stop gets a grace period; after a crash or a runaway the program is ended at once.
    const graceMs = this.state === 'stopping' ? Math.min(this.opts.runawayMs, MAX_STOP_GRACE_MS) : 0;
    this.state = 'closed';
    this.serial?.close();
    clearTimeout(this.runawayTimer);
    const root = this.opts.vfsRoot;
    const done = this.shutdown(graceMs).catch((err: unknown) =>
      this.log.warn(`closing the command worker failed: ${message(err)}`),
    );
    pendingCloses.set(root, done);
    void done.then(() => {
      if (pendingCloses.get(root) === done) pendingCloses.delete(root);
    });
  }

  // ---- the worker ----

  private async launch(configJson: string): Promise<void> {
    // The previous instance's VFS write-back comes first.
    await pendingCloses.get(this.opts.vfsRoot);
    if (this.state === 'closed') return;
    const workerData: CommandWorkerData = {
      bytes: this.bytes,
      sdkMemoryMB: this.sdkMemoryMB,
      configJson,
      vfsRoot: this.opts.vfsRoot,
    };
    const worker = new Worker(WORKER_URL, { workerData, name: `command ${this.id}` });
    this.worker = worker;
    worker.on('message', (m: FromWorker) => this.onMessage(m));
    worker.on('error', (err) => this.fail(new Error(`its worker failed: ${err.message}`)));
    worker.on('exit', (code) => this.fail(new Error(`its worker exited (code ${code})`)));
  }

  private send(m: ToWorker): void {
    this.worker?.postMessage(m);
  }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'started':
        this.started = true;
        this.startedAt = Date.now();
        this.log.debug(`program started (${m.copiedBytes} bytes of VFS copied in)`);
        this.pump();
        return;
      case 'written':
        this.inFlight = false;
        clearTimeout(this.runawayTimer);
        this.pump();
        return;
      case 'lines':
        this.publish(m.lines);
        return;
      case 'overlong':
        this.opts.events.rejected(`stdout line of ${m.bytes} bytes is over the ${MAX_OUTPUT_LINE}-byte limit`);
        return;
      case 'log':
        for (const line of m.lines) this.stderrLog.line(line);
        return;
      case 'ended':
        this.stderrLog.flush();
        this.fail(new Error(`the program ${m.why}`));
        return;
      case 'error':
        this.fail(new Error(m.message));
        return;
      case 'closed':
        this.onClosed?.(m);
        return;
    }
  }

  private fail(err: Error): void {
    if (this.state !== 'running' || this.reported) return;
    this.reported = true;
    this.opts.events.failed(err);
  }

  private publish(lines: string[]): void {
    if (this.state === 'closed') {
      this.log.limited(
        'info',
        'late-output',
        `${lines.length} stdout line(s) written after the plugin was stopped: not published`,
      );
      return;
    }
    this.opts.events.output(lines);
  }

  /** Sends the next stdin chunk when the program has taken the previous one. */
  private pump(): void {
    if (!this.started || this.inFlight || this.state !== 'running') return;
    const chunk = this.nextChunk();
    if (chunk === undefined) return;
    this.inFlight = true;
    // A program still starting (Wasmer compiles it after the spawn) is not a runaway: input that
    // fills its pipe meanwhile waits STARTUP_ALLOWANCE_MS before the bound applies.
    const wait = Math.max(this.opts.runawayMs, this.startedAt + STARTUP_ALLOWANCE_MS - Date.now());
    this.runawayTimer = setTimeout(
      () =>
        this.fail(
          new Error(
            `the program took no input for ${this.opts.runawayMs} ms while its stdin was full (plugins.callTimeoutMs) and was stopped`,
          ),
        ),
      wait,
    );
    this.send({ type: 'stdin', chunk });
  }

  private takeDelta(): Buffer | undefined {
    const json = this.deltas.shift();
    return json === undefined ? undefined : Buffer.from(json);
  }

  private nextChunk(): Buffer | undefined {
    const parts: Buffer[] = [];
    let size = 0;
    while (size < STDIN_CHUNK_BYTES) {
      this.serialTurn = !this.serialTurn;
      const line = this.serialTurn
        ? (this.serial?.takeLine() ?? this.takeDelta())
        : (this.takeDelta() ?? this.serial?.takeLine());
      if (line === undefined) break;
      parts.push(line, NEWLINE);
      size += line.length + 1;
    }
    return size === 0 ? undefined : Buffer.concat(parts, size);
  }

  /** Lets the program end (a grace period when stopping), has the VFS written back, then terminates the worker. */
  private async shutdown(graceMs: number): Promise<void> {
    await this.launching;
    const worker = this.worker;
    if (!worker) return;
    worker.removeAllListeners('exit');
    const answer = new Promise<Extract<FromWorker, { type: 'closed' }>>((resolve) => (this.onClosed = resolve));
    this.send({ type: 'shutdown', graceMs });
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      answer,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), graceMs + CLOSE_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    await worker.terminate();
    if (!closed)
      this.log.warn(
        `its worker did not finish within ${graceMs + CLOSE_TIMEOUT_MS} ms: terminated, the VFS was not written back`,
      );
    else if (closed.error) this.log.warn(closed.error);
    else if (closed.written + closed.removed > 0)
      this.log.debug(`VFS written back: ${closed.written} file(s) written, ${closed.removed} removed`);
  }
}
