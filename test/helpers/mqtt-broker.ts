// A real MQTT broker (aedes) on 127.0.0.1 for tests: port 0 for a free port, or a given port to
// reopen a broker where a closed one was (reconnect tests); aedes options for ACLs. close() drops
// every client at once, like a broker that crashes.

import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes, type AedesOptions } from 'aedes';

export interface TestBroker {
  aedes: Aedes;
  port: number;
  /** mqtt://127.0.0.1:<port> */
  url: string;
  close(): Promise<void>;
}

export async function startBroker(port = 0, options: AedesOptions = {}): Promise<TestBroker> {
  const aedes = await Aedes.createBroker(options);
  const server = createServer(aedes.handle);
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    aedes,
    port: bound,
    url: `mqtt://127.0.0.1:${bound}`,
    close: () =>
      (closed ??= (async () => {
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => aedes.close(() => resolve()));
        await serverClosed;
      })()),
  };
}
