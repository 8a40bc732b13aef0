// Command plugins: WASI programs (they export `_start`) run in a @wasmer/sdk sandbox, behind the
// same PluginInstance contract as library plugins, so the runner gives them the same lifecycle,
// crash recovery, status and reload. The program runs in one of the SDK's worker threads, never on
// the main thread. Its stdin carries the NMEA lines of a granted serial device and/or the deltas
// matching its subscriptions (JSON, one per line); each stdout line is a delta, validated by
// HostServices.emitDelta like a library plugin's; stderr goes to the plugin's log. An exit or a
// trap ends the instance as a crash; so does a runaway: a program whose stdin is full and which
// takes nothing more within the bound (plugins.callTimeoutMs) is killed.
//
// Load (validate, memory cap, AOT cache, exports and imports checked) happens in loadCommandPlugin
// and reports a PluginLoadError like a library plugin's. start() returns at once; the sandbox is
// made and the program spawned asynchronously, and every later event reaches the runner through
// CommandEvents.

import { readFile } from 'node:fs/promises';
import type { Package, Process, Sandbox } from '@wasmer/sdk/node';
import type { PutResult } from '../api/types.js';
import type { HalHost, HalSession } from '../abi/hal.js';
import { SerialStream } from '../abi/serial-stream.js';
import { LineFramer } from '../../hal/framing.js';
import { createLogger, type Logger } from '../log.js';
import { Inbox } from '../plugins/inbox.js';
import { prepareCached } from './aot-cache.js';
import { LogBudget, MAX_OUTPUT_LINE, Utf8Lines } from './command-io.js';
import { PluginLoadError } from './errors.js';
import { DEFAULT_MEMORY_LIMIT_MB } from './prepare.js';
import { copyIn, copyOut, GUEST_VFS } from './sandbox-vfs.js';
import type { HostServices, PluginInstance } from './types.js';
import { acquireWasmer, type WasmerLease } from './wasmer-client.js';

/** What a command plugin reports between calls, to its runner. */
export interface CommandEvents {
  /** stdout lines are ready: `emit` hands them to HostServices.emitDelta; publish what it queued right after. */
  output(emit: () => void): void;
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
  hal: HalHost;
  stdin: CommandStdinOptions;
  /** A program that takes no input for this long while its stdin is full is a runaway. */
  runawayMs: number;
  events: CommandEvents;
  memoryLimitMB?: number;
  cacheDir?: string;
}

/** The only imports the sandbox provides. */
const WASI_MODULES = new Set(['wasi_snapshot_preview1', 'wasi_unstable', 'wasix_32v1']);
/** stdin is written in chunks of at most this size: a write into a full pipe completes when the program has taken about this much. */
const STDIN_CHUNK_BYTES = 4096;
/** Deltas waiting to be written to stdin; beyond this the oldest are dropped (and counted). */
const MAX_QUEUED_DELTAS = 10_000;
/** After stdin is closed on stop, how long the program may take to finish before it is killed. */
const MAX_STOP_GRACE_MS = 1000;
const NEWLINE = Buffer.from('\n');

