// Exponential backoff for reconnecting to a device: base, 2×base, 4×base ... capped at max.

export class Backoff {
  private attempts = 0;

  constructor(
    readonly baseMs = 500,
    readonly maxMs = 30_000,
  ) {}

  /** The delay before the next attempt; each call doubles the following one. */
  next(): number {
    const delay = Math.min(this.baseMs * 2 ** this.attempts, this.maxMs);
    if (delay < this.maxMs) this.attempts++;
    return delay;
  }

  reset(): void {
    this.attempts = 0;
  }
}
