// The `can` source type in settings, validated with the settings Reader so every error names its
// key (`sources[2].interface: ...`).

import type { Reader } from '../../core/settings-reader.js';
import type { SourceEntry } from '../sources/entry.js';

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

/** A CAN interface name no earlier source drives (a `can` source or an N2K gateway). */
export function parseInterface(r: Reader, v: unknown, key: string, earlier: SourceEntry['earlier']): string {
  const iface = r.str(v, key);
  if (!IFACE.test(iface))
    r.fail(key, `must be an interface name like can0 (1-15 letters, digits, _ . -), got ${JSON.stringify(iface)}`);
  if (earlier.some((o) => 'interface' in o && o.interface === iface))
    r.fail(key, `${iface} is already used by another source`);
  return iface;
}

/** Parses one `type: "can"` entry: two sources cannot drive the same interface. */
export function parseCanSource(
  r: Reader,
  s: Record<string, unknown>,
  { key, id, base, earlier }: SourceEntry,
): CanSourceSettings {
  const iface = parseInterface(r, s.interface, `${key}.interface`, earlier);
  const driver =
    s.driver === undefined ? 'socketcan' : r.oneOf(s.driver, `${key}.driver`, ['socketcan', 'candump'] as const);
  if (driver === 'socketcan') {
    r.known(s, key, ['id', 'type', 'interface', 'driver']);
    return { id, type: 'can', interface: iface, driver };
  }
  r.known(s, key, ['id', 'type', 'interface', 'driver', 'file', 'rate', 'loop']);
  const file = r.existingFile(s.file, `${key}.file`, base);
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
