// Bounds how long synchronous plugin code may run on the main thread. The only way Node offers to
// stop running JavaScript or WebAssembly on its own thread is a vm script timeout (a watchdog
// thread terminates execution, which also interrupts a wasm loop), so a guarded call runs as
// `job()` inside one tiny vm context. Each guarded run starts a watchdog thread (~50-100 µs, see
// docs/decisions/0034-batched-guarded-delivery.md), so callers batch many plugin calls into one run.

import vm from 'node:vm';

/** A plugin call ran past the bound and was stopped. */
export class CallTimeoutError extends Error {
  constructor(
    readonly timeoutMs: number,
    what: string,
  ) {
    super(`${what} did not return within ${timeoutMs} ms (plugins.callTimeoutMs) and was stopped`);
    this.name = 'CallTimeoutError';
  }
}

function isScriptTimeout(err: unknown): boolean {
  // Thrown from the vm context's realm, so not `instanceof Error` here: compare the code.
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT';
}

export class CallGuard {
  private readonly context = vm.createContext({ job: undefined as (() => unknown) | undefined });
  private readonly script = new vm.Script('job()', { filename: 'signalk-edge:call-guard' });
  private depth = 0;

  constructor(readonly timeoutMs: number) {}

  /**
   * Runs `fn` and returns its result; rethrows what it throws; throws CallTimeoutError naming
   * `what` when it runs longer than the bound (a function: asked then, for a run of several calls).
   * A run nested in another is covered by the outer one.
   */
  run<T>(fn: () => T, what: string | (() => string)): T {
    if (this.depth > 0) return fn();
    this.depth++;
    this.context.job = fn;
    try {
      return this.script.runInContext(this.context, { timeout: this.timeoutMs }) as T;
    } catch (err) {
      if (isScriptTimeout(err)) throw new CallTimeoutError(this.timeoutMs, typeof what === 'string' ? what : what());
      throw err;
    } finally {
      this.context.job = undefined;
      this.depth--;
    }
  }
}
