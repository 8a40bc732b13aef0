// The upstream JavaScript client (@signalk/client: CommonJS, WebSocket from isomorphic-ws → ws in
// Node, no types) as the tests use it against a runtime on 127.0.0.1.

import { createRequire } from 'node:module';

/** The part of @signalk/client's Client the tests use. */
export interface SkClient {
  connect(): Promise<unknown>;
  subscribe(command: { context: string; subscribe: { path: string; policy?: string }[] }): void;
  disconnect(): void;
  on(event: 'connectionInfo' | 'delta' | 'error', listener: (data: unknown) => void): void;
  API(): Promise<{ navigation(path: string): Promise<unknown> }>;
  readonly self: string | null;
  connection: { fetch(path: string, opts?: Record<string, unknown>): Promise<unknown>; _token: { token: string } };
}

const { Client } = createRequire(import.meta.url)('@signalk/client') as {
  Client: new (options: Record<string, unknown>) => SkClient;
};

/**
 * A client of the runtime on 127.0.0.1:`port`, without TLS, notifications or reconnecting; the test
 * calls connect(). `options` (the client's own) add to these.
 */
export function signalkClient(port: number, options: Record<string, unknown> = {}): SkClient {
  return new Client({
    hostname: '127.0.0.1',
    port,
    useTLS: false,
    reconnect: false,
    autoConnect: false,
    notifications: false,
    ...options,
  });
}
