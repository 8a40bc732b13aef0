// MQTT through the runtime's broker connection. Publishing needs `mqtt:publish:<filter>` covering
// the topic; subscribing needs `mqtt:subscribe:<filter>` covering the filter.

import { mqtt_poll, mqtt_publish, mqtt_subscribe, mqtt_unsubscribe } from './ffi'
import { noteResult } from './errors'
import { copyScratch, readGrowing, scratchPtr } from './buffer'

/** Largest message poll() makes room for unless told otherwise. */
const DEFAULT_MAX_MESSAGE_BYTES: i32 = 1024 * 1024

function publishFlags(qos: i32, retain: bool): i32 {
  return (qos & 3) | (retain ? 4 : 0)
}

/** Publishes `payload` (UTF-8) on `topic`; 0 or a HAL_* code. */
export function mqttPublish(topic: string, payload: string, qos: i32 = 0, retain: bool = false): i32 {
  const t = String.UTF8.encode(topic)
  const p = String.UTF8.encode(payload)
  return noteResult(mqtt_publish(changetype<usize>(t), t.byteLength, changetype<usize>(p), p.byteLength, publishFlags(qos, retain)))
}

/** Publishes raw bytes on `topic`; 0 or a HAL_* code. */
export function mqttPublishBytes(topic: string, payload: Uint8Array, qos: i32 = 0, retain: bool = false): i32 {
  const t = String.UTF8.encode(topic)
  return noteResult(mqtt_publish(changetype<usize>(t), t.byteLength, payload.dataStart, payload.length, publishFlags(qos, retain)))
}

export class MqttMessage {
  constructor(readonly topic: string, readonly payload: Uint8Array) {}

  /** The payload decoded as UTF-8. */
  text(): string {
    return String.UTF8.decodeUnsafe(this.payload.dataStart, <usize>this.payload.length)
  }
}

export class MqttSubscription {
  constructor(readonly handle: i32, readonly filter: string) {}

  /** Subscribes to `filter` (wildcards + and # allowed). Null when refused: see lastHalError(). */
  static subscribe(filter: string, qos: i32 = 0): MqttSubscription | null {
    const f = String.UTF8.encode(filter)
    const rc = noteResult(mqtt_subscribe(changetype<usize>(f), f.byteLength, qos))
    return rc < 0 ? null : new MqttSubscription(rc, filter)
  }

  /**
   * The next message, or null when none is pending or on error (lastHalCode() < 0). A message
   * larger than `maxBytes` stays queued and gives HAL_TOO_SMALL.
   */
  poll(maxBytes: i32 = DEFAULT_MAX_MESSAGE_BYTES): MqttMessage | null {
    const n = readGrowing(this.handle, (h: i32, buf: usize, max: i32): i32 => mqtt_poll(h, buf, max), maxBytes)
    if (n <= 0) return null
    // Layout: topic (UTF-8), one NUL byte, payload bytes.
    const base = scratchPtr()
    let nul = 0
    while (nul < n && load<u8>(base + <usize>nul) != 0) nul++
    const topic = String.UTF8.decodeUnsafe(base, <usize>nul)
    const start = min(nul + 1, n)
    return new MqttMessage(topic, copyScratch(start, n - start))
  }

  unsubscribe(): i32 {
    return noteResult(mqtt_unsubscribe(this.handle))
  }
}
