// CAN (NMEA 2000) for plugins (`can_*` in signalk_hal): frames of one interface, filtered by PGN.
// Grant rules: `can:<iface>` receives every PGN, `can:<iface>:<pgn,…>` only those (a filter the
// plugin asks for must lie within them), `can:<iface>:write` sends (checked at every send). A grant
// change narrows or widens an open handle's PGNs; one that leaves it none closes it.

import { decodeFrame, encodeFrame, FRAME_BYTES, pgnOf, type CanFrame } from '../../../hal/can/frame.js';
import type { CanLease } from '../../../hal/can/interfaces.js';
import type { CapabilityPolicy } from '../../capabilities/policy.js';
import { BoundedQueue } from '../../../core/bounded-queue.js';
import { DeviceError, queueStatus, type DeviceFamily, type DeviceHandle, type HandleStatus } from './handles.js';

const MAX_QUEUED_FRAMES = 10_000;

export const canFunctions: DeviceFamily = ({ host, memory, table }) => ({
  can_open(iPtr, iLen, pPtr, pLen) {
    const name = memory.readString(iPtr, iLen);
    if (name === undefined || name === '')
      return table.error(DeviceError.invalid, 'can_open: interface name out of bounds or empty');
    let wanted: number[] | undefined;
    if (pLen !== 0) {
      const text = memory.readString(pPtr, pLen);
      const parsed = text === undefined ? undefined : parsePgnList(text);
      if (parsed === undefined)
        return table.error(DeviceError.invalid, 'can_open: PGN filter must be a JSON array of PGN numbers');
      wanted = parsed;
    }
    const policy = host.policy();
    const allowed = policy.canPgns(name);
    if (allowed === undefined) return table.denied(`can:${name}${wanted ? `:${wanted.join(',')}` : ''}`, 'can_open');
    const outside = wanted && allowed !== 'all' ? wanted.filter((p) => !allowed.has(p)) : [];
    if (outside.length > 0) return table.denied(`can:${name}:${outside.join(',')}`, 'can_open');
    const asked = wanted ? new Set(wanted) : undefined;
    return table.openWith(
      'can_open',
      name,
      () =>
        new CanHandle(host.devices.can.acquire(policy.resolve(name)), asked, canFilter(asked, allowed), host.dataReady),
    );
  },

  can_read(n, buf, max) {
    const h = table.lookup<CanHandle>(n, 'can', 'can_read');
    if (typeof h === 'number') return h;
    const out = memory.view(buf, max);
    if (!out) return table.error(DeviceError.invalid, 'can_read: buffer out of bounds');
    if (max < FRAME_BYTES)
      return table.error(DeviceError.tooSmall, `can_read: a frame takes ${FRAME_BYTES} bytes, buffer holds ${max}`);
    let frames = 0;
    for (let off = 0; off + FRAME_BYTES <= max; off += FRAME_BYTES) {
      const frame = h.take();
      if (!frame) break;
      encodeFrame(frame, out, off);
      frames++;
    }
    return frames;
  },

  can_send(n, ptr, len) {
    const h = table.lookup<CanHandle>(n, 'can', 'can_send');
    if (typeof h === 'number') return h;
    if (!host.policy().canWrite(h.target)) return table.denied(`can:${h.target}:write`, 'can_send');
    const bytes = len === FRAME_BYTES ? memory.view(ptr, len) : undefined;
    const frame = bytes === undefined ? undefined : decodeFrame(bytes, 0);
    if (!frame)
      return table.error(DeviceError.invalid, `can_send: needs one ${FRAME_BYTES}-byte frame (id, length ≤ 8, data)`);
    table.writeAsync(`can_send ${h.target} PGN ${pgnOf(frame.id)}`, h.send(frame));
    return 0;
  },

  can_close: table.closer('can', 'can_close'),
});

export class CanHandle implements DeviceHandle {
  readonly kind = 'can';
  private readonly frames = new BoundedQueue<CanFrame>(MAX_QUEUED_FRAMES);
  private unlisten: () => void;

  /** `wanted`: the PGNs the plugin asked for (undefined: all it may see); `pgns`: the filter in force. */
  constructor(
    private readonly lease: CanLease,
    readonly wanted: ReadonlySet<number> | undefined,
    pgns: ReadonlySet<number> | undefined,
    private readonly onData: () => void,
  ) {
    this.unlisten = this.listen(pgns);
  }

  private listen(pgns: ReadonlySet<number> | undefined): () => void {
    return this.lease.onFrame((frame) => {
      this.frames.push(frame);
      this.onData();
    }, pgns);
  }

  get target(): string {
    return this.lease.iface;
  }

  get lastError(): string | undefined {
    return this.lease.lastError;
  }

  /** Refilters to what the grants allow now; false when they allow nothing this handle asked for. */
  stillGranted(policy: CapabilityPolicy): boolean {
    const allowed = policy.canPgns(this.target);
    if (allowed === undefined) return false;
    const filter = canFilter(this.wanted, allowed);
    if (filter !== undefined && filter.size === 0) return false;
    this.unlisten();
    this.unlisten = this.listen(filter);
    return true;
  }

  take(): CanFrame | undefined {
    return this.frames.shift();
  }

  send(frame: CanFrame): Promise<void> {
    return this.lease.send(frame);
  }

  status(handle: number): HandleStatus {
    return queueStatus(this.frames, handle, 'can', this.target);
  }

  async close(): Promise<void> {
    this.unlisten();
    await this.lease.release();
  }
}

/** The PGNs a handle receives: what it asked for within what is allowed (undefined = every PGN). */
function canFilter(
  wanted: ReadonlySet<number> | undefined,
  allowed: ReadonlySet<number> | 'all',
): ReadonlySet<number> | undefined {
  if (allowed === 'all') return wanted;
  return wanted ? new Set([...wanted].filter((p) => allowed.has(p))) : allowed;
}

function parsePgnList(text: string): number[] | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (
    !Array.isArray(v) ||
    v.length === 0 ||
    v.some((p) => !Number.isInteger(p) || (p as number) < 0 || (p as number) > 0x3ffff)
  )
    return undefined;
  return v as number[];
}
