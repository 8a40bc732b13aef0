// The codec contract: one input (a line, a CAN frame, a gateway message) in, one result out. A
// codec never throws and keeps its own per-stream state (multi-sentence groups, fast packets), so
// a source has one codec of its own.

import type { Delta, DeltaEncoder } from '../../core/delta.js';

export type DecodeResult =
  | { kind: 'delta'; delta: Delta }
  /** Valid input that carries nothing to publish (an unsupported sentence, an unknown PGN). */
  | { kind: 'skip'; reason: string; detail: string }
  /** Input refused (bad checksum, truncated, unparsable), counted by reason. */
  | { kind: 'error'; reason: string; detail: string }
  /** Input taken in; the message completes with later input (an NMEA 2000 fast packet). */
  | { kind: 'pending' };

export interface Codec<I> {
  decode(input: I): DecodeResult;
  /** Encodes the deltas this codec built, when it knows a faster way than JSON.stringify. */
  readonly encoder?: DeltaEncoder;
}
