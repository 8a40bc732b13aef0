// What the runtime sees of a data source: a driver feeding a pipeline (codec → bus), with one
// status for the API whatever the transport and codec.

import type { DriverState } from '../driver.js';
import type { SourcePipeline } from './pipeline.js';

export interface SourceStatus {
  id: string;
  type: string;
  state: DriverState;
  /** Framed lines (or frames) read from the driver. */
  lines: number;
  /** Deltas the codec produced and the bus accepted. */
  deltas: number;
  /** Input the codec refused, by reason (`checksum`, `truncated`, `garbage`, `overlong`, `unparsed`, ...). */
  errors: Record<string, number>;
  /** Valid input that produced no delta, by reason (`unsupported` sentence type, `empty` of data). */
  skipped?: Record<string, number>;
  lastError?: string;
  /** Devices that come and go: times the connection was lost, and how long it was down in all. */
  outages?: { count: number; downMs: number };
}

export interface DataSource {
  readonly id: string;
  start(): void;
  stop(): Promise<void>;
  status(): SourceStatus;
}

/** What a source needs from its driver (or its hold on a shared device): start, stop, where it stands. */
export interface SourceDriver {
  readonly state: DriverState;
  readonly lastError: string | undefined;
  /** Input the driver could not deliver to the pipeline, by reason (bad log lines, 11-bit frames). */
  readonly dropped?: Readonly<Record<string, number>>;
  /** What was missed while the device was away, for drivers of devices that come and go. */
  outages?(): { count: number; downMs: number };
  open(): void;
  close(): Promise<void>;
}

export class PipelineSource<I> implements DataSource {
  constructor(
    readonly id: string,
    private readonly type: string,
    private readonly pipeline: SourcePipeline<I>,
    private readonly driver: SourceDriver,
  ) {}

  start(): void {
    this.driver.open();
  }

  stop(): Promise<void> {
    return this.driver.close();
  }

  status(): SourceStatus {
    const p = this.pipeline;
    const errors = { ...p.errors };
    for (const [reason, n] of Object.entries(this.driver.dropped ?? {})) errors[reason] = (errors[reason] ?? 0) + n;
    const status: SourceStatus = {
      id: this.id,
      type: this.type,
      state: this.driver.state,
      lines: p.inputs,
      deltas: p.deltas,
      errors,
      skipped: { ...p.skipped },
    };
    // The driver's trouble (device absent, interface down) matters more than the last bad input.
    const lastError = this.driver.lastError ?? p.lastError;
    if (lastError !== undefined) status.lastError = lastError;
    const outages = this.driver.outages?.();
    if (outages) status.outages = outages;
    return status;
  }
}
