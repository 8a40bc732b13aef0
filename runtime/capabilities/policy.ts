// What one plugin may do: requested ∩ granted, decided per call. A call is allowed when some
// request of the plugin allows it and some grant of the operator allows it; nothing is allowed by
// default. Board aliases (nmea1 → /dev/ttyUSB0) are resolved on both sides before comparing.

import { filterCovers, topicMatches } from '../../hal/net/topic-filter.js';
import { FLAG_NAMES, formatGrant, type FlagName, type Grant } from './grant.js';

export type Flags = Record<FlagName, boolean>;

export interface PolicyInput {
  /** The manifest's `wasmCapabilities` booleans. */
  requestedFlags: Flags;
  /** The manifest's `signalkEdge.requests`. */
  requests: readonly Grant[];
  /** The operator's grants for this plugin (its own and those for every plugin). */
  granted: readonly Grant[];
  /** Board device aliases (alias → device path or CAN interface). */
  aliases: Readonly<Record<string, string>>;
}

type Kind<K extends Grant['kind']> = Extract<Grant, { kind: K }>;

export class CapabilityPolicy {
  private readonly requests: Grant[];
  private readonly granted: Grant[];
  private readonly effectiveFlags: Flags;

  constructor(private readonly input: PolicyInput) {
    this.requests = [...input.requests, ...implicitRequests(input.requestedFlags)];
    const grantedFlags = new Set(input.granted.filter((g): g is Kind<'flag'> => g.kind === 'flag').map((g) => g.name));
    this.effectiveFlags = Object.fromEntries(
      FLAG_NAMES.map((n) => [n, input.requestedFlags[n] && grantedFlags.has(n)]),
    ) as Flags;
    // Granting rawSockets alone allows any host, as upstream; net: grants narrow it to those.
    const netGrants = input.granted.some((g) => g.kind === 'net');
    this.granted =
      this.effectiveFlags.rawSockets && !netGrants
        ? [...input.granted, { kind: 'net', host: '*', port: '*' }]
        : [...input.granted];
  }

  flags(): Flags {
    return { ...this.effectiveFlags };
  }

  flag(name: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.effectiveFlags, name) && this.effectiveFlags[name as FlagName];
  }

  /** The device path (or CAN interface) an alias stands for; other names as they are. */
  resolve(name: string): string {
    return Object.prototype.hasOwnProperty.call(this.input.aliases, name) ? this.input.aliases[name]! : name;
  }

  serial(device: string, write: boolean): boolean {
    const path = this.resolve(device);
    const ok = (g: Grant) =>
      g.kind === 'serial' && (g.device === '*' || this.resolve(g.device) === path) && (!write || g.write);
    return this.requests.some(ok) && this.granted.some(ok);
  }

  /** PGNs the plugin may read on the interface: 'all', a set, or undefined when denied. */
  canPgns(iface: string): ReadonlySet<number> | 'all' | undefined {
    const name = this.resolve(iface);
    const union = (list: Grant[]): Set<number> | 'all' | undefined => {
      let out: Set<number> | undefined;
      for (const g of list) {
        if (g.kind !== 'can' || (g.iface !== '*' && this.resolve(g.iface) !== name)) continue;
        if (g.pgns === 'all') return 'all';
        out = new Set([...(out ?? []), ...g.pgns]);
      }
      return out;
    };
    const requested = union(this.requests);
    const granted = union(this.granted);
    if (requested === undefined || granted === undefined) return undefined;
    if (requested === 'all') return granted;
    if (granted === 'all') return requested;
    const both = new Set([...requested].filter((p) => granted.has(p)));
    return both.size > 0 ? both : undefined;
  }

  canWrite(iface: string): boolean {
    const name = this.resolve(iface);
    const ok = (g: Grant) => g.kind === 'can-write' && (g.iface === '*' || this.resolve(g.iface) === name);
    return this.requests.some(ok) && this.granted.some(ok);
  }

  mqttPublish(topic: string): boolean {
    const ok = (g: Grant) => g.kind === 'mqtt' && g.op === 'publish' && topicMatches(g.filter, topic);
    return this.requests.some(ok) && this.granted.some(ok);
  }

  mqttSubscribe(filter: string): boolean {
    const ok = (g: Grant) => g.kind === 'mqtt' && g.op === 'subscribe' && filterCovers(g.filter, filter);
    return this.requests.some(ok) && this.granted.some(ok);
  }

  net(host: string, port: number): boolean {
    const ok = (g: Grant) =>
      g.kind === 'net' && (g.host === '*' || g.host === host) && (g.port === '*' || g.port === port);
    return this.requests.some(ok) && this.granted.some(ok);
  }

  /** For status: what was requested, granted, and what is in effect, as grant strings. */
  describe(): { requested: string[]; granted: string[]; effective: string[] } {
    const effective = FLAG_NAMES.filter((n) => this.effectiveFlags[n]) as string[];
    for (const r of this.requests) {
      if (r.kind === 'flag') continue;
      for (const g of this.granted) {
        const both = intersect(r, g, (n) => this.resolve(n));
        if (both !== undefined && !effective.includes(both)) effective.push(both);
      }
    }
    return {
      requested: [...FLAG_NAMES.filter((n) => this.input.requestedFlags[n]), ...this.input.requests.map(formatGrant)],
      granted: this.input.granted.map(formatGrant),
      effective,
    };
  }
}

