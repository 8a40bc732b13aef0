// The CAN driver contract (hal/driver.ts with frames): one open interface, shared by data sources
// and plugins through CanInterfaces (each adds its own frame listener).

import { Listeners } from '../../core/listeners.js';
import type { Driver, DriverState } from '../driver.js';
import type { CanFrame } from './frame.js';

export interface CanDriver extends Driver {
  /** Input the driver could not deliver as frames, by reason (bad log lines, 11-bit frames). */
  readonly dropped: Readonly<Record<string, number>>;
  /** Adds a listener for received frames; returns its removal. */
  onFrame(listener: (frame: CanFrame) => void): () => void;
  /** Sends one frame; rejects when the interface is not open or cannot send. */
  send(frame: CanFrame): Promise<void>;
}

/** What every CAN driver keeps the same way: state with its listeners, frame listeners, drop counts. */
export abstract class CanDriverBase {
  protected _state: DriverState = 'stopped';
  protected _lastError: string | undefined;
  protected readonly counts: Record<string, number> = {};
  protected readonly frames = new Listeners<CanFrame>();
  private readonly states = new Listeners<DriverState>();

  get state(): DriverState {
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
