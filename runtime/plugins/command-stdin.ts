// What a command plugin's stdin carries: the manifest's `signalkEdge.stdin`, with the serial device
// taken from the plugin's configuration (`serialDevice`) when the operator set one there, so the
// device can change without editing the package.

import type { JsonValue } from '../../core/json.js';
import type { CommandStdinOptions } from '../engine/command.js';
import type { CommandStdin } from './discovery.js';

export function commandStdin(manifest: CommandStdin, configuration: JsonValue | undefined): CommandStdinOptions {
  const configured =
    typeof configuration === 'object' && configuration !== null && !Array.isArray(configuration)
      ? configuration.serialDevice
      : undefined;
  const serial = typeof configured === 'string' && configured !== '' ? configured : manifest.serial;
  return serial === undefined ? { deltas: manifest.deltas } : { serial, deltas: manifest.deltas };
}
