// The CAN driver contract, shaped like the serial ByteDriver: one open interface, shared by data
// sources and plugins through CanInterfaces (each adds its own frame listener).

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

/** Listener bookkeeping shared by the drivers: copy-on-write lists, so a listener may remove itself. */
export class Listeners<T> {
  private list: ((value: T) => void)[] = [];

  add(listener: (value: T) => void): () => void {
    this.list = [...this.list, listener];
    return () => {
      this.list = this.list.filter((l) => l !== listener);
    };
  }

  emit(value: T): void {
    const ls = this.list;
    for (let i = 0; i < ls.length; i++) ls[i](value);
  }
}
