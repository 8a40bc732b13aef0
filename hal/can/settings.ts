// The `can` source type in settings, validated with the settings Reader so every error names its
// key (`sources[2].interface: ...`).

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Reader } from '../../core/settings-reader.js';

interface CanSourceBase {
  id: string;
  type: 'can';
  /** The interface plugins and the source share (`can0`, `vecan0`; any name for a replay). */
  interface: string;
}

export type CanSourceSettings =
  | (CanSourceBase & { driver: 'socketcan' })
  | (CanSourceBase & {
      driver: 'candump';
      /** A candump log (`candump -l`, plain, or `-ta` output). */
      file: string;
      /** `realtime` paces frames by the log's timestamps, `fast` plays as fast as possible. */
      rate: 'realtime' | 'fast';
      loop: boolean;
    });

/** Linux interface names: at most 15 characters, no `/` or whitespace. */
const IFACE = /^[A-Za-z0-9_.-]{1,15}$/;

/**
 * Parses one `type: "can"` entry. `sources` holds the entries parsed so far: two sources cannot
 * drive the same interface. Relative file paths resolve against `base`.
 */
export function parseCanSource(r: Reader, s: Record<string, unknown>, key: string, id: string, base: string, sources: readonly { type: string }[]): CanSourceSettings {
  const iface = r.str(s.interface, `${key}.interface`);
  if (!IFACE.test(iface)) r.fail(`${key}.interface`, `must be an interface name like can0 (1-15 letters, digits, _ . -), got ${JSON.stringify(iface)}`);
  if (sources.some((o) => o.type === 'can' && 'interface' in o && o.interface === iface)) {
    r.fail(`${key}.interface`, `${iface} is already used by another can source`);
  }
  const driver = s.driver === undefined ? 'socketcan' : r.oneOf(s.driver, `${key}.driver`, ['socketcan', 'candump'] as const);
  if (driver === 'socketcan') {
    r.known(s, key, ['id', 'type', 'interface', 'driver']);
    return { id, type: 'can', interface: iface, driver };
  }
  r.known(s, key, ['id', 'type', 'interface', 'driver', 'file', 'rate', 'loop']);
  const file = resolve(base, r.str(s.file, `${key}.file`));
  if (!existsSync(file)) r.fail(`${key}.file`, `no such file: ${file}`);
  return {
    id,
    type: 'can',
    interface: iface,
    driver,
    file,
    rate: s.rate === undefined ? 'realtime' : r.oneOf(s.rate, `${key}.rate`, ['realtime', 'fast'] as const),
    loop: s.loop === undefined ? false : r.bool(s.loop, `${key}.loop`),
  };
}
