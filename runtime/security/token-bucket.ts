// A token bucket: `rate` tokens per second, holding at most `burst`. The one rate-limit helper of
// the bounds (subscription rows, plugin bytes, log lines, config writes, CPU time).

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
  }

  /** Takes `n` tokens when there are that many; false (nothing taken) otherwise. */
  take(n = 1): boolean {
    this.refill();
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /** Takes `n` tokens whatever is left (the bucket may go negative: time already spent). */
  charge(n: number): void {
    this.refill();
    this.tokens -= n;
  }

  /** Tokens available now (negative after an overdraft). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  /** Milliseconds until at least `n` tokens are there (0 when they are). */
  msUntil(n: number): number {
    const missing = n - this.available();
    return missing <= 0 ? 0 : Math.ceil((missing / this.rate) * 1000);
  }
}
