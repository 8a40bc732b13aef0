// What the UDP and TCP drivers share: the state a source reports, and retrying a failed socket
// with exponential backoff (hal/serial/backoff.ts) until close().

import { createLogger } from '../../core/log.js';
import { Backoff } from '../../core/backoff.js';
import type { DriverState } from '../driver.js';

const log = createLogger('net');

export interface RetryOptions {
  /** First retry delay (default 500 ms), doubling up to maxRetryMs (default 30 s). */
  retryMs?: number;
  maxRetryMs?: number;
}

export abstract class ReconnectingDriver {
  private _state: DriverState = 'stopped';
  private _lastError: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  protected readonly backoff: Backoff;

  /** `name` says what is connected in log lines and errors (`udp :10110`, `tcp 10.0.0.5:10110`). */
  constructor(
    protected readonly name: string,
    retry: RetryOptions,
  ) {
    this.backoff = new Backoff(retry.retryMs ?? 500, retry.maxRetryMs ?? 30_000);
  }

  get state(): DriverState {
    return this._state;
  }

  get lastError(): string | undefined {
    return this._lastError;
  }

  open(): void {
    if (this._state !== 'stopped') return;
    this._state = 'connecting';
    this.attempt();
  }

  async close(): Promise<void> {
    this._state = 'stopped';
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.release();
  }

  /** Starts one attempt; reports the outcome with opened() or failed(). */
  protected abstract attempt(): void;
  /** Closes the current socket, if any. */
  protected abstract release(): Promise<void>;

  protected get stopped(): boolean {
    return this._state === 'stopped';
  }

  protected opened(): void {
    this._lastError = undefined;
    this._state = 'open';
    log.info(`${this.name} open`);
  }

  /** The socket failed or closed: retry after the next backoff delay. */
  protected failed(reason: string): void {
    if (this.stopped) return;
    const delay = this.backoff.next();
    this._lastError = `${reason}; retry in ${delay} ms`;
    log.limited('warn', `lost:${this.name}`, `${this.name}: ${this._lastError}`, 30_000);
    this._state = 'reconnecting';
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.attempt();
    }, delay);
  }
}
