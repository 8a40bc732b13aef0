// MQTT for plugins (`mqtt_*` in signalk_hal), through the runtime's one broker connection. Grant
// rules: `mqtt:publish:<filter>` for each topic published (checked at every publish),
// `mqtt:subscribe:<filter>` to subscribe; a revoked subscribe grant closes the subscription.

import { validFilter, validTopic } from '../../../hal/net/topic-filter.js';
import type { CapabilityPolicy } from '../../capabilities/policy.js';
import { MAX_GUEST_STRING } from '../memory.js';
import { BoundedQueue } from '../../../core/bounded-queue.js';
import { DeviceError, queueStatus, type DeviceFamily, type DeviceHandle, type HandleStatus } from './handles.js';

const MAX_QUEUED_MESSAGES = 1_000;

type Qos = 0 | 1 | 2;

/** The MQTT connection as the device functions use it (hal/net/mqtt-connection.ts). */
export interface MqttAccess {
  /** 'connected' when messages go out now; QoS 1/2 messages are queued while reconnecting. */
  readonly state: string;
  publish(topic: string, payload: Buffer, options: { qos: Qos; retain: boolean }): Promise<void>;
  subscribe(filter: string, qos: Qos, listener: (topic: string, payload: Buffer) => void): () => void;
}

export interface MqttMessage {
  topic: string;
  payload: Buffer;
}

export class MqttHandle implements DeviceHandle {
  readonly kind = 'mqtt';
  private readonly messages = new BoundedQueue<MqttMessage>(MAX_QUEUED_MESSAGES);
  readonly push = (topic: string, payload: Buffer): void => {
    this.messages.push({ topic, payload });
  };

  constructor(readonly target: string) {}

  /** Set once the broker subscription exists. */
  unsubscribe: () => void = () => {};

  stillGranted(policy: CapabilityPolicy): boolean {
    return policy.mqttSubscribe(this.target);
  }

  peek(): MqttMessage | undefined {
    return this.messages.peek();
  }

  take(): void {
    this.messages.shift();
  }

  status(handle: number): HandleStatus {
    return queueStatus(this.messages, handle, 'mqtt', this.target);
  }

  async close(): Promise<void> {
    this.unsubscribe();
  }
}

export const mqttFunctions: DeviceFamily = ({ host, memory, table }) => ({
  mqtt_publish(tPtr, tLen, pPtr, pLen, flags) {
    const topic = memory.readString(tPtr, tLen);
    const payload = memory.readBytes(pPtr, pLen, MAX_GUEST_STRING);
    if (topic === undefined || payload === undefined || !validTopic(topic))
      return table.error(DeviceError.invalid, 'mqtt_publish: topic or payload out of bounds, or not a valid topic');
    const qos = flags & 3;
    if (qos === 3 || (flags & ~7) !== 0) return table.error(DeviceError.invalid, `mqtt_publish: bad flags ${flags}`);
    if (!host.policy().mqttPublish(topic)) return table.denied(`mqtt:publish:${topic}`, 'mqtt_publish');
    const mqtt = host.mqtt();
    if (!mqtt)
      return table.error(DeviceError.unavailable, 'mqtt_publish: no MQTT broker is configured (settings "mqtt")');
    // QoS 0 is not queued while offline: say so now rather than drop it later.
    if (qos === 0 && mqtt.state !== 'connected')
      return table.error(
        DeviceError.unavailable,
        `mqtt_publish: the broker is ${mqtt.state}; QoS 0 messages are not queued`,
      );
    table.writeAsync(
      `mqtt_publish ${topic}`,
      mqtt.publish(topic, Buffer.from(payload), { qos: qos as Qos, retain: (flags & 4) !== 0 }),
    );
    return 0;
  },

  mqtt_subscribe(fPtr, fLen, qos) {
    const filter = memory.readString(fPtr, fLen);
    if (filter === undefined || !validFilter(filter))
      return table.error(DeviceError.invalid, 'mqtt_subscribe: not a valid topic filter');
    if (qos < 0 || qos > 2) return table.error(DeviceError.invalid, `mqtt_subscribe: bad QoS ${qos}`);
    if (!host.policy().mqttSubscribe(filter)) return table.denied(`mqtt:subscribe:${filter}`, 'mqtt_subscribe');
    const mqtt = host.mqtt();
    if (!mqtt)
      return table.error(DeviceError.unavailable, 'mqtt_subscribe: no MQTT broker is configured (settings "mqtt")');
    const full = table.room('mqtt_subscribe');
    if (full !== undefined) return full;
    const h = new MqttHandle(filter);
    h.unsubscribe = mqtt.subscribe(filter, qos as Qos, (topic, payload) => {
      h.push(topic, payload);
      host.dataReady();
    });
    return table.add(h);
  },

  mqtt_poll(n, buf, max) {
    const h = table.lookup<MqttHandle>(n, 'mqtt', 'mqtt_poll');
    if (typeof h === 'number') return h;
    if (!memory.view(buf, max)) return table.error(DeviceError.invalid, 'mqtt_poll: buffer out of bounds');
    const m = h.peek();
    if (!m) return 0;
    const bytes = Buffer.concat([Buffer.from(m.topic, 'utf8'), Buffer.of(0), m.payload]);
    if (bytes.length > max)
      return table.error(DeviceError.tooSmall, `mqtt_poll: next message is ${bytes.length} bytes, buffer holds ${max}`);
    h.take();
    return memory.write(buf, max, bytes);
  },

  mqtt_unsubscribe: table.closer('mqtt', 'mqtt_unsubscribe'),
});
