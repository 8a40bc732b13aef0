// The downstream half shared by the line and frame targets: bus → model, with the checks a
// decoded delta must pass there. Sources hand codec deltas to the bus as trusted (no validation);
// here each goes through the full validation of untrusted input instead, which it must pass: that
// is what justifies the trust. The model must take it, and its JSON (what every subscriber sends)
// must encode.

import { DeltaBus } from '../../../runtime/bus/bus.js';
import type { Delta } from '../../../core/delta.js';
import { SignalKModel } from '../../../runtime/model/model.js';
import { TEST_SELF_URN } from '../../helpers/runtime.js';
import { Finding, expect } from '../harness.js';

export class Downstream {
  readonly bus = new DeltaBus(`vessels.${TEST_SELF_URN}`);
  readonly model = new SignalKModel(TEST_SELF_URN);
  private failure: string | undefined;

  constructor() {
    // Listeners are isolated by the bus (a throw is logged, not raised), so failures are caught
    // here to become findings.
    this.bus.subscribe((msg) => {
      try {
        this.model.apply(msg.delta);
      } catch (err) {
        this.failure = `model.apply threw ${(err as Error).name}: ${(err as Error).message}`;
      }
      try {
        JSON.parse(msg.json);
      } catch (err) {
        this.failure = `the bus could not encode an accepted delta as JSON: ${(err as Error).message}`;
      }
    });
  }

  /** Publishes a delta a codec produced; it must be accepted and applied. */
  publish(delta: Delta, origin: string): void {
    this.failure = undefined;
    const refused = this.bus.publish(delta, origin);
    expect(refused === undefined, () => `the bus refused a delta the codec produced: ${refused}`);
    if (this.failure !== undefined) throw new Finding('property', this.failure);
  }

  /** The REST view of the whole model must encode (what GET /signalk/v1/api/ sends). */
  checkSnapshot(): void {
    try {
      JSON.stringify(this.model.full());
    } catch (err) {
      throw new Finding('property', `the model no longer encodes as JSON: ${(err as Error).message}`);
    }
  }
}
