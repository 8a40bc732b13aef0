// The one reconnecting driver: serial ports, TCP and UDP sockets and SocketCAN interfaces come and
// go (USB unplugged, server restarted, interface down), and each is retried with exponential
// backoff until close(), saying why in lastError. A subclass makes one attempt and reports how it
// went with opened() or failed().

import { Backoff } from '../core/backoff.js';
import type { Logger } from '../core/log.js';
import { DriverBase } from './driver.js';

export interface RetryOptions {
  /** First retry delay (default 500 ms), doubling up to maxRetryMs (default 30 s). */
  retryMs?: number;
  maxRetryMs?: number;
}

export abstract class ReconnectingDriver<D = never> extends DriverBase<D> {
  private timer: NodeJS.Timeout | undefined;
  protected readonly backoff: Backoff;

  /** `name` says what is connected in log lines and errors (`/dev/ttyUSB0`, `udp :10110`, `can0`). */
  constructor(
    protected readonly name: string,
    retry: RetryOptions,
    private readonly log: Logger,
  ) {
    super();
    this.backoff = new Backoff(retry.retryMs ?? 500, retry.maxRetryMs ?? 30_000);
  }

  open(): void {
    if (this._state !== 'stopped') return;
    this.setState('connecting');
    this.attempt();
  }

  async close(): Promise<void> {
    this.setState('stopped');
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.release();
  }

  /** Starts one attempt; reports the outcome with opened() or failed(). */
  protected abstract attempt(): void;
  /** Lets go of the current connection, if any. */
  protected abstract release(): Promise<void>;

  protected get stopped(): boolean {
    return this._state === 'stopped';
  }

  /** The attempt succeeded; `how` completes the log line (`open at 4800 baud`). */
  protected opened(how = 'open'): void {
    this._lastError = undefined;
    this.log.info(`${this.name} ${how}`);
    this.setState('open');
  }

  /** What lastError says while the device is away; `reason` is why the last attempt failed. */
  protected failure(reason: string, delayMs: number): string {
    return `${reason}; retry in ${delayMs} ms`;
  }

  /** The attempt failed or the open connection was lost: retry after the next backoff delay. */
  protected failed(reason: string): void {
    if (this.stopped) return;
    const delay = this.backoff.next();
    this._lastError = this.failure(reason, delay);
    this.log.limited('warn', `lost:${this.name}`, `${this.name}: ${reason}; retry in ${delay} ms`, 30_000);
    this.setState('reconnecting');
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.attempt();
    }, delay);
  }
}
