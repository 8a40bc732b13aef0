// Operations that must not overlap (a plugin's lifecycle: start, stop, reload, new configuration)
// run one after another, each after the ones queued before it has settled.

export class OperationQueue {
  private chain: Promise<void> = Promise.resolve();

  /** `onFailure`: what happens to the failure of an operation nobody awaits (see enqueue). */
  constructor(private readonly onFailure: (err: unknown) => void) {}

  /** Runs `op` after the operations before it; the promise rejects when `op` fails (later operations run regardless). */
  run(op: () => Promise<void> | void): Promise<void> {
    const next = this.chain.then(op);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** As run(), for operations nobody awaits the outcome of: a failure goes to onFailure. */
  enqueue(op: () => Promise<void> | void): Promise<void> {
    return this.run(op).catch(this.onFailure);
  }
}
