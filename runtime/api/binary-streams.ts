// Binary streams from plugins to WebSocket clients (sk_emit_binary_stream), as upstream serves
// them: a client connects to /signalk/v2/api/streams/<stream id> and receives every frame emitted
// on that id as one binary message. Stream ids are `plugins/<plugin id>/<name>` (the emitting
// plugin's own) or `radars/<radar id>` (radar providers). A client that does not keep up (over
// MAX_BUFFERED_BYTES waiting in its socket) has frames dropped and counted, never buffered without
// bound; the plugin is not slowed down by it. Counters: GET /signalk/v2/api/streams. Radar spokes
// (sk_radar_emit_spokes) are the stream radars/<id>, also at /signalk/v2/api/vessels/self/radars/<id>/spokes.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { ApiRoutes } from './types.js';
import { requireCjs } from '../../core/require-cjs.js';

const { WebSocketServer } = requireCjs<typeof import('ws')>('ws');

export const STREAMS_PATH = '/signalk/v2/api/streams';
/** Upstream's bound per client. */
export const MAX_BUFFERED_BYTES = 256 * 1024;
/** A frame larger than this is refused at the host function. */
export const MAX_FRAME_BYTES = 1024 * 1024;
const RADAR_SPOKES = /^\/signalk\/v2\/api\/vessels\/self\/radars\/([^/]+)\/spokes$/;
/** Stream ids: path segments of URL-safe characters. */
const STREAM_ID = /^[A-Za-z0-9_.~-]+(\/[A-Za-z0-9_.~-]+){1,3}$/;

interface Client {
  ws: WebSocket;
  dropped: number;
}

interface StreamStats {
  frames: number;
  sent: number;
  dropped: number;
}

export function validStreamId(id: string): boolean {
  return id.length <= 200 && STREAM_ID.test(id);
}

export class BinaryStreamHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  private readonly clients = new Map<string, Set<Client>>();
  private readonly stats = new Map<string, StreamStats>();

  /** The stream id a WebSocket upgrade path addresses, or undefined when it is no stream path. */
  match(pathname: string): string | undefined {
    // Upstream's radar spokes URL is another name for the stream radars/<id>.
    const spokes = RADAR_SPOKES.exec(pathname);
    const raw = spokes
      ? `radars/${spokes[1]}`
      : pathname.startsWith(`${STREAMS_PATH}/`)
        ? pathname.slice(STREAMS_PATH.length + 1)
        : undefined;
    if (raw === undefined) return undefined;
    let id: string;
    try {
      id = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    return validStreamId(id) ? id : undefined;
  }

  accept(req: IncomingMessage, socket: Duplex, head: Buffer, streamId: string): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const client: Client = { ws, dropped: 0 };
      const set = this.clients.get(streamId) ?? new Set<Client>();
      set.add(client);
      this.clients.set(streamId, set);
      const remove = (): void => {
        set.delete(client);
        if (set.size === 0) this.clients.delete(streamId);
      };
      ws.on('close', remove);
      ws.on('error', remove);
      // One-way: what a client sends is ignored.
      ws.on('message', () => undefined);
    });
  }

  /** Sends a frame to the stream's clients; returns how many got it (0: nobody listens). */
  emit(streamId: string, data: Uint8Array): number {
    const stats = this.stats.get(streamId) ?? { frames: 0, sent: 0, dropped: 0 };
    this.stats.set(streamId, stats);
    stats.frames++;
    const set = this.clients.get(streamId);
    if (!set) return 0;
    let sent = 0;
    const copy = Buffer.from(data); // the plugin's memory may change before the socket writes
    for (const client of set) {
      if (client.ws.readyState !== client.ws.OPEN) continue;
      if (client.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
        client.dropped++;
        stats.dropped++;
        continue;
      }
      client.ws.send(copy, { binary: true });
      stats.sent++;
      sent++;
    }
    return sent;
  }

  status(): Record<string, StreamStats & { clients: number; clientDrops: number[] }> {
    const out: Record<string, StreamStats & { clients: number; clientDrops: number[] }> = {};
    for (const id of new Set([...this.stats.keys(), ...this.clients.keys()])) {
      const set = [...(this.clients.get(id) ?? [])];
      out[id] = {
        ...(this.stats.get(id) ?? { frames: 0, sent: 0, dropped: 0 }),
        clients: set.length,
        clientDrops: set.map((c) => c.dropped),
      };
    }
    return out;
  }

  routes(): ApiRoutes {
    return (app) => {
      app.get(STREAMS_PATH, { config: { access: 'read' } }, () => this.status());
    };
  }

  close(): void {
    for (const set of this.clients.values()) for (const c of set) c.ws.terminate();
    this.clients.clear();
    this.wss.close();
  }
}
