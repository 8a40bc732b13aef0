// The `udp` and `tcp` source types in settings, validated with the settings Reader so every error
// names its key (`sources[3].port: ...`).

import { isIP } from 'node:net';
import type { Reader } from '../../core/settings-reader.js';
import type { SourceEntry } from '../sources/entry.js';

export interface UdpSourceSettings {
  id: string;
  type: 'udp';
  port: number;
  /** Local address to bind (default all IPv4 addresses). */
  address?: string;
}

export interface TcpSourceSettings {
  id: string;
  type: 'tcp';
  host: string;
  port: number;
}

/** `extraKeys`: keys of a type that carries UDP settings plus its own (an N2K gateway's `interface`). */
export function parseUdpSource(
  r: Reader,
  s: Record<string, unknown>,
  { key, id }: SourceEntry,
  extraKeys: readonly string[] = [],
): UdpSourceSettings {
  r.known(s, key, ['id', 'type', 'port', 'address', ...extraKeys]);
  const source: UdpSourceSettings = { id, type: 'udp', port: r.int(s.port, `${key}.port`, 1, 65535) };
  if (s.address !== undefined) {
    const address = r.str(s.address, `${key}.address`);
    if (isIP(address) === 0)
      r.fail(
        `${key}.address`,
        `must be an IP address to listen on (0.0.0.0, ::, 192.168.1.10), got ${JSON.stringify(address)}`,
      );
    source.address = address;
  }
  return source;
}

export function parseTcpSource(
  r: Reader,
  s: Record<string, unknown>,
  { key, id }: SourceEntry,
  extraKeys: readonly string[] = [],
): TcpSourceSettings {
  r.known(s, key, ['id', 'type', 'host', 'port', ...extraKeys]);
  return { id, type: 'tcp', host: r.str(s.host, `${key}.host`), port: r.int(s.port, `${key}.port`, 1, 65535) };
}
