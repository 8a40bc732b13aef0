// A CAN bus twin behind the SocketCAN driver's seams (`binding`, `sysfs`): channels opened on one
// interface hear what the others send, as Linux delivers a frame to every other socket on the
// interface once it went out (loopback mode, or another node acknowledged it). `acked: false` is a
// bus with nobody else on it: frames never complete, so nothing is heard.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChannelBinding, RawChannel } from '../../hal/can/channel.js';

export function canBusTwin(options: { acked: boolean }): ChannelBinding {
  const channels = new Map<string, Set<Channel>>();

  class Channel implements RawChannel {
    private messages: ((msg: unknown) => void)[] = [];

    constructor(private readonly iface: string) {}

    addListener(event: 'onMessage' | 'onStopped', listener: (msg?: unknown) => void): unknown {
      if (event === 'onMessage') this.messages.push(listener);
      return this;
    }

    start(): void {
      const set = channels.get(this.iface) ?? new Set();
      set.add(this);
      channels.set(this.iface, set);
    }

    stop(): void {
      channels.get(this.iface)?.delete(this);
    }

    send(msg: { id: number; ext: boolean; rtr: boolean; data: Buffer }): void {
      if (!options.acked) return;
      for (const other of channels.get(this.iface) ?? []) {
        if (other === this) continue;
        const copy = { id: msg.id, ext: msg.ext, rtr: msg.rtr, data: Buffer.from(msg.data) };
        setImmediate(() => other.messages.forEach((l) => l(copy)));
      }
    }
  }

  return { name: 'can bus twin', open: (iface) => new Channel(iface) };
}

/** A /sys/class/net with one interface: its operstate, and a `device` link when a controller is behind it. */
export function fakeSysfs(dir: string, iface: string, state: 'up' | 'down', controller: boolean): string {
  mkdirSync(join(dir, iface), { recursive: true });
  writeFileSync(join(dir, iface, 'operstate'), `${state}\n`);
  writeFileSync(join(dir, iface, 'type'), '280\n');
  if (controller) mkdirSync(join(dir, iface, 'device'));
  return dir;
}
