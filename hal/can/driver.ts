// The CAN driver contract, shaped like the serial ByteDriver: one open interface, shared by data
// sources and plugins through CanInterfaces (each adds its own frame listener).

import { Listeners } from '../../core/listeners.js';
import type { CanFrame } from './frame.js';

/** `ended`: a replay reached the end of its log. */
export type CanDriverState = 'connecting' | 'open' | 'reconnecting' | 'ended' | 'stopped';

export interface CanDriver {
  readonly state: CanDriverState;
  /** Why the interface is not open (absent, down, no CAN socket support), while reconnecting. */
  readonly lastError: string | undefined;
  /** Input the driver could not deliver as frames, by reason (bad log lines, 11-bit frames). */
  readonly dropped: Readonly<Record<string, number>>;
  /** Starts connecting; keeps reconnecting with backoff until close(). */
  open(): void;
  /** Closes the interface and cancels any pending reconnect. */
  close(): Promise<void>;
  /** Adds a listener for received frames; returns its removal. */
  onFrame(listener: (frame: CanFrame) => void): () => void;
  /** Adds a listener for state changes; returns its removal. */
  onState(listener: (state: CanDriverState) => void): () => void;
  /** Sends one frame; rejects when the interface is not open or cannot send. */
  send(frame: CanFrame): Promise<void>;
}

/** What every CAN driver keeps the same way: state with its listeners, frame listeners, drop counts. */
export abstract class CanDriverBase {
  protected _state: CanDriverState = 'stopped';
  protected _lastError: string | undefined;
  protected readonly counts: Record<string, number> = {};
  protected readonly frames = new Listeners<CanFrame>();
  private readonly states = new Listeners<CanDriverState>();

  get state(): CanDriverState {
    return this._state;
  }

  get lastError(): string | undefined {
    return this._lastError;
  }

  get dropped(): Readonly<Record<string, number>> {
    return this.counts;
  }

  onFrame(listener: (frame: CanFrame) => void): () => void {
    return this.frames.add(listener);
  }

  onState(listener: (state: CanDriverState) => void): () => void {
    return this.states.add(listener);
  }

  protected setState(state: CanDriverState): void {
    if (state === this._state) return;
    this._state = state;
    this.states.emit(state);
  }

  protected count(reason: string): void {
    this.counts[reason] = (this.counts[reason] ?? 0) + 1;
  }
}
