// The one table of source types. An entry owns its settings parser and makes its codec and driver;
// the table parses the `sources` list and assembles every source the same way: driver → pipeline
// (codec, counters) → bus. A new transport or gateway is a driver (or codec) file plus an entry here.
// Codecs and drivers are imported when a source of their type is created: a runtime without a CAN
// source does not load the N2K codec, one without sources no codec or driver (docs/decisions/0105).

import type { DeltaSink } from '../../core/delta.js';
import type { Reader } from '../../core/settings-reader.js';
import { gatewaySourceType } from '../can/gateway/settings.js';
import { parseCanSource } from '../can/settings.js';
import type { HalDevices } from '../devices.js';
import { parseTcpSource, parseUdpSource } from '../net/settings.js';
import { parseReplaySource, parseSerialSource } from '../serial/settings.js';
import { sourceType, type SourceType } from './entry.js';
import { SourcePipeline } from './pipeline.js';
import { PipelineSource, type DataSource } from './source.js';

/** The NMEA 0183 codec and line framing, which every NMEA 0183 source type uses. */
async function nmea0183() {
  const [{ Nmea0183Codec }, framing] = await Promise.all([
    import('../codecs/nmea0183/codec.js'),
    import('../framing.js'),
  ]);
  return { Nmea0183Codec, ...framing };
}

export const SOURCE_TYPES = {
  /** NMEA 0183 on a serial port, shared with plugins granted the device. */
  serial: sourceType({
    parse: parseSerialSource,
    create: async ({ id, device, baudRate }, devices) => {
      const [{ Nmea0183Codec, LineFramer, linesTo }, { SharedSerialDevice }] = await Promise.all([
        nmea0183(),
        import('../serial/shared-device.js'),
      ]);
      // The source's rate is the device's for plugins that open it without one.
      devices.serial.configure(device, baudRate);
      return {
        codec: new Nmea0183Codec(id),
        driver: (sink) => new SharedSerialDevice(devices.serial, device, baudRate, new LineFramer(linesTo(sink))),
      };
    },
  }),
  /** An NMEA 0183 log file played back (demo, tests). */
  replay: sourceType({
    parse: parseReplaySource,
    create: async ({ id, file, rate, linesPerSecond, loop }) => {
      const [{ Nmea0183Codec, linesTo }, { ReplayDriver }] = await Promise.all([
        nmea0183(),
        import('../serial/replay.js'),
      ]);
      return {
        codec: new Nmea0183Codec(id),
        driver: (sink) => new ReplayDriver({ file, rate, linesPerSecond, loop }, linesTo(sink)),
      };
    },
  }),
  /** NMEA 0183 datagrams received on a UDP port. */
  udp: sourceType({
    parse: parseUdpSource,
    create: async ({ id, port, address }) => {
      const [{ Nmea0183Codec, LineFramer, linesTo }, { UdpDriver }] = await Promise.all([
        nmea0183(),
        import('../net/udp.js'),
      ]);
      return {
        codec: new Nmea0183Codec(id),
        driver: (sink) => new UdpDriver({ port, address }, new LineFramer(linesTo(sink))),
      };
    },
  }),
  /** NMEA 0183 read from a TCP server. */
  tcp: sourceType({
    parse: parseTcpSource,
    create: async ({ id, host, port }) => {
      const [{ Nmea0183Codec, LineFramer, linesTo }, { TcpDriver }] = await Promise.all([
        nmea0183(),
        import('../net/tcp.js'),
      ]);
      return {
        codec: new Nmea0183Codec(id),
        driver: (sink) => new TcpDriver({ host, port }, new LineFramer(linesTo(sink))),
      };
    },
  }),
  /** NMEA 2000 on a CAN interface (SocketCAN, or a candump log), shared with plugins granted it. */
  can: sourceType({
    parse: parseCanSource,
    create: async (settings, devices) => {
      const [{ N2kCodec }, { CanReplayDriver }, { SharedCanInterface }] = await Promise.all([
        import('../codecs/n2k/codec.js'),
        import('../can/replay.js'),
        import('../can/shared-interface.js'),
      ]);
      // An interface no source defines is driven by SocketCAN (CanInterfaces' fallback).
      if (settings.driver === 'candump') {
        const { file, rate, loop } = settings;
        devices.can.define(settings.interface, () => new CanReplayDriver({ file, rate, loop }));
      }
      return {
        codec: new N2kCodec(settings.id),
        driver: (sink) => new SharedCanInterface(devices.can, settings.interface, sink),
      };
    },
  }),
  /** NMEA 2000 gateways, each driving a CAN interface shared with plugins granted it (hal/can/gateway/). */
  actisense: gatewaySourceType('actisense'),
  'actisense-ascii': gatewaySourceType('actisense-ascii'),
  'ydwg-raw': gatewaySourceType('ydwg-raw'),
  ikonvert: gatewaySourceType('ikonvert'),
  /** A canboat log (plain, JSON or a gateway's text format) played back as a gateway. */
  'n2k-replay': gatewaySourceType('n2k-replay'),
};

type Table = typeof SOURCE_TYPES;
export type SourceTypeName = keyof Table;
/** One entry of the `sources` list in settings, whichever its type. */
export type SourceSettings = { [K in SourceTypeName]: ReturnType<Table[K]['parse']> }[SourceTypeName];

const TYPE_NAMES = Object.keys(SOURCE_TYPES) as SourceTypeName[];

/** Parses the `sources` list of the settings file; relative paths resolve against `base`. */
export function parseSources(r: Reader, input: unknown, base: string): SourceSettings[] {
  const sources: SourceSettings[] = [];
  r.list(input, 'sources').forEach((raw, i) => {
    const key = `sources[${i}]`;
    const s = r.obj(raw, key);
    const id = r.str(s.id, `${key}.id`);
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) r.fail(`${key}.id`, 'must be 1-32 letters, digits, _ or -');
    if (sources.some((o) => o.id === id)) r.fail(`${key}.id`, `duplicate source id ${JSON.stringify(id)}`);
    const type = r.oneOf(s.type, `${key}.type`, TYPE_NAMES);
    const entry = SOURCE_TYPES[type] as SourceType<SourceSettings, unknown>;
    sources.push(entry.parse(r, s, { key, id, base, earlier: sources }));
  });
  return sources;
}

/** A source from its settings, publishing to `sink` (the bus); it starts reading on start(). */
export async function createSource(
  settings: SourceSettings,
  sink: DeltaSink,
  devices: HalDevices,
): Promise<DataSource> {
  // The entry of the settings' own type: the union cannot tell TypeScript that the two match.
  const entry = SOURCE_TYPES[settings.type] as SourceType<SourceSettings, unknown>;
  const { codec, driver } = await entry.create(settings, devices);
  const pipeline = new SourcePipeline(settings.id, codec, sink);
  return new PipelineSource(settings.id, settings.type, pipeline, driver(pipeline));
}
