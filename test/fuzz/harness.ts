// What a fuzz target is, and the helpers every target shares: a Finding for a violated property,
// normalised outcome labels (so "checksum 3F, computed 41" and "checksum 00, computed 12" count as
// one outcome), and a bounded outcome tally.

import type { Rng } from './rng.js';

/** One fuzz target, made once per run by its module's `create()`. */
export interface FuzzTarget {
  /** The next input, as bytes (text targets give UTF-8 or latin1 text). */
  generate(rng: Rng): Uint8Array;
  /**
   * Feeds one input through the code under test. Returns the outcome labels (one per line, frame
   * or message); throws a Finding when a property is violated. Any other exception escaping is a
   * crash finding.
   */
  run(input: Uint8Array): string[] | Promise<string[]>;
  close(): Promise<void>;
}

export interface TargetModule {
  readonly name: string;
  /** One line for the summary and the docs. */
  readonly covers: string;
  create(): Promise<FuzzTarget>;
}

export type FindingKind =
  'crash' | 'property' | 'hang' | 'slow' | 'unhandled-rejection' | 'uncaught-exception' | 'warning' | 'error-log';

/** A violated property: what the code under test must never do, with what it did. */
export class Finding extends Error {
  constructor(
    readonly kind: FindingKind,
    message: string,
  ) {
    super(message);
    this.name = 'Finding';
  }
}

/** Throws a property Finding unless `ok`. */
export function expect(ok: boolean, message: () => string): void {
  if (!ok) throw new Finding('property', message());
}

/** A reason text with its variable parts blanked, for counting distinct outcomes. */
export function normalize(text: string): string {
  return text
    .replace(/"(?:[^"\\]|\\.)*"/g, '"…"')
    .replace(/\b(?=[0-9A-Fa-f]*\d)[0-9A-Fa-f]{2,}\b/g, 'N')
    .replace(/\d+(\.\d+)?/g, 'N')
    .slice(0, 120);
}

export const OTHER_OUTCOMES = '(other)';

/** Counts labels; beyond `limit` distinct ones, new labels count under OTHER_OUTCOMES. */
export class Tally {
  readonly counts = new Map<string, number>();
  constructor(private readonly limit = 2000) {}
  add(label: string): void {
    const key = this.counts.has(label) || this.counts.size < this.limit ? label : OTHER_OUTCOMES;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
}
