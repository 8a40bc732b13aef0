// The MQTT bridge: a delta-bus subscriber that publishes selected values to topics, and topic
// subscriptions whose messages become values on the self vessel (source label `mqtt`).
//
// Out: each value whose context and path match a rule goes to the rule's topic template, `{id}`
// replaced by the context's id (`vessels.urn:mrn:imo:mmsi:230000001` → `230000001`, other roots keep
// theirs: `atons.urn:mrn:imo:mmsi:992351000` → `atons.992351000`) and `{path}` by the path with `/`
// for `.`; the payload is the value as JSON. Values that came in through the bridge are not sent
// out again, so a rule cannot echo a subscribed topic back into itself.
// In: the payload is JSON (any JSON value) or a plain number (`+5`, `.5`, `12.`); anything else
// is counted by reason and skipped.

import type { DeltaBus } from '../bus/bus.js';
import type { Delta } from '../../core/delta.js';
import type { JsonValue } from '../../core/json.js';
import { contextMatcher, matchesPattern, memoize } from '../bus/subscription.js';
import { createLogger } from '../../core/log.js';
import type { MqttConnection } from '../../hal/net/mqtt-connection.js';
import type { MqttPublishRule, MqttSubscribeRule } from './settings.js';
import { topicError } from '../../hal/net/topic-filter.js';

const log = createLogger('mqtt-bridge');

export const BRIDGE_SOURCE_LABEL = 'mqtt';
/** Larger payloads are refused: a sensor value is a few bytes, a runaway publisher is not. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

export interface MqttBridgeStatus {
  /** Values sent out: published (broker has them), failed (dropped or refused), skipped (no valid topic). */
  out: { published: number; failed: number; skipped: number };
  /** Messages in: received, applied to the model, invalid by reason (`empty`, `not UTF-8`, `not JSON`, `too large`, `rejected`). */
  in: { received: number; applied: number; invalid: Record<string, number> };
  lastError?: string;
}

export interface MqttBridgeOptions {
  bus: DeltaBus;
  connection: MqttConnection;
  selfContext: string;
  publish: MqttPublishRule[];
  subscribe: MqttSubscribeRule[];
}

/** The `{id}` of a context: the last `:` part of its urn, with the root kept except for vessels. */
export function contextId(context: string): string {
  const dot = context.indexOf('.');
  if (dot < 0) return context;
  const root = context.slice(0, dot);
  const rest = context.slice(dot + 1);
  const id = rest.slice(rest.lastIndexOf(':') + 1);
  return root === 'vessels' ? id : `${root}.${id}`;
}

export function topicFor(template: string, context: string, path: string): string {
  return template.replaceAll('{id}', contextId(context)).replaceAll('{path}', path.replaceAll('.', '/'));
}

const PLAIN_NUMBER = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

type Parsed = { ok: true; value: JsonValue } | { ok: false; reason: string; detail: string };

/** A message payload as a value: JSON, or a plain number JSON does not accept. */
export function parsePayload(payload: Buffer): Parsed {
  if (payload.length === 0) return { ok: false, reason: 'empty', detail: 'empty payload' };
  if (payload.length > MAX_PAYLOAD_BYTES)
    return { ok: false, reason: 'too large', detail: `${payload.length} bytes, limit ${MAX_PAYLOAD_BYTES}` };
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    return { ok: false, reason: 'not UTF-8', detail: `${payload.length} bytes that are not UTF-8 text` };
  }
  try {
    return { ok: true, value: JSON.parse(text) as JsonValue };
  } catch {
    if (PLAIN_NUMBER.test(text)) return { ok: true, value: Number(text) };
    const sample = text.length > 60 ? `${text.slice(0, 60)}...` : text;
    return { ok: false, reason: 'not JSON', detail: `neither JSON nor a number: ${JSON.stringify(sample)}` };
  }
}

interface OutRule {
  rule: MqttPublishRule;
  context: (context: string) => boolean;
}

/** Context and path as one key; the length prefix keeps it unambiguous whatever characters they hold. */
const targetKey = (context: string, path: string): string => `${context.length}:${context}${path}`;

/** Where one value goes: a rule and its topic, or why the topic cannot be made; `done` counts each publish's outcome. */
interface Target {
  rule: MqttPublishRule;
  topic: string;
  bad: string | undefined;
  done: (err?: Error) => void;
}

