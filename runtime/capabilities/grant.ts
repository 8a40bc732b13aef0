// One grammar for what a plugin requests (package.json `signalkEdge.requests`) and what the
// operator grants (settings `grants`, `signalk-edge grant`): short strings, parsed once here.
//
//   dataRead, network, rawSockets, ...   upstream `wasmCapabilities` names
//   serial:<device>[:write]              a serial device (path or board alias, `*` = any); write also reads
//   can:<iface>[:<pgn>,<pgn>...]         a CAN interface, every PGN or only those
//   can:<iface>:write                    sending frames on the interface
//   mqtt:publish:<filter>                publishing on topics the MQTT filter matches
//   mqtt:subscribe:<filter>              subscribing to filters the granted filter covers
//   net:<host>:<port>                    raw sockets to host:port (`*` for any host or port)

import { validFilter } from '../../hal/net/topic-filter.js';

/** Upstream's `wasmCapabilities` booleans. */
export const FLAG_NAMES = [
  'dataRead',
  'dataWrite',
  'network',
  'putHandlers',
  'httpEndpoints',
  'staticFiles',
  'rawSockets',
  'serialPorts',
  'resourceProvider',
  'weatherProvider',
  'radarProvider',
] as const;
export type FlagName = (typeof FLAG_NAMES)[number];

export type Grant =
  | { kind: 'flag'; name: FlagName }
  | { kind: 'serial'; device: string; write: boolean }
  | { kind: 'can'; iface: string; pgns: ReadonlySet<number> | 'all' }
  | { kind: 'can-write'; iface: string }
  | { kind: 'mqtt'; op: 'publish' | 'subscribe'; filter: string }
  | { kind: 'net'; host: string; port: number | '*' };

export type ParsedGrant = { ok: true; grant: Grant } | { ok: false; reason: string };

const NAME = /^(\*|[A-Za-z0-9_.\-/]+)$/;
const IFACE = /^(\*|[A-Za-z0-9_-]{1,15})$/;
const MAX_PGN = 0x3ffff;

function isFlag(s: string): s is FlagName {
  return (FLAG_NAMES as readonly string[]).includes(s);
}

const fail = (reason: string): ParsedGrant => ({ ok: false, reason });

export function parseGrant(text: string): ParsedGrant {
  if (isFlag(text)) return { ok: true, grant: { kind: 'flag', name: text } };
  const colon = text.indexOf(':');
  const kind = colon < 0 ? text : text.slice(0, colon);
  const rest = colon < 0 ? '' : text.slice(colon + 1);
  switch (kind) {
    case 'serial': {
      const write = rest.endsWith(':write');
      const device = write ? rest.slice(0, -':write'.length) : rest;
      if (!NAME.test(device))
        return fail(`serial grant needs a device path or board alias: serial:/dev/ttyUSB0, serial:nmea1 or serial:*`);
      return { ok: true, grant: { kind: 'serial', device, write } };
    }
    case 'can': {
      const [iface = '', spec, ...extra] = rest.split(':');
      if (!IFACE.test(iface) || extra.length > 0)
        return fail('CAN grant looks like can:can0, can:can0:129025,130306 or can:can0:write');
      if (spec === 'write') return { ok: true, grant: { kind: 'can-write', iface } };
      if (spec === undefined) return { ok: true, grant: { kind: 'can', iface, pgns: 'all' } };
      const pgns = spec.split(',').map(Number);
      if (pgns.some((p) => !Number.isInteger(p) || p < 0 || p > MAX_PGN))
        return fail(`CAN grant has a bad PGN list ${JSON.stringify(spec)} (numbers 0-${MAX_PGN}, comma separated)`);
      return { ok: true, grant: { kind: 'can', iface, pgns: new Set(pgns) } };
    }
    case 'mqtt': {
      const op = rest.startsWith('publish:') ? 'publish' : rest.startsWith('subscribe:') ? 'subscribe' : undefined;
      if (!op) return fail('MQTT grant looks like mqtt:publish:<filter> or mqtt:subscribe:<filter>');
      const filter = rest.slice(op.length + 1);
      if (!validFilter(filter)) return fail(`not a valid MQTT topic filter: ${JSON.stringify(filter)}`);
      return { ok: true, grant: { kind: 'mqtt', op, filter } };
    }
    case 'net': {
      const at = rest.lastIndexOf(':');
      const host = rest.slice(0, at);
      const portText = rest.slice(at + 1);
      const port = portText === '*' ? '*' : Number(portText);
      if (
        at <= 0 ||
        !NAME.test(host.replace(/[[\]:]/g, '')) ||
        (port !== '*' && (!Number.isInteger(port) || port < 1 || port > 65535))
      ) {
        return fail('network grant looks like net:<host>:<port>, e.g. net:192.168.1.10:10110 or net:*:2000');
      }
      return { ok: true, grant: { kind: 'net', host, port } };
    }
    default:
      return fail(
        `unknown capability ${JSON.stringify(text)} (one of ${FLAG_NAMES.join(', ')}, serial:…, can:…, mqtt:publish:…, mqtt:subscribe:…, net:…)`,
      );
  }
}

export function formatGrant(g: Grant): string {
  switch (g.kind) {
    case 'flag':
      return g.name;
    case 'serial':
      return `serial:${g.device}${g.write ? ':write' : ''}`;
    case 'can':
      return `can:${g.iface}${g.pgns === 'all' ? '' : `:${[...g.pgns].join(',')}`}`;
    case 'can-write':
      return `can:${g.iface}:write`;
    case 'mqtt':
      return `mqtt:${g.op}:${g.filter}`;
    case 'net':
      return `net:${g.host}:${g.port}`;
  }
}

/** Parses a list, naming the first bad entry. */
export function parseGrantList(
  list: readonly string[],
): { ok: true; grants: Grant[] } | { ok: false; index: number; reason: string } {
  const grants: Grant[] = [];
  for (let i = 0; i < list.length; i++) {
    const parsed = parseGrant(list[i]!);
    if (!parsed.ok) return { ok: false, index: i, reason: parsed.reason };
    grants.push(parsed.grant);
  }
  return { ok: true, grants };
}
