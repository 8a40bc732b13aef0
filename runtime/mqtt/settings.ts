// The top-level `mqtt` key: the broker connection (hal/net/mqtt-connection.ts) and the bridge's
// rules, validated with the settings Reader so every error names its key (`mqtt.publish[2].qos`).

import type { Reader } from '../../core/settings-reader.js';
import type { MqttQos } from '../../hal/net/mqtt-connection.js';
import { filterError, topicError } from '../../hal/net/topic-filter.js';

export interface MqttPublishRule {
  /** Signal K path pattern, `*` matching any run of characters (`environment.*`). */
  path: string;
  /** Topic template: `{id}` = the context's id, `{path}` = the value's path with `/` for `.`. */
  topic: string;
  qos: MqttQos;
  retain: boolean;
  /** Context pattern (`vessels.self`, `vessels.*`, ...). */
  context: string;
}

export interface MqttSubscribeRule {
  /** Topic filter (`+` and `#` allowed). */
  topic: string;
  /** Signal K path the payload's value is written to, on the self vessel. */
  path: string;
  qos: MqttQos;
}

export interface MqttSettings {
  url: string;
  clientId?: string;
  username?: string;
  password?: string;
  publish: MqttPublishRule[];
  subscribe: MqttSubscribeRule[];
}

export const DEFAULT_TOPIC = 'signalk/{id}/{path}';
const URL_PROTOCOLS = ['mqtt:', 'mqtts:', 'ws:', 'wss:'];
const QOS = [0, 1, 2] as const;

/** A concrete Signal K path: dot-separated, no wildcard, no empty segment. */
function valuePath(r: Reader, v: unknown, key: string): string {
  const path = r.str(v, key);
  if (!/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/.test(path)) {
    r.fail(key, `must be a Signal K path like environment.inside.temperature, got ${JSON.stringify(path)}`);
  }
  return path;
}

export function parseMqttSettings(r: Reader, input: unknown): MqttSettings {
  const o = r.obj(input, 'mqtt');
  r.known(o, 'mqtt', ['url', 'clientId', 'username', 'password', 'publish', 'subscribe']);
  const url = r.str(o.url, 'mqtt.url');
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // reported below
  }
  if (!parsed || !URL_PROTOCOLS.includes(parsed.protocol) || parsed.hostname === '') {
    r.fail(
      'mqtt.url',
      `must be a broker URL like mqtt://host:1883 (${URL_PROTOCOLS.map((p) => p.slice(0, -1)).join(', ')}), got ${JSON.stringify(url)}`,
    );
  }
  const settings: MqttSettings = { url, publish: [], subscribe: [] };
  if (o.clientId !== undefined) settings.clientId = r.str(o.clientId, 'mqtt.clientId');
  if (o.username !== undefined) settings.username = r.str(o.username, 'mqtt.username');
  if (o.password !== undefined) settings.password = r.str(o.password, 'mqtt.password');
  if (o.publish !== undefined) {
    settings.publish = r.list(o.publish, 'mqtt.publish').map((raw, i) => {
      const key = `mqtt.publish[${i}]`;
      const p = r.obj(raw, key);
      r.known(p, key, ['path', 'topic', 'qos', 'retain', 'context']);
      const topic = p.topic === undefined ? DEFAULT_TOPIC : r.str(p.topic, `${key}.topic`);
      const bad = topicError(topic.replaceAll('{id}', 'x').replaceAll('{path}', 'x'));
      if (bad !== undefined) r.fail(`${key}.topic`, bad);
      return {
        path: r.str(p.path, `${key}.path`),
        topic,
        qos: p.qos === undefined ? 0 : r.oneOf(p.qos, `${key}.qos`, QOS),
        retain: p.retain === undefined ? false : r.bool(p.retain, `${key}.retain`),
        context: p.context === undefined ? 'vessels.self' : r.str(p.context, `${key}.context`),
      };
    });
  }
  if (o.subscribe !== undefined) {
    settings.subscribe = r.list(o.subscribe, 'mqtt.subscribe').map((raw, i) => {
      const key = `mqtt.subscribe[${i}]`;
      const s = r.obj(raw, key);
      r.known(s, key, ['topic', 'path', 'qos']);
      const topic = r.str(s.topic, `${key}.topic`);
      const bad = filterError(topic);
      if (bad !== undefined) r.fail(`${key}.topic`, bad);
      return {
        topic,
        path: valuePath(r, s.path, `${key}.path`),
        qos: s.qos === undefined ? 0 : r.oneOf(s.qos, `${key}.qos`, QOS),
      };
    });
  }
  return settings;
}