/** Write-backs of the VFS still in progress, by VFS folder: the next instance copies in after them. */
const pendingCloses = new Map<string, Promise<void>>();

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
  const prepared = prepareCached(id, bytes, { memoryLimitMB: opts.memoryLimitMB ?? DEFAULT_MEMORY_LIMIT_MB, cacheDir: opts.cacheDir });
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
  if (foreign) throw new PluginLoadError(id, `command plugins get WASI only: import ${foreign.module}.${foreign.name} is not provided`);
  return new CommandPlugin(opts, prepared.bytes);
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
  readonly hal: HalSession | undefined;
  private readonly serial: SerialStream | undefined;
  private readonly log: Logger;
  private readonly stderrLog: LogBudget;
  private readonly deltas = new Inbox<string>(MAX_QUEUED_DELTAS);
  private droppedDeltas = 0;
  private state: State = 'loaded';
  /** Alternates stdin lines between the serial stream and deltas. */
  private serialTurn = false;
  private running: Promise<void> = Promise.resolve();
  private lease: WasmerLease | undefined;
  private sandbox: Sandbox | undefined;
  private proc: Process | undefined;
  /** Settles with the reason the program ended. */
  private ended: Promise<string> | undefined;
  private copiedIn = false;
  /** The first failure (a runaway kill) wins over the exit it causes. */
  private failure: Error | undefined;
  private reported = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly opts: CommandLoadOptions,
    private readonly bytes: Uint8Array,
  ) {
    this.id = opts.id;
    this.log = createLogger(`plugin ${opts.id}`);
    this.stderrLog = new LogBudget(this.log, 'stderr: ');
    this.hasDeltaHandler = opts.stdin.deltas;
    const device = opts.stdin.serial;
    this.serial =
      device === undefined
        ? undefined
        : new SerialStream(opts.hal, device, () => this.kick(), (problem) => (problem === undefined ? opts.host.setStatus(`reading NMEA from ${device} on stdin`) : opts.host.setError(problem)));
    this.hal = this.serial;
  }

  start(configJson: string): number {
    if (this.state !== 'loaded') throw new Error(`plugin ${this.id}: a command instance starts once`);
    this.state = 'running';
    this.serial?.open();
    this.running = this.run(configJson).catch((err: unknown) => this.fail(err instanceof Error ? err : new Error(String(err))));
    return 0;
  }

  /** Closes stdin: a program that finishes on end of input exits by itself; close() kills it after a grace period. */
  stop(): number {
    if (this.state === 'running') this.state = 'stopping';
    this.proc?.stdin?.close().catch(() => undefined);
    return 0;
  }

  deliverDelta(json: string): void {
    if (this.deltas.push(json)) {
      this.droppedDeltas++;
      this.log.limited('warn', 'stdin-full', `stdin queue full (${MAX_QUEUED_DELTAS} deltas): oldest dropped, ${this.droppedDeltas} so far; the program does not keep up`);
    }
    this.kick();
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
    this.state = 'closed';
    this.serial?.close();
    this.kick();
    const root = this.opts.vfsRoot;
    const done = this.shutdown().catch((err: unknown) => this.log.warn(`closing the sandbox failed: ${message(err)}`));
    pendingCloses.set(root, done);
    void done.then(() => {
      if (pendingCloses.get(root) === done) pendingCloses.delete(root);
    });
  }

  // ---- the program ----

  private async run(configJson: string): Promise<void> {
    await pendingCloses.get(this.opts.vfsRoot);
    this.lease = await acquireWasmer();
    if (this.isClosed()) return;
    const { wasmer } = this.lease;
    const pkg: Package = await wasmer.packages.load(this.bytes);
    this.sandbox = await wasmer.sandboxes.create({ packages: [pkg], network: { mode: 'disabled' } });
    await this.sandbox.fs.mkdir(GUEST_VFS, { recursive: true });
    const copied = await copyIn(this.sandbox, this.opts.vfsRoot);
    this.copiedIn = true;
    if (this.isClosed()) return;
    // argv[1]: the configuration as JSON.
    const proc = await this.sandbox.command(pkg, [configJson], { cwd: GUEST_VFS }).spawn({ stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' });
    this.proc = proc;
    this.ended = this.waitExit(proc);
    if (this.state !== 'running') {
      // Stopped while the sandbox was being made.
      await proc.kill().catch(() => undefined);
      await this.ended;
      return;
    }
    this.log.debug(`program started (${copied} bytes of VFS copied in)`);
    const output = Promise.all([this.readStdout(proc), this.readStderr(proc)]);
    void this.pumpStdin(proc);
    const why = await this.ended;
    // Everything the program wrote before it ended is published before the crash is reported.
    await output;
    this.fail(this.failure ?? new Error(`the program ${why}`));
  }

  /** A method, not a field test: close() may run during any await (no narrowing across them). */
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private async waitExit(proc: Process): Promise<string> {
    try {
      const out = await proc.wait();
      return out.reason === 'exited' ? `exited with code ${out.exitCode}` : `was ${out.reason} (exit code ${out.exitCode})`;
    } catch (err) {
      // A trap: "command execution failed: RuntimeError: ... unreachable", then a stack.
      return `trapped: ${message(err).split('\n')[0]}`;
    }
  }

  private fail(err: Error): void {
    if (this.state === 'closed' || this.state === 'stopping' || this.reported) return;
    this.reported = true;
    this.opts.events.failed(err);
  }

  private kick(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Writes queued lines to stdin; a write that does not complete within the bound is a runaway. */
  private async pumpStdin(proc: Process): Promise<void> {
    const stdin = proc.stdin;
    if (!stdin) return;
    for (;;) {
      if (this.state !== 'running') return;
      const chunk = this.nextChunk();
      if (chunk === undefined) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
      const timer = setTimeout(() => this.runaway(proc), this.opts.runawayMs);
      try {
        await stdin.write(chunk);
      } catch {
        return; // the program is gone; run() reports how it ended
      } finally {
        clearTimeout(timer);
      }
    }
  }

  private runaway(proc: Process): void {
    if (this.state !== 'running') return;
    this.failure ??= new Error(`the program took no input for ${this.opts.runawayMs} ms while its stdin was full (plugins.callTimeoutMs) and was stopped`);
    proc.kill().catch(() => undefined);
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
      const line = this.serialTurn ? (this.serial?.takeLine() ?? this.takeDelta()) : (this.takeDelta() ?? this.serial?.takeLine());
      if (line === undefined) break;
      parts.push(line, NEWLINE);
      size += line.length + 1;
    }
    return size === 0 ? undefined : Buffer.concat(parts, size);
  }

  private async readStdout(proc: Process): Promise<void> {
    const stdout = proc.stdout;
    if (!stdout) return;
    const lines: string[] = [];
    const splitter = new Utf8Lines({
      line: (text) => lines.push(text),
      overlong: (bytes) => this.opts.events.rejected(`stdout line of ${bytes} bytes is over the ${MAX_OUTPUT_LINE}-byte limit`),
    });
    try {
      for await (const chunk of stdout) {
        splitter.push(chunk);
        this.publish(lines);
      }
    } catch {
      // killed: what was read is published below
    }
    splitter.end();
    this.publish(lines);
  }

  private publish(lines: string[]): void {
    if (lines.length === 0) return;
    const batch = lines.splice(0);
    if (this.state === 'closed') {
      this.log.limited('info', 'late-output', `${batch.length} stdout line(s) written after the plugin was stopped: not published`);
      return;
    }
    this.opts.events.output(() => {
      for (const line of batch) this.opts.host.emitDelta(line, 1);
    });
  }

  private async readStderr(proc: Process): Promise<void> {
    const stderr = proc.stderr;
    if (!stderr) return;
    const framer = new LineFramer({ line: (text) => this.stderrLog.line(text), error: () => undefined });
    try {
      for await (const chunk of stderr) framer.push(chunk);
    } catch {
      // killed
    }
    framer.end();
    this.stderrLog.flush();
  }

  /** Ends the program (after a grace period when stopping), writes the VFS back, releases the sandbox. */
  private async shutdown(): Promise<void> {
    const proc = this.proc;
    const ended = this.ended;
    if (proc && ended) {
      const grace = Math.min(this.opts.runawayMs, MAX_STOP_GRACE_MS);
      let timer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([ended.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), grace)))]);
      clearTimeout(timer);
      if (!finished) await proc.kill().catch(() => undefined);
    }
    await this.running;
    await this.ended;
    const sandbox = this.sandbox;
    try {
      if (sandbox && this.copiedIn) {
        const r = await copyOut(sandbox, this.opts.vfsRoot);
        if (r.written + r.removed > 0) this.log.debug(`VFS written back: ${r.written} file(s) written, ${r.removed} removed`);
      }
    } finally {
      await sandbox?.close().catch(() => undefined);
      await this.lease?.release();
    }
  }
}
