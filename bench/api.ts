// The HTTP API under load: request latency (sequential, keep-alive) and throughput (8 in flight) of
// GET /signalk/v1/api/vessels/self and of a PUT, and the RSS of the serving process. The API runs
// in a child process (bus → model → API, no sources or plugins) so its RSS is the server's alone.

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
import { startApi } from '../runtime/api/server.js';
import { setLogLevel } from '../runtime/log.js';
import { median } from './stats.js';

const SELF = 'urn:mrn:imo:mmsi:230000001';
const SEQUENTIAL = 2000;
const CONCURRENT = 4000;
const IN_FLIGHT = 8;

async function child(): Promise<void> {
  setLogLevel('warn');
  const bus = new DeltaBus(`vessels.${SELF}`);
  const model = new SignalKModel(SELF);
  bus.subscribe((msg) => model.apply(msg.delta));
  // A self vessel with a few dozen values, as a small boat has.
  const values = Array.from({ length: 40 }, (_, i) => ({ path: `environment.sensor${i}.temperature`, value: 290 + i }));
  bus.publish({ updates: [{ source: { label: 'bench', type: 'NMEA0183', talker: 'II', sentence: 'XDR' }, timestamp: new Date().toISOString(), values }] }, 'bench');
  const api = await startApi({
    host: '127.0.0.1',
    port: 0,
    bus,
    model,
    sources: () => [],
    routes: [],
    put: () => ({ state: 'COMPLETED', statusCode: 200 }),
  });
  process.stdout.write(`${api.url}\n`);
}

interface Reply {
  status: number;
}

function call(agent: Agent, url: string, method: string, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
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

async function load(url: string, method: string, body?: string): Promise<{ p50: number; p99: number; perSecond: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  try {
    for (let i = 0; i < 200; i++) await call(agent, url, method, body); // warm-up
    const times: number[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) {
      const t0 = performance.now();
      const r = await call(agent, url, method, body);
      times.push(performance.now() - t0);
      if (r.status !== 200) throw new Error(`${method} ${url}: ${r.status}`);
    }
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next++ < CONCURRENT) await call(agent, url, method, body);
      }),
    );
    const perSecond = CONCURRENT / ((performance.now() - t0) / 1000);
    times.sort((a, b) => a - b);
    return { p50: median(times), p99: times[Math.floor(times.length * 0.99)] ?? NaN, perSecond };
  } finally {
    agent.destroy();
  }
}

export async function benchApi(): Promise<string[]> {
  const proc = spawn(execPath, [fileURLToPath(import.meta.url), 'child'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [base] = (await once(createInterface({ input: proc.stdout }), 'line')) as [string];
    const idle = rssMb(proc.pid!);
    const lines: string[] = [`RSS of the API process, idle after start: ${idle.toFixed(1)} MB`];
    const cases: [string, string, string, string | undefined][] = [
      ['GET  /signalk/v1/api/vessels/self', `${base}/signalk/v1/api/vessels/self`, 'GET', undefined],
      ['PUT  .../electrical/switches/anchorLight/state', `${base}/signalk/v1/api/vessels/self/electrical/switches/anchorLight/state`, 'PUT', '{"value":1}'],
    ];
    for (const [name, url, method, body] of cases) {
      const r = await load(url, method, body);
      lines.push(`${name}: p50 ${(r.p50 * 1000).toFixed(0)} µs, p99 ${(r.p99 * 1000).toFixed(0)} µs sequential; ${r.perSecond.toFixed(0)} req/s with ${IN_FLIGHT} in flight`);
    }
    lines.push(`RSS of the API process after ${2 * (SEQUENTIAL + CONCURRENT + 200)} requests: ${rssMb(proc.pid!).toFixed(1)} MB`);
    return lines;
  } finally {
    proc.kill();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href && process.argv[2] === 'child') {
  void child();
}
