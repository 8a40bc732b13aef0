// Publishes deltas that plugins emitted. Publishing is synchronous and a plugin that receives a
// delta may emit more: those are appended to the queue being drained instead of recursing, so a
// chain of plugins feeding each other runs breadth-first at constant stack depth. Two plugins that
// answer each other's output forever would still stall the process, so a chain is cut after
// MAX_GENERATIONS (a delta from outside is generation 0, a plugin's answer to it generation 1...).

import type { DeltaBus } from '../bus/bus.js';
import type { Delta } from '../bus/delta.js';
import { createLogger } from '../log.js';

const log = createLogger('plugins');
export const MAX_GENERATIONS = 16;

export class EmittedDeltaPublisher {
  private queue: { delta: Delta; origin: string; generation: number }[] = [];
  private draining = false;
  private generation = 0;

  constructor(private readonly bus: DeltaBus) {}

  publish(deltas: Delta[], origin: string): void {
    const generation = this.draining ? this.generation + 1 : 1;
    if (generation > MAX_GENERATIONS) {
      log.limited('warn', `loop:${origin}`, `${origin}: delta dropped, it continues a chain of ${MAX_GENERATIONS} plugin outputs answering each other (feedback loop)`);
      return;
    }
    for (const delta of deltas) this.queue.push({ delta, origin, generation });
    if (this.draining) return;
    this.draining = true;
    try {
      for (let i = 0; i < this.queue.length; i++) {
        const next = this.queue[i];
        this.generation = next.generation;
        this.bus.publish(next.delta, next.origin);
      }
    } finally {
      this.queue = [];
      this.draining = false;
      this.generation = 0;
    }
  }
}
