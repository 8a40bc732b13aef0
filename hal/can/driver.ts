// The CAN driver contract (hal/driver.ts with frames): one open interface, shared by data sources
// and plugins through CanInterfaces (each adds its own frame listener).

import type { Driver } from '../driver.js';
import type { CanFrame } from './frame.js';

export interface CanDriver extends Driver<CanFrame> {
  /** Input the driver could not deliver as frames, by reason (bad log lines, 11-bit frames). */
  readonly dropped: Readonly<Record<string, number>>;
  /** Sends one frame; rejects when the interface is not open or cannot send. */
  send(frame: CanFrame): Promise<void>;
}
