// The HTTP API under load: request latency (sequential, keep-alive) and throughput (8 in flight) of
// GET /signalk/v1/api/vessels/self and of a PUT, and the RSS of the serving process. The API runs
// in a child process (bus → model → API, no sources or plugins) so its RSS is the server's alone;
// once with security off (the demo) and once on, with a readwrite user's token on every request.
// Then the security gate alone, in process: the cost of one auth check (token verified, user and
// revocation looked up) against the same check with security off.

import { execPath } from 'node:process';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { DeltaBus } from '../runtime/bus/bus.js';
import { SignalKModel } from '../runtime/model/model.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApi } from '../runtime/api/server.js';
import { setLogLevel } from '../core/log.js';
import { SecurityGate } from '../runtime/security/gate.js';
import { hashPassword } from '../runtime/security/passwords.js';
import { SECURITY_OFF } from '../runtime/security/settings.js';
import { SecurityStore } from '../runtime/security/store.js';
import { TokenService } from '../runtime/security/tokens.js';
import { median } from './stats.js';

const SELF = 'urn:mrn:imo:mmsi:230000001';
const SEQUENTIAL = 2000;
const CONCURRENT = 4000;
const IN_FLIGHT = 8;

const SECURE = { ...SECURITY_OFF, enabled: true, allowReadOnly: false };

/** A data folder with a readwrite user, and a token of theirs. */
async function securedData(): Promise<{ dataDir: string; token: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ske-bench-api-'));
  const store = new SecurityStore(dataDir);
  store.putUser({ username: 'crew', permission: 'readwrite', password: await hashPassword('bench-password') });
  const { token } = await new TokenService(store).issueForUser('crew', 3600);
  return { dataDir, token };
}

async function child(mode: string, dataDir: string | undefined): Promise<void> {
  setLogLevel('warn');
  const bus = new DeltaBus(`vessels.${SELF}`);
  const model = new SignalKModel(SELF);
  bus.subscribe((msg) => model.apply(msg.delta));
  // A self vessel with a few dozen values, as a small boat has.
  const values = Array.from({ length: 40 }, (_, i) => ({ path: `environment.sensor${i}.temperature`, value: 290 + i }));
  bus.publish(
    {
      updates: [
        {
          source: { label: 'bench', type: 'NMEA0183', talker: 'II', sentence: 'XDR' },
          timestamp: new Date().toISOString(),
          values,
        },
      ],
    },
    'bench',
  );
  const api = await startApi({
    host: '127.0.0.1',
    port: 0,
    bus,
    model,
    sources: () => [],
    routes: [],
    put: () => ({ state: 'COMPLETED', statusCode: 200 }),
    ...(mode === 'secure' ? { security: SECURE, dataDir } : {}),
  });
  process.stdout.write(`${api.url}\n`);
}

interface Reply {
  status: number;
}

function call(
  agent: Agent,
  url: string,
  method: string,
  body: string | undefined,
  token: string | undefined,
): Promise<Reply> {
  const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function load(
  url: string,
  method: string,
  body: string | undefined,
  token: string | undefined,
): Promise<{ p50: number; p99: number; perSecond: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  try {
    for (let i = 0; i < 200; i++) await call(agent, url, method, body, token); // warm-up
    const times: number[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) {
      const t0 = performance.now();
      const r = await call(agent, url, method, body, token);
      times.push(performance.now() - t0);
      if (r.status !== 200) throw new Error(`${method} ${url}: ${r.status}`);
    }
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next++ < CONCURRENT) await call(agent, url, method, body, token);
      }),
    );
    const perSecond = CONCURRENT / ((performance.now() - t0) / 1000);
    times.sort((a, b) => a - b);
    return { p50: median(times), p99: times[Math.floor(times.length * 0.99)] ?? NaN, perSecond };
  } finally {
    agent.destroy();
  }
}

async function serve(
  mode: 'open' | 'secure',
  token: string | undefined,
  dataDir: string | undefined,
): Promise<string[]> {
  const proc = spawn(execPath, [fileURLToPath(import.meta.url), 'child', mode, dataDir ?? ''], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const [base] = (await once(createInterface({ input: proc.stdout }), 'line')) as [string];
    const label = mode === 'open' ? 'security off' : 'security on, Bearer token';
    const lines: string[] = [`[${label}] RSS of the API process, idle after start: ${rssMb(proc.pid!).toFixed(1)} MB`];
    const cases: [string, string, string, string | undefined][] = [
      ['GET  /signalk/v1/api/vessels/self', `${base}/signalk/v1/api/vessels/self`, 'GET', undefined],
      [
        'PUT  .../electrical/switches/anchorLight/state',
        `${base}/signalk/v1/api/vessels/self/electrical/switches/anchorLight/state`,
        'PUT',
        '{"value":1}',
      ],
    ];
    for (const [name, url, method, body] of cases) {
      const r = await load(url, method, body, token);
      lines.push(
        `[${label}] ${name}: p50 ${(r.p50 * 1000).toFixed(0)} µs, p99 ${(r.p99 * 1000).toFixed(0)} µs sequential; ${r.perSecond.toFixed(0)} req/s with ${IN_FLIGHT} in flight`,
      );
    }
    lines.push(
      `[${label}] RSS of the API process after ${2 * (SEQUENTIAL + CONCURRENT + 200)} requests: ${rssMb(proc.pid!).toFixed(1)} MB`,
    );
    return lines;
  } finally {
    proc.kill();
  }
}

/** µs per gate.admit() of a request needing readwrite. */
async function gateCost(gate: SecurityGate, headers: Record<string, string>): Promise<number> {
  const req = { method: 'PUT', url: '/signalk/v1/api/vessels/self/a', headers: { host: '127.0.0.1:3000', ...headers } };
  for (let i = 0; i < 2000; i++) await gate.admit(req, 'write');
  const n = 20_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const v = await gate.admit(req, 'write');
    if (!v.ok) throw new Error(v.error);
  }
  return ((performance.now() - t0) * 1000) / n;
}

/** µs to verify a token seen for the first time (HMAC through jose), over `n` fresh tokens. */
async function firstVerifyCost(dataDir: string): Promise<number> {
  const tokens = new TokenService(new SecurityStore(dataDir));
  const fresh = await Promise.all(Array.from({ length: 2000 }, () => tokens.issueForUser('crew', 3600)));
  const t0 = performance.now();
  for (const { token } of fresh) if ('error' in (await tokens.verify(token))) throw new Error('token refused');
  return ((performance.now() - t0) * 1000) / fresh.length;
}

export async function benchApi(): Promise<string[]> {
  const { dataDir, token } = await securedData();
  try {
    const lines = [...(await serve('open', undefined, undefined)), ...(await serve('secure', token, dataDir))];
    const open = await gateCost(new SecurityGate({ bindHost: '127.0.0.1', selfContext: 'vessels.self' }), {});
    const secure = await gateCost(
      new SecurityGate({ security: SECURE, dataDir, bindHost: '127.0.0.1', selfContext: 'vessels.self' }),
      { authorization: `Bearer ${token}` },
    );
    lines.push(
      `security gate per request: ${open.toFixed(2)} µs with security off (host check only), ${secure.toFixed(2)} µs with a known token (signature remembered; expiry, revocation and user looked up); ratio ${(secure / open).toFixed(1)}`,
    );
    lines.push(
      `first request with a new token (JWT HS256 verified by jose through WebCrypto): ${(await firstVerifyCost(dataDir)).toFixed(1)} µs`,
    );
    return lines;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href && process.argv[2] === 'child') {
  void child(process.argv[3] ?? 'open', process.argv[4] || undefined);
}
