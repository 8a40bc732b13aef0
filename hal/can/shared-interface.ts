// A CAN source's hold on its interface, shared through CanInterfaces with the plugins granted it:
// taken on start, let go on stop; frames go to the source's pipeline.

import type { DriverState } from '../driver.js';
import type { InputSink } from '../sources/pipeline.js';
import type { SourceDriver } from '../sources/source.js';
import type { CanFrame } from './frame.js';
import type { CanInterfaces, CanLease } from './interfaces.js';

export class SharedCanInterface implements SourceDriver {
  private lease: CanLease | undefined;

  constructor(
    private readonly interfaces: CanInterfaces,
    private readonly iface: string,
    private readonly sink: InputSink<CanFrame>,
  ) {}

  get state(): DriverState {
    return this.lease?.state ?? 'stopped';
  }

  get lastError(): string | undefined {
    return this.lease?.lastError;
  }

  /** Malformed input the interface's driver dropped (bad log lines, 11-bit frames), by reason. */
  get dropped(): Readonly<Record<string, number>> {
    return this.lease?.dropped ?? {};
  }

  open(): void {
    if (this.lease) return;
    this.lease = this.interfaces.acquire(this.iface);
    this.lease.onFrame((frame) => this.sink.push(frame));
  }

  async close(): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    await lease?.release();
  }
}