export class MqttBridge {
  private readonly rules: OutRule[];
  private readonly stats: MqttBridgeStatus = {
    out: { published: 0, failed: 0, skipped: 0 },
    in: { received: 0, applied: 0, invalid: {} },
  };
  private unsubscribers: (() => void)[] = [];
  /** Per context and path (`targetKey`): the rules they match and their topics, worked out once (the bus repeats its paths). */
  private readonly targets = memoize((key): Target[] => {
    const colon = key.indexOf(':');
    const end = colon + 1 + Number(key.slice(0, colon));
    const context = key.slice(colon + 1, end);
    const path = key.slice(end);
    return this.rules
      .filter((r) => r.context(context) && matchesPattern(r.rule.path, path))
      .map(({ rule }) => {
        const topic = topicFor(rule.topic, context, path);
        const done = (err?: Error): void => {
          if (!err) this.stats.out.published++;
          else {
            this.stats.out.failed++;
            this.note('failed', `publish ${topic}: ${err.message}`);
          }
        };
        return { rule, topic, bad: topicError(topic), done };
      });
  });

  constructor(private readonly options: MqttBridgeOptions) {
    this.rules = options.publish.map((rule) => ({ rule, context: contextMatcher(rule.context, options.selfContext) }));
  }

  start(): void {
    if (this.unsubscribers.length > 0) return;
    const { bus, connection } = this.options;
    if (this.rules.length > 0) this.unsubscribers.push(bus.subscribe((msg) => this.onDelta(msg.delta)));
    for (const rule of this.options.subscribe) {
      this.unsubscribers.push(
        connection.subscribe(rule.topic, rule.qos, (topic, payload) => this.onMessage(rule, topic, payload)),
      );
    }
  }

  stop(): void {
    for (const off of this.unsubscribers) off();
    this.unsubscribers = [];
  }

  status(): MqttBridgeStatus {
    const { out, in: inbound, lastError } = this.stats;
    const status: MqttBridgeStatus = { out: { ...out }, in: { ...inbound, invalid: { ...inbound.invalid } } };
    if (lastError !== undefined) status.lastError = lastError;
    return status;
  }

  private onDelta(delta: Delta): void {
    // The bus has resolved the context already.
    const context = delta.context ?? this.options.selfContext;
    for (const update of delta.updates) {
      if (update.source?.label === BRIDGE_SOURCE_LABEL || !update.values) continue;
      for (const { path, value } of update.values) {
        for (const target of this.targets(targetKey(context, path))) this.send(target, path, value);
      }
    }
  }

  private send({ rule, topic, bad, done }: Target, path: string, value: JsonValue): void {
    if (bad !== undefined) {
      // A path with + or # in it (from a plugin) makes no topic: say so, do not guess one.
      this.stats.out.skipped++;
      this.note('skipped', `${path}: ${bad}`);
      return;
    }
    // One callback per target, made once: no promise or closure per value on a busy bus.
    this.options.connection.post(topic, JSON.stringify(value), { qos: rule.qos, retain: rule.retain }, done);
  }

  private onMessage(rule: MqttSubscribeRule, topic: string, payload: Buffer): void {
    this.stats.in.received++;
    const parsed = parsePayload(payload);
    if (!parsed.ok) {
      this.invalid(parsed.reason, `${topic}: ${parsed.detail}`);
      return;
    }
    const delta = {
      context: 'vessels.self',
      updates: [
        {
          source: { label: BRIDGE_SOURCE_LABEL, type: 'MQTT', topic },
          timestamp: new Date().toISOString(),
          values: [{ path: rule.path, value: parsed.value }],
        },
      ],
    };
    const refused = this.options.bus.publish(delta, `mqtt ${topic}`);
    if (refused !== undefined) this.invalid('rejected', `${topic}: ${refused}`);
    else this.stats.in.applied++;
  }

  private invalid(reason: string, detail: string): void {
    this.stats.in.invalid[reason] = (this.stats.in.invalid[reason] ?? 0) + 1;
    this.note(reason, `${reason}: ${detail}`);
  }

  /** Keeps the error for status and logs it, rate limited per kind. */
  private note(kind: string, error: string): void {
    this.stats.lastError = error;
    log.limited('warn', kind, error);
  }
}