/**
 * Upstream booleans that stand for a broad request: serialPorts → any serial device, rawSockets and
 * network (HTTP fetch) → any host; the operator's net: grants say which.
 */
function implicitRequests(flags: Flags): Grant[] {
  const out: Grant[] = [];
  if (flags.serialPorts) out.push({ kind: 'serial', device: '*', write: false });
  if (flags.rawSockets || flags.network) out.push({ kind: 'net', host: '*', port: '*' });
  return out;
}

const pick = (a: string, b: string, resolve: (n: string) => string): string | undefined =>
  a === '*' ? b : b === '*' || resolve(a) === resolve(b) ? a : undefined;

/** The grant string both allow, when one of them is contained in the other (for display). */
function intersect(r: Grant, g: Grant, resolve: (n: string) => string): string | undefined {
  if (r.kind === 'serial' && g.kind === 'serial') {
    const device = pick(r.device, g.device, resolve);
    return device === undefined ? undefined : formatGrant({ kind: 'serial', device, write: r.write && g.write });
  }
  if (r.kind === 'can' && g.kind === 'can') {
    const iface = pick(r.iface, g.iface, resolve);
    if (iface === undefined) return undefined;
    const pgns =
      r.pgns === 'all'
        ? g.pgns
        : g.pgns === 'all'
          ? r.pgns
          : new Set([...r.pgns].filter((p) => (g.pgns as ReadonlySet<number>).has(p)));
    return pgns !== 'all' && pgns.size === 0 ? undefined : formatGrant({ kind: 'can', iface, pgns });
  }
  if (r.kind === 'can-write' && g.kind === 'can-write') {
    const iface = pick(r.iface, g.iface, resolve);
    return iface === undefined ? undefined : formatGrant({ kind: 'can-write', iface });
  }
  if (r.kind === 'mqtt' && g.kind === 'mqtt' && r.op === g.op) {
    if (filterCovers(g.filter, r.filter)) return formatGrant(r);
    if (filterCovers(r.filter, g.filter)) return formatGrant(g);
    return undefined;
  }
  if (r.kind === 'net' && g.kind === 'net') {
    const host = pick(r.host, g.host, (n) => n);
    const port = r.port === '*' ? g.port : g.port === '*' || g.port === r.port ? r.port : undefined;
    return host === undefined || port === undefined ? undefined : formatGrant({ kind: 'net', host, port });
  }
  return undefined;
}
