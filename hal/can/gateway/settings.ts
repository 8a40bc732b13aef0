// The NMEA 2000 gateway source types: `actisense` (NGT-1, binary over USB serial),
// `actisense-ascii` (W2K-1, N2K ASCII over TCP or UDP), `ydwg-raw` (Yacht Devices RAW over UDP,
// TCP or serial), `ikonvert` (Digital Yacht, serial) and `n2k-replay` (a canboat log in any text
// format canboatjs reads, or canboat JSON). Each drives a CAN interface named `interface` (default:
// the source id), which plugins are granted with `can:<interface>` as they are for SocketCAN; the
// source reads that interface like a `can` source does.

import type { Reader } from '../../../core/settings-reader.js';
import { parseTcpSource, parseUdpSource } from '../../net/settings.js';
import { VALID_BAUD_RATES } from '../../serial/settings.js';
import { sourceType, type SourceEntry, type SourceType } from '../../sources/entry.js';
import type { CanFrame } from '../frame.js';
import { parseInterface } from '../settings.js';
import type { ReplayPacing } from '../../replay.js';
import type { SerialPorts } from '../../serial/ports.js';
import type { CanDriverFactory } from '../interfaces.js';
import type { GatewayTransport } from './driver.js';

export type GatewayType = 'actisense' | 'actisense-ascii' | 'ydwg-raw' | 'ikonvert' | 'n2k-replay';

export interface GatewaySourceSettings<T extends GatewayType = GatewayType> {
  id: string;
  type: T;
  interface: string;
  /** Where the gateway is; a log file for `n2k-replay`. */
  transport: GatewayTransport | ({ kind: 'file' } & ReplayPacing);
}

/** The rates the devices ship with. */
const DEFAULT_BAUD = { actisense: 115200, 'ydwg-raw': 115200, ikonvert: 230400 } as const;

function serial(
  r: Reader,
  s: Record<string, unknown>,
  key: string,
  type: keyof typeof DEFAULT_BAUD,
  extra: string[],
): GatewayTransport {
  r.known(s, key, ['id', 'type', 'interface', 'device', 'baudRate', ...extra]);
  return {
    kind: 'serial',
    device: r.str(s.device, `${key}.device`),
    baudRate: s.baudRate === undefined ? DEFAULT_BAUD[type] : r.oneOf(s.baudRate, `${key}.baudRate`, VALID_BAUD_RATES),
  };
}

function network(r: Reader, s: Record<string, unknown>, at: SourceEntry, kind: 'udp' | 'tcp'): GatewayTransport {
  const extra = ['interface', 'transport'];
  if (kind === 'tcp') {
    const { host, port } = parseTcpSource(r, s, at, extra);
    return { kind, host, port };
  }
  const { port, address } = parseUdpSource(r, s, at, extra);
  return { kind, port, ...(address === undefined ? {} : { address }) };
}

function transport(
  r: Reader,
  s: Record<string, unknown>,
  at: SourceEntry,
  type: GatewayType,
): GatewaySourceSettings['transport'] {
  const { key, base } = at;
  if (type === 'actisense' || type === 'ikonvert') return serial(r, s, key, type, []);
  if (type === 'ydwg-raw' || type === 'actisense-ascii') {
    const kinds = type === 'ydwg-raw' ? (['udp', 'tcp', 'serial'] as const) : (['udp', 'tcp'] as const);
    const kind = r.oneOf(s.transport, `${key}.transport`, kinds);
    return kind === 'serial' ? serial(r, s, key, 'ydwg-raw', ['transport']) : network(r, s, at, kind);
  }
  r.known(s, key, ['id', 'type', 'interface', 'file', 'rate', 'loop']);
  return {
    kind: 'file',
    file: r.existingFile(s.file, `${key}.file`, base),
    rate: s.rate === undefined ? 'realtime' : r.oneOf(s.rate, `${key}.rate`, ['realtime', 'fast'] as const),
    loop: s.loop === undefined ? false : r.bool(s.loop, `${key}.loop`),
  };
}

/** What drives a gateway source's interface: the gateway on its transport, or the log replay. */
async function driverFactory(
  type: GatewayType,
  t: GatewaySourceSettings['transport'],
  serialPorts: SerialPorts,
): Promise<CanDriverFactory> {
  if (t.kind === 'file') {
    const [{ CanReplayDriver }, { canboatLogLine }] = await Promise.all([
      import('../replay.js'),
      import('./log-lines.js'),
    ]);
    return () => new CanReplayDriver(t, canboatLogLine);
  }
  if (type === 'n2k-replay') throw new Error('an n2k-replay source reads a file');
  const { GatewayDriver } = await import('./driver.js');
  return () => new GatewayDriver(type, t, serialPorts);
}

/** The source table's entry for gateway type `type`. */
export function gatewaySourceType<T extends GatewayType>(type: T): SourceType<GatewaySourceSettings<T>, CanFrame> {
  return sourceType({
    parse: (r, s, at): GatewaySourceSettings<T> => ({
      id: at.id,
      type,
      interface: parseInterface(r, s.interface ?? at.id, `${at.key}.interface`, at.earlier),
      transport: transport(r, s, at, type),
    }),
    create: async (settings, devices) => {
      const { transport: t } = settings;
      const [{ N2kCodec }, { SharedCanInterface }, factory] = await Promise.all([
        import('../../codecs/n2k/codec.js'),
        import('../shared-interface.js'),
        driverFactory(type, t, devices.serial),
      ]);
      // The source's rate is the device's for plugins that open it without one.
      if (t.kind === 'serial') devices.serial.configure(t.device, t.baudRate);
      devices.can.define(settings.interface, factory);
      return {
        codec: new N2kCodec(settings.id),
        driver: (sink) => new SharedCanInterface(devices.can, settings.interface, sink),
      };
    },
  });
}
