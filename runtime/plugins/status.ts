// What a plugin's status tells the operator (GET /plugins, the admin UI): the shape, and the
// report the runner keeps while the plugin runs: its status and error lines, delta counts, recent
// lifecycle events and PUT paths it was refused.

import type { Denial } from '../capabilities/denials.js';
import type { HandleStatus } from '../abi/devices/index.js';
import type { PluginSubscription } from './discovery.js';
import type { PluginState } from './lifecycle.js';
import type { QuotaStatus } from './quotas.js';

/** How many lifecycle events (and refused PUT paths) a status keeps, newest last. */
const HISTORY = 20;

export interface PluginEvent {
  at: string;
  event: string;
}

export interface PutRefusal {
  context: string;
  path: string;
  owner: string;
}

/** dropped: never delivered (inbox full, or discarded on crash/stop); feedbackDropped: emitted but cut (16-generation chain or fan-out budget). */
export interface DeltaCounts {
  received: number;
  emitted: number;
  rejected: number;
  dropped: number;
  feedbackDropped: number;
  lastRejection?: string;
}

export interface PluginStatus {
  id: string;
  name: string;
  packageName: string;
  version: string;
  description: string;
  state: PluginState;
  enabled: boolean;
  statusMessage: string;
  errorMessage: string;
  /** Crashes since the last stable run (the give-up counter). */
  crashes: number;
  /** Automatic restarts after crashes, in total. */
  restarts: number;
  /** Grant strings: what the manifest requests, what the operator granted, what is in effect; refused calls. */
  capabilities: { requested: string[]; granted: string[]; effective: string[]; denied: Denial[] };
  /** Open device handles with their queues. */
  hal: HandleStatus[];
  subscriptions: PluginSubscription[] | 'all';
  putHandlers: { context: string; path: string }[];
  /** Resource types it serves through the v2 resources API. */
  resourceProvider: string[];
  /** It serves the v2 weather API. */
  weatherProvider: boolean;
  /** It serves the v2 radar API. */
  radarProvider: boolean;
  /** Its own HTTP endpoints, served under /plugins/<id>. */
  httpEndpoints: { method: string; path: string }[];
  deltas: DeltaCounts;
  /** Use of limits.plugins: refusals per kind, paths and bytes kept, main-thread time and throttling. */
  quota: QuotaStatus;
  /** PUT paths this plugin asked for that another plugin owns. */
  putRefused: PutRefusal[];
  wasmPath: string;
  events: PluginEvent[];
}

/** The parts of a plugin's status the runner writes as things happen. */
export class PluginReport {
  statusMessage = '';
  errorMessage = '';
  readonly deltas: DeltaCounts = { received: 0, emitted: 0, rejected: 0, dropped: 0, feedbackDropped: 0 };
  private readonly events: PluginEvent[] = [];
  private readonly putRefused: PutRefusal[] = [];

  event(text: string): void {
    this.events.push({ at: new Date().toISOString(), event: text });
    if (this.events.length > HISTORY) this.events.shift();
  }

  /** Remembers a refused PUT path once (the first HISTORY of them). */
  refusedPut(refusal: PutRefusal): void {
    if (
      this.putRefused.length < HISTORY &&
      !this.putRefused.some((r) => r.context === refusal.context && r.path === refusal.path)
    )
      this.putRefused.push(refusal);
  }

  snapshot(): Pick<PluginStatus, 'statusMessage' | 'errorMessage' | 'deltas' | 'putRefused' | 'events'> {
    return {
      statusMessage: this.statusMessage,
      errorMessage: this.errorMessage,
      deltas: { ...this.deltas },
      putRefused: [...this.putRefused],
      events: [...this.events],
    };
  }
}
