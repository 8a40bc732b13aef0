// The serial stream of a command plugin: the NMEA lines of one device, for its stdin. It is what a
// `serial_open` handle in lines mode is (the same grant check, shared device, bounded line queue
// and status), opened by the runtime from the manifest or configuration instead of by a call. A
// refusal is recorded through the DeviceHost (logged once, listed in the plugin's status); grants are
// re-checked when they change, so a grant given later opens the stream and a revoke closes it.

import type { DeviceHost, DeviceSession, HandleStatus } from './handles.js';
import { SerialHandle } from './serial.js';

const STREAM_HANDLE = 1;

export class SerialStream implements DeviceSession {
  private handle: SerialHandle | undefined;
  private closed = false;

  /**
   * `onData`: lines are queued; `report`: the stream's problem now (undefined once it is open),
   * for the plugin's status.
   */
  constructor(
    private readonly host: DeviceHost,
    readonly device: string,
    private readonly onData: () => void,
    private readonly report: (problem: string | undefined) => void,
  ) {}

  /** Opens the device when the plugin may read it; otherwise reports why not. */
  open(): void {
    if (this.handle || this.closed) return;
    const policy = this.host.policy();
    if (!policy.serial(this.device, false)) {
      this.report(`no serial stream on stdin: ${this.host.deny(`serial:${this.device}`, 'stdin stream')}`);
      return;
    }
    const path = policy.resolve(this.device);
    try {
      this.handle = new SerialHandle(this.host.devices.serial.acquire(path), true, false, this.onData);
    } catch (err) {
      this.report(`no serial stream on stdin: cannot open ${path}: ${(err as Error).message}`);
      return;
    }
    this.report(undefined);
  }

  /** The next queued line (without line end), taken off the queue. */
  takeLine(): Buffer | undefined {
    const line = this.handle?.peekLine();
    if (line !== undefined) this.handle!.takeLine();
    return line;
  }

  regrant(): void {
    if (this.closed) return;
    if (!this.handle) {
      this.open();
      return;
    }
    if (this.handle.stillGranted(this.host.policy())) return;
    // Revoked: closed, and open() records the refusal.
    this.closeHandle();
    this.open();
  }

  handles(): HandleStatus[] {
    return this.handle ? [this.handle.status(STREAM_HANDLE)] : [];
  }

  close(): void {
    this.closed = true;
    this.closeHandle();
  }

  private closeHandle(): void {
    const h = this.handle;
    this.handle = undefined;
    h?.close().catch(() => undefined);
  }
}
