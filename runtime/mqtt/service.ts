// The runtime's MQTT part, started from settings: the connection plus the bridge on top of it,
// with one status for /edge/v1/status.

import type { DeltaBus } from '../bus/bus.js';
import { MqttBridge, type MqttBridgeStatus } from './bridge.js';
import { MqttConnection, type MqttConnectionStatus } from '../../hal/net/mqtt-connection.js';
import type { MqttSettings } from './settings.js';

export interface MqttStatus extends MqttConnectionStatus {
  bridge: MqttBridgeStatus;
}

export interface MqttService {
  readonly connection: MqttConnection;
  readonly bridge: MqttBridge;
  status(): MqttStatus;
  /** Stops the bridge, then closes the connection. */
  stop(): Promise<void>;
}

/** Connects (in the background: an absent broker does not delay the start) and starts the bridge. */
export function startMqtt(settings: MqttSettings, bus: DeltaBus, selfContext: string): MqttService {
  const { url, clientId, username, password } = settings;
  const connection = new MqttConnection({ url, clientId, username, password });
  const bridge = new MqttBridge({
    bus,
    connection,
    selfContext,
    publish: settings.publish,
    subscribe: settings.subscribe,
  });
  connection.connect();
  bridge.start();
  return {
    connection,
    bridge,
    status: () => ({ ...connection.status(), bridge: bridge.status() }),
    async stop() {
      bridge.stop();
      await connection.close();
    },
  };
}
