// Refused calls of one plugin: logged once per capability (a plugin retrying in a loop must not
// flood the log), counted, and listed in the plugin's REST status. A plugin asking for ever new
// names (devices, topics) must not grow the list or the log without bound either: past
// MAX_DISTINCT capabilities, further ones are counted together under OTHERS.

import type { Logger } from '../../core/log.js';

const MAX_DISTINCT = 64;
export const OTHERS = '(other capabilities)';
/** Names come from the plugin: shortened and stripped of control characters before they reach the log. */
const MAX_SHOWN = 200;

function printable(capability: string): string {
  const short = capability.length > MAX_SHOWN ? `${capability.slice(0, MAX_SHOWN)}…` : capability;
  // eslint-disable-next-line no-control-regex -- matching control characters is the point here
  return short.replace(/[\u0000-\u001f\u007f]/g, '?');
}

export interface Denial {
  /** What was asked for, as a grant string (`serial:/dev/ttyUSB0`, `mqtt:subscribe:#`). */
  capability: string;
  message: string;
  count: number;
  first: string;
  last: string;
}

export class DenialLog {
  private readonly byCapability = new Map<string, Denial>();

  constructor(
    private readonly pluginId: string,
    private readonly log: Logger,
  ) {}

  /** Records a refusal; returns the message given to the plugin. */
  deny(requested: string, call: string): string {
    const capability = printable(requested);
    const now = new Date().toISOString();
    const message = `${call} denied: ${capability} is not granted to ${this.pluginId} (grant it with: signalk-edge grant ${this.pluginId} ${capability})`;
    const seen =
      this.byCapability.get(capability) ??
      (this.byCapability.size >= MAX_DISTINCT ? this.others(message, now) : undefined);
    if (seen) {
      seen.count++;
      seen.last = now;
      seen.message = message;
      return message;
    }
    this.byCapability.set(capability, { capability, message, count: 1, first: now, last: now });
    this.log.warn(message);
    return message;
  }

  /** The shared entry for refusals past MAX_DISTINCT; logged once when it is made. */
  private others(message: string, now: string): Denial {
    let entry = this.byCapability.get(OTHERS);
    if (!entry) {
      entry = { capability: OTHERS, message, count: 0, first: now, last: now };
      this.byCapability.set(OTHERS, entry);
      this.log.warn(
        `${this.pluginId} was refused ${MAX_DISTINCT} different capabilities; further refusals are counted under "${OTHERS}" and not logged one by one`,
      );
    }
    return entry;
  }

  /** Grants changed: what was refused may be allowed now, and a new refusal is logged again. */
  clear(): void {
    this.byCapability.clear();
  }

  list(): Denial[] {
    return [...this.byCapability.values()].map((d) => ({ ...d }));
  }
}
