// The NMEA 2000 gateway source types in settings: `actisense` (NGT-1, binary over USB serial),
// `actisense-ascii` (W2K-1, N2K ASCII over TCP or UDP), `ydwg-raw` (Yacht Devices RAW over UDP,
// TCP or serial), `ikonvert` (Digital Yacht, serial) and `n2k-replay` (a canboat log in any text
// format canboatjs reads, or canboat JSON). Each drives a CAN interface named `interface` (default:
// the source id), which plugins are granted with `can:<interface>` as they are for SocketCAN.

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { VALID_BAUD_RATES, type Reader } from '../../../runtime/config/settings.js';
import { parseNetSource } from '../../net/settings.js';
import { parseInterface } from '../settings.js';
import type { GatewayFormat, GatewayTransport } from './driver.js';

export const GATEWAY_TYPES = ['actisense', 'actisense-ascii', 'ydwg-raw', 'ikonvert', 'n2k-replay'] as const;
export type GatewayType = (typeof GATEWAY_TYPES)[number];

export interface GatewaySourceSettings {
  id: string;
  type: GatewayType;
  interface: string;
  transport: GatewayTransport;
}

/** The rates the devices ship with. */
const DEFAULT_BAUD: Record<'actisense' | 'ydwg-raw' | 'ikonvert', number> = { actisense: 115200, 'ydwg-raw': 115200, ikonvert: 230400 };

export function isGatewayType(type: string): type is GatewayType {
  return (GATEWAY_TYPES as readonly string[]).includes(type);
}

export function isGatewaySource(s: { type: string }): s is GatewaySourceSettings {
  return isGatewayType(s.type);
}

/** What the type's frames are written in on its transport. */
export function gatewayFormat(type: GatewayType): GatewayFormat {
  return type === 'n2k-replay' ? 'n2k-log' : type;
}

function serial(r: Reader, s: Record<string, unknown>, key: string, type: 'actisense' | 'ydwg-raw' | 'ikonvert', extra: string[]): GatewayTransport {
  r.known(s, key, ['id', 'type', 'interface', 'device', 'baudRate', ...extra]);
  return {
    kind: 'serial',
    device: r.str(s.device, `${key}.device`),
    baudRate: s.baudRate === undefined ? DEFAULT_BAUD[type] : r.oneOf(s.baudRate, `${key}.baudRate`, VALID_BAUD_RATES),
  };
}

function network(r: Reader, s: Record<string, unknown>, key: string, id: string, kind: 'udp' | 'tcp'): GatewayTransport {
  const net = parseNetSource(r, s, key, id, kind, ['interface', 'transport']);
  return net.type === 'udp' ? { kind: 'udp', port: net.port, ...(net.address === undefined ? {} : { address: net.address }) } : { kind: 'tcp', host: net.host, port: net.port };
}

/** Parses one gateway entry; `sources` holds the entries parsed so far (interfaces must not clash). */
export function parseGatewaySource(r: Reader, s: Record<string, unknown>, key: string, id: string, type: GatewayType, base: string, sources: readonly { type: string }[]): GatewaySourceSettings {
  const iface = parseInterface(r, s.interface ?? id, `${key}.interface`, sources);
  let transport: GatewayTransport;
  if (type === 'actisense' || type === 'ikonvert') {
    transport = serial(r, s, key, type, []);
  } else if (type === 'ydwg-raw' || type === 'actisense-ascii') {
    const kinds = type === 'ydwg-raw' ? (['udp', 'tcp', 'serial'] as const) : (['udp', 'tcp'] as const);
    const kind = r.oneOf(s.transport, `${key}.transport`, kinds);
    transport = kind === 'serial' ? serial(r, s, key, 'ydwg-raw', ['transport']) : network(r, s, key, id, kind);
  } else {
    r.known(s, key, ['id', 'type', 'interface', 'file', 'rate', 'linesPerSecond', 'loop']);
    const file = resolve(base, r.str(s.file, `${key}.file`));
    if (!existsSync(file)) r.fail(`${key}.file`, `no such file: ${file}`);
    transport = {
      kind: 'file',
      file,
      rate: s.rate === undefined ? 'realtime' : r.oneOf(s.rate, `${key}.rate`, ['realtime', 'fast'] as const),
      linesPerSecond: s.linesPerSecond === undefined ? 100 : r.int(s.linesPerSecond, `${key}.linesPerSecond`, 1, 1_000_000),
      loop: s.loop === undefined ? false : r.bool(s.loop, `${key}.loop`),
    };
  }
  return { id, type, interface: iface, transport };
}
