// The native CAN socket binding behind the SocketCAN driver, loaded on first use only: boards
// without CAN (and every test and replay) never load a native addon. `socketcan` (an optional
// dependency) is preferred; canboatjs, which the N2K codec needs anyway, ships a drop-in channel
// with the same API and a prebuilt addon, used when `socketcan` is not installed.

/** A received frame as the bindings report it (`ext`/`rtr`/`err` from socketcan only). */
export interface ChannelMessage {
  id: number;
  data: Buffer;
  ext?: boolean;
  rtr?: boolean;
  err?: boolean;
}

/** The raw channel both bindings provide. */
export interface RawChannel {
  addListener(event: 'onMessage', listener: (msg: unknown) => void): unknown;
  addListener(event: 'onStopped', listener: (reason?: unknown) => void): unknown;
  start(): void;
  stop(): void;
  send(msg: { id: number; ext: boolean; rtr: boolean; data: Buffer }): void;
}

export type OpenChannel = (iface: string) => RawChannel;

export interface ChannelBinding {
  name: string;
  open: OpenChannel;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return (typeof v === 'object' || typeof v === 'function') && v !== null;
}

/** A received message checked at the edge: numeric id, Buffer data. */
export function parseChannelMessage(msg: unknown): ChannelMessage | undefined {
  if (!isRecord(msg) || typeof msg.id !== 'number' || !Buffer.isBuffer(msg.data)) return undefined;
  return { id: msg.id, data: msg.data, ext: msg.ext === true, rtr: msg.rtr === true, err: msg.err === true };
}

function checkChannel(channel: unknown, binding: string): RawChannel {
  const c = isRecord(channel) ? channel : {};
  for (const m of ['addListener', 'start', 'stop', 'send']) {
    if (typeof c[m] !== 'function') throw new Error(`${binding} returned a channel without ${m}()`);
  }
  return channel as RawChannel;
}

/** `socketcan`'s createRawChannel, looked up in the CommonJS namespace whichever way it is exposed. */
async function loadSocketcan(): Promise<ChannelBinding> {
  const specifier = 'socketcan'; // a variable: the optional dependency must not be needed to compile
  const mod: unknown = await import(specifier);
  const ns = isRecord(mod) ? mod : {};
  const api = isRecord(ns.default) && typeof ns.default.createRawChannel === 'function' ? ns.default : ns;
  const create = api.createRawChannel;
  if (typeof create !== 'function') throw new Error('socketcan has no createRawChannel()');
  return {
    name: 'socketcan',
    open: (iface) => checkChannel(create.call(api, iface, true), 'socketcan'),
  };
}

async function loadCanboat(): Promise<ChannelBinding> {
  const { CanChannel } = await import('@canboat/canboatjs/dist/canSocket.js');
  return { name: '@canboat/canboatjs', open: (iface) => checkChannel(new CanChannel(iface), '@canboat/canboatjs') };
}

let loading: Promise<ChannelBinding> | undefined;

/** The first binding that loads, once per process; rejects naming why each failed. */
export function loadChannelBinding(): Promise<ChannelBinding> {
  loading ??= loadSocketcan().catch((first: unknown) =>
    loadCanboat().catch((second: unknown) => {
      throw new Error(
        `no CAN socket binding (socketcan: ${(first as Error).message}; @canboat/canboatjs: ${(second as Error).message})`,
      );
    }),
  );
  return loading;
}
