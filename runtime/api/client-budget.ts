// The outbound-buffer budget shared by all stream clients. Each client may hold up to its own
// bound (session.ts drops above it), but hundreds of clients that never read would together hold
// hundreds of megabytes. Bytes handed to sockets are added to an estimate; when the estimate
// passes the budget, the real amount waiting (every client's bufferedAmount) is summed and the
// clients holding the most are disconnected until the rest fits, counted and logged. Draining
// clients lower the real amount, so the estimate is reset to it at each check.

import type { Logger } from '../../core/log.js';

/** What the budget needs of a client. */
export interface BudgetedClient {
  readonly id: string;
  /** Bytes waiting to be written to this client. */
  buffered(): number;
  /** Disconnects at once, freeing what waits for it. */
  evict(reason: string): void;
}

export class OutboundBudget {
  private estimate = 0;
  /** Clients disconnected to keep the total under the budget. */
  evicted = 0;

  constructor(
    readonly maxBytes: number,
    private readonly clients: () => Iterable<BudgetedClient>,
    private readonly log: Logger,
  ) {}

  /** `bytes` were handed to a client's socket. */
  charge(bytes: number): void {
    this.estimate += bytes;
    if (this.estimate > this.maxBytes) this.enforce();
  }

  private enforce(): void {
    const all = [...this.clients()].map((c) => ({ c, bytes: c.buffered() }));
    let total = all.reduce((sum, x) => sum + x.bytes, 0);
    if (total > this.maxBytes) {
      all.sort((a, b) => b.bytes - a.bytes);
      for (const { c, bytes } of all) {
        if (total <= this.maxBytes) break;
        total -= bytes;
        this.evicted++;
        this.log.warn(
          `stream client ${c.id} disconnected: ${bytes} bytes waiting, all clients together over the ${this.maxBytes}-byte budget (limits.stream.totalBufferBytes); ${this.evicted} evicted so far`,
        );
        c.evict('server send budget exceeded: slowest clients disconnected first');
      }
    }
    this.estimate = total;
  }
}
