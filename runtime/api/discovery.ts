// The Signal K discovery document (`GET /signalk`) and the server identity shared with the stream hello.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { PROJECT_ROOT } from '../config/settings.js';

export const SERVER_ID = 'signalk-edge';

function readVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8'));
    const version = typeof pkg === 'object' && pkg !== null ? (pkg as { version?: unknown }).version : undefined;
    return typeof version === 'string' ? version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** This runtime's version, from package.json. */
export const SERVER_VERSION = readVersion();

/**
 * URLs are built from the request's Host header, so a client that reached us through a name, an
 * address or a port forward gets URLs that work from where it stands. `fallbackHost` is used when a
 * client sent no (or a malformed) Host header.
 */
export function discoveryDocument(req: IncomingMessage, specVersion: string, fallbackHost: string): unknown {
  const header = req.headers.host;
  const host = header && /^[A-Za-z0-9.\-:[\]]+$/.test(header) ? header : fallbackHost;
  return {
    endpoints: {
      v1: {
        version: specVersion,
        'signalk-http': `http://${host}/signalk/v1/api/`,
        'signalk-ws': `ws://${host}/signalk/v1/stream`,
      },
    },
    server: { id: SERVER_ID, version: SERVER_VERSION },
  };
}
