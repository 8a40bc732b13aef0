// The one driver contract: every device a source or a plugin reads (serial port, socket, CAN
// interface, replayed log) opens, closes, reports its state and delivers its data the same way, so
// one open device can be shared by a data source and the plugins granted it (each adds listeners).

import { Listeners } from '../core/listeners.js';

/** `ended`: a replay reached the end of its log. `reconnecting`: the device is away, retried with backoff. */
export type DriverState = 'connecting' | 'open' | 'reconnecting' | 'ended' | 'stopped';

export interface Driver<D> {
  readonly state: DriverState;
  /** Why the device is not open (absent, unplugged, refused), while reconnecting or after it failed. */
  readonly lastError: string | undefined;
  /** Starts connecting; keeps reconnecting with backoff until close(). */
  open(): void;
  /** Closes the device and cancels any pending reconnect. */
  close(): Promise<void>;
  /** Adds a listener for state changes; returns its removal. */
  onState(listener: (state: DriverState) => void): () => void;
  /** Adds a listener for what the device delivers (byte chunks, CAN frames); returns its removal. */
  onData(listener: (data: D) => void): () => void;
}

/** A byte stream device (serial port): received chunks out, bytes in. */
export interface ByteDriver extends Driver<Buffer> {
  /** Writes bytes; rejects when the device is not open. */
  write(data: string | Uint8Array): Promise<void>;
}

/** Where a transport puts the bytes it reads: a framer, which cuts them into lines or frames. */
export interface ByteSink {
  push(chunk: Uint8Array): void;
  /** The stream broke off (end of a datagram or file, connection lost): flush what is pending. */
  end(): void;
}

/**
 * What every driver keeps the same way: its state and last error with their listeners, data
 * listeners, and counts of input it dropped. `D` is what it delivers (byte chunks, CAN frames);
 * `never` for a source's own driver that hands its bytes straight to the source's framer.
 */
export abstract class DriverBase<D = never> {
  protected _state: DriverState = 'stopped';
  protected _lastError: string | undefined;
  protected readonly data = new Listeners<D>();
  private readonly states = new Listeners<DriverState>();
  private readonly counts: Record<string, number> = {};

  get state(): DriverState {
    return this._state;
  }

  get lastError(): string | undefined {
    return this._lastError;
  }

  /** Input the driver could not deliver (bad log lines, 11-bit frames), by reason. */
  get dropped(): Readonly<Record<string, number>> {
    return this.counts;
  }

  onData(listener: (data: D) => void): () => void {
    return this.data.add(listener);
  }

  onState(listener: (state: DriverState) => void): () => void {
    return this.states.add(listener);
  }

  protected setState(state: DriverState): void {
    if (state === this._state) return;
    this._state = state;
    this.states.emit(state);
  }

  protected count(reason: string): void {
    this.counts[reason] = (this.counts[reason] ?? 0) + 1;
  }
}
