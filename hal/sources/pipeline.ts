// The one source pipeline: each input a driver delivers (a framed line, a CAN frame, a gateway
// message) goes through the source's codec; deltas are published, everything else is counted by
// reason for the status API, and errors are logged at most once per reason and interval.

import type { DeltaSink } from '../../core/delta.js';
import { createLogger } from '../../core/log.js';
import type { Codec } from '../codecs/codec.js';

const log = createLogger('source');

/** What a driver feeds: inputs, and input it could not frame (`overlong`, `garbage`), by reason. */
export interface InputSink<I> {
  push(input: I): void;
  error(reason: string, detail: string): void;
}

/** A line quoted in a log message, cut to keep the journal readable. */
function sample(input: unknown): string {
  if (typeof input !== 'string') return '';
  return ` in ${JSON.stringify(input.length > 100 ? `${input.slice(0, 100)}...` : input)}`;
}

/** Counts and publishes what the codec makes of each input; never throws. */
export class SourcePipeline<I> implements InputSink<I> {
  /** Inputs read from the driver (lines or frames). */
  inputs = 0;
  deltas = 0;
  readonly errors: Record<string, number> = {};
  readonly skipped: Record<string, number> = {};
  lastError: string | undefined;

  constructor(
    readonly id: string,
    private readonly codec: Codec<I>,
    private readonly sink: DeltaSink,
  ) {}

  push(input: I): void {
    this.inputs++;
    const result = this.codec.decode(input);
    if (result.kind === 'delta') {
      this.sink.publishTrusted(result.delta, this.codec.encoder);
      this.deltas++;
    } else if (result.kind === 'skip') {
      this.skipped[result.reason] = (this.skipped[result.reason] ?? 0) + 1;
    } else if (result.kind === 'error') {
      this.fail(result.reason, result.detail, sample(input));
    }
  }

  error(reason: string, detail: string): void {
    this.fail(reason, detail, '');
  }

  private fail(reason: string, detail: string, quoted: string): void {
    this.errors[reason] = (this.errors[reason] ?? 0) + 1;
    this.lastError = `${reason}: ${detail}`;
    log.limited('warn', `${this.id}:${reason}`, `${this.id}: ${reason}: ${detail}${quoted}`);
  }
}
