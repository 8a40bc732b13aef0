// The device host functions a plugin imports as `signalk_hal` (wit/signalk.wit, interface hal):
// serial, CAN and MQTT for one plugin, one file per device family with its grant rules, over one
// handle table. Each call is checked against the plugin's grants at the moment it is made. Handles
// belong to the instance and are closed with it; a grant revoked while a handle is open closes
// that handle. Reads never block: data arrives into per-handle bounded queues and the plugin takes it.

import type { GuestMemory } from '../memory.js';
import { canFunctions } from './can.js';
import {
  DeviceError,
  HandleTable,
  type DeviceFamily,
  type DeviceHost,
  type DeviceSession,
  type HostFunction,
} from './handles.js';
import { mqttFunctions } from './mqtt.js';
import { serialFunctions } from './serial.js';

// The folder's face for the engine, the runner and the self-test.
export { DeviceError, MAX_HANDLES, type DeviceHost, type DeviceSession, type HandleStatus } from './handles.js';
export type { MqttAccess } from './mqtt.js';

/** The device families; a new one is a file in this folder and an entry here. */
const FAMILIES: readonly DeviceFamily[] = [serialFunctions, canFunctions, mqttFunctions];

/** The WASM import module name: ABI, what plugins are built against. */
export const DEVICE_MODULE = 'signalk_hal';

export interface DeviceImports extends DeviceSession {
  readonly functions: Record<string, HostFunction>;
  close(): Promise<void>;
}

export function createDeviceImports(host: DeviceHost, memory: GuestMemory): DeviceImports {
  const table = new HandleTable(host);
  const functions: Record<string, HostFunction> = {
    hal_last_error(buf, max) {
      const n = memory.writeTruncated(buf, max, Buffer.from(table.lastError, 'utf8'));
      return n < 0 ? DeviceError.invalid : n;
    },
  };
  for (const family of FAMILIES) Object.assign(functions, family({ host, memory, table }));
  return {
    functions,
    regrant: () => table.regrant(),
    handles: () => table.status(),
    close: () => table.closeAll(),
  };
}
