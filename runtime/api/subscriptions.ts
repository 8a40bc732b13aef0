// Subscribe and unsubscribe messages of the Signal K stream, read from untrusted JSON into rows,
// with defaults as signalk-server applies them:
//   no policy: `minPeriod` → instant (throttled), `period` → fixed, neither → instant.
//   fixed: the latest values every `period`; instant: on change, at most once per `minPeriod`;
//   ideal: as instant, plus the latest value again when a path has been silent for `period`.

import { contextMatcher, matchesPattern } from '../bus/subscription.js';
import { isRecord } from '../../core/json.js';

export type Policy = 'instant' | 'ideal' | 'fixed';

export interface SubscriptionRow {
  /** The context pattern as the client wrote it (`vessels.self`, `*`, `vessels.urn:mrn:*`). */
  context: string;
  matchContext: (context: string) => boolean;
  path: string;
  policy: Policy;
  /** ms; used by fixed and ideal. */
  period: number;
  /** ms; 0 = no throttling. Used by instant and ideal. */
  minPeriod: number;
}

export const DEFAULT_PERIOD_MS = 1000;
/** Shorter periods would turn a fixed subscription into a busy loop. */
export const MIN_PERIOD_MS = 10;
/** Rows one client may hold at a time. */
export const MAX_ROWS = 1000;
/** Longer periods are lowered to this: timers cannot wait past 2^31-1 ms and would fire at once, every millisecond. */
export const MAX_PERIOD_MS = 86_400_000;

export type ParsedSubscribe = { rows: SubscriptionRow[]; warnings: string[] } | { error: string };

const POLICIES: readonly Policy[] = ['instant', 'ideal', 'fixed'];

/** A client's value as an error quotes it: scalars as JSON (cut), a list or object by kind only (it may nest deeper than JSON.stringify can go). */
function shown(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object' && v !== null) return 'an object';
  const text = String(JSON.stringify(v));
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

/** `self` and an absent context mean the self vessel, as `vessels.self` does. */
function contextPattern(raw: unknown): string | undefined {
  if (raw === undefined || raw === 'self') return 'vessels.self';
  return typeof raw === 'string' && raw !== '' ? raw : undefined;
}

function milliseconds(raw: unknown, name: string, where: string, warnings: string[]): number | undefined {
  if (raw === undefined) return undefined;
  const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) {
    warnings.push(`${where}.${name} must be a number of milliseconds, got ${shown(raw)}: ignored`);
    return undefined;
  }
  if (n > MAX_PERIOD_MS) {
    warnings.push(`${where}.${name} ${n} lowered to ${MAX_PERIOD_MS} ms`);
    return MAX_PERIOD_MS;
  }
  if (n > 0 && n < MIN_PERIOD_MS) {
    warnings.push(`${where}.${name} ${n} raised to ${MIN_PERIOD_MS} ms`);
    return MIN_PERIOD_MS;
  }
  return n;
}

/** Reads `{context, subscribe: [{path, period, minPeriod, policy, format}]}`. */
export function parseSubscribe(msg: Record<string, unknown>, selfContext: string): ParsedSubscribe {
  const context = contextPattern(msg.context);
  if (context === undefined)
    return { error: `subscribe: context must be a non-empty string, got ${shown(msg.context)}` };
  if (!Array.isArray(msg.subscribe))
    return { error: 'subscribe must be an array of {path, period?, minPeriod?, policy?, format?}' };
  if (msg.subscribe.length > MAX_ROWS) return { error: `subscribe: at most ${MAX_ROWS} rows` };
  const matchContext = contextMatcher(context, selfContext);
  const warnings: string[] = [];
  const rows: SubscriptionRow[] = [];
  msg.subscribe.forEach((raw: unknown, i: number) => {
    const where = `subscribe[${i}]`;
    if (!isRecord(raw) || typeof raw.path !== 'string' || raw.path === '') {
      warnings.push(`${where} must be an object with a non-empty string path: ignored`);
      return;
    }
    if (raw.format !== undefined && raw.format !== 'delta')
      warnings.push(`${where}: only format "delta" is supported, using it`);
    let policy: Policy | undefined;
    if (raw.policy !== undefined) {
      if (POLICIES.includes(raw.policy as Policy)) policy = raw.policy as Policy;
      else
        warnings.push(
          `${where}.policy must be one of ${POLICIES.join(', ')}, got ${shown(raw.policy)}: using the default`,
        );
    }
    const period = milliseconds(raw.period, 'period', where, warnings);
    const minPeriod = milliseconds(raw.minPeriod, 'minPeriod', where, warnings);
    policy ??= minPeriod ? 'instant' : period ? 'fixed' : 'instant';
    rows.push({
      context,
      matchContext,
      path: raw.path,
      policy,
      period: period || DEFAULT_PERIOD_MS,
      minPeriod: policy === 'fixed' ? 0 : (minPeriod ?? 0),
    });
  });
  return { rows, warnings };
}

export type ParsedUnsubscribe = { all: true } | { all: false; context: string; paths: string[] } | { error: string };

/**
 * Reads `{context, unsubscribe: [{path}]}`. `{"context":"*","unsubscribe":[{"path":"*"}]}` ends every
 * subscription (the only form signalk-server accepts); any other form removes the rows with exactly
 * that context and path.
 */
export function parseUnsubscribe(msg: Record<string, unknown>): ParsedUnsubscribe {
  const context = contextPattern(msg.context);
  if (context === undefined)
    return { error: `unsubscribe: context must be a non-empty string, got ${shown(msg.context)}` };
  if (!Array.isArray(msg.unsubscribe) || msg.unsubscribe.length === 0)
    return { error: 'unsubscribe must be a non-empty array of {path}' };
  const paths: string[] = [];
  for (const raw of msg.unsubscribe as unknown[]) {
    if (!isRecord(raw) || typeof raw.path !== 'string' || raw.path === '')
      return { error: 'unsubscribe rows must be objects with a non-empty string path' };
    paths.push(raw.path);
  }
  if (context === '*' && paths.includes('*')) return { all: true };
  return { all: false, context, paths };
}

/** Timer firings per second a row costs: fixed rows tick once a period, ideal rows twice (session.ts). */
export function timerRate(row: SubscriptionRow): number {
  if (row.policy === 'fixed') return 1000 / row.period;
  if (row.policy === 'ideal') return 2000 / row.period;
  return 0;
}

/** Whether a row wants a value at `path` in `context`. */
export function rowMatches(row: SubscriptionRow, context: string, path: string): boolean {
  return row.matchContext(context) && matchesPattern(row.path, path);
}
