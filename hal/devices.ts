// The hardware the process owns, shared by data sources and plugins' HAL handles: each device is
// opened once however many users it has.

import { CanInterfaces } from './can/interfaces.js';
import { SerialPorts } from './serial/ports.js';

export interface HalDevices {
  serial: SerialPorts;
  can: CanInterfaces;
}

export function createDevices(): HalDevices {
  return { serial: new SerialPorts(), can: new CanInterfaces() };
}
