// What the runtime sees of a data source: a HAL driver plus its codec, publishing onto the bus.

export type SourceState = 'connecting' | 'open' | 'reconnecting' | 'ended' | 'stopped';

export interface SourceStatus {
  id: string;
  type: string;
  state: SourceState;
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
