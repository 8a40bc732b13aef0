// Refused calls of one plugin: logged once per capability (a plugin retrying in a loop must not
// flood the log), counted, and listed in the plugin's REST status.

import type { Logger } from '../log.js';

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
  deny(capability: string, call: string): string {
    const now = new Date().toISOString();
    const message = `${call} denied: ${capability} is not granted to ${this.pluginId} (grant it with: signalk-edge grant ${this.pluginId} ${capability})`;
    const seen = this.byCapability.get(capability);
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

  /** Grants changed: what was refused may be allowed now, and a new refusal is logged again. */
  clear(): void {
    this.byCapability.clear();
  }

  list(): Denial[] {
    return [...this.byCapability.values()].map((d) => ({ ...d }));
  }
}
