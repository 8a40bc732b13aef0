// NMEA 0183 pipeline benchmark, one input for both figures: the demo passage's good lines
// repeated to ~200k lines.
//  (a) codec alone: the library's Parser.parse over the lines in memory (and our codec's decode,
//      which adds the structural checks and delta validation);
//  (b) end to end: a `fast` replay of the same lines as a file through framing, codec, bus and
//      model to one real WebSocket subscriber (`subscribe=all`) of a running runtime, timed from
//      the replay's start until the subscriber has received every delta.
// `node dist/bench/pipeline.js`, or as part of `npm run bench`.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Parser } from '@signalk/nmea0183-signalk';
import WebSocket from 'ws';
import { startRuntime } from '../runtime/app.js';
import { DEMO_LOG } from '../runtime/config/settings.js';
import { Nmea0183Codec } from '../hal/codecs/nmea0183/codec.js';
import { createSource } from '../hal/sources/table.js';
import { createDevices } from '../hal/devices.js';

const TARGET_LINES = 200_000;

const mb = (bytes: number): string => `${(bytes / 1048576).toFixed(0)} MB`;
const rate = (n: number, ms: number): string => `${Math.round((n / ms) * 1000).toLocaleString('en-US')} sentences/s`;

/** The demo passage's lines that decode to a delta, repeated to about TARGET_LINES. */
function input(): string[] {
  const codec = new Nmea0183Codec('bench');
  const good = readFileSync(DEMO_LOG, 'latin1')
    .split(/\r?\n/)
    .filter((l) => l !== '' && codec.decode(l).kind === 'delta');
  const lines: string[] = [];
  while (lines.length < TARGET_LINES) lines.push(...good);
  return lines;
}

function timeCodec(lines: string[]): { parseMs: number; decodeMs: number } {
  const parser = new Parser();
  const codec = new Nmea0183Codec('bench');
  let parseMs = Infinity;
  let decodeMs = Infinity;
  // Alternating rounds, best of three: the first round also warms up the JIT.
  for (let round = 0; round < 3; round++) {
    let t0 = performance.now();
    for (const l of lines) parser.parse(l);
    parseMs = Math.min(parseMs, performance.now() - t0);
    t0 = performance.now();
    for (const l of lines) codec.decode(l);
    decodeMs = Math.min(decodeMs, performance.now() - t0);
  }
  return { parseMs, decodeMs };
}

/** Updates received by a WebSocket subscriber, counted as they arrive. */
async function subscribe(url: string): Promise<{ received: () => number; close: () => void }> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/signalk/v1/stream?subscribe=all`);
  let updates = 0;
  ws.on('message', (data: WebSocket.RawData) => {
    const msg: unknown = JSON.parse(data.toString());
    if (typeof msg === 'object' && msg !== null && 'updates' in msg && Array.isArray(msg.updates))
      updates += msg.updates.length;
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { received: () => updates, close: () => ws.close() };
}

async function timePipeline(
  lines: string[],
  dir: string,
): Promise<{ ms: number; deltas: number; received: number; peakRss: number }> {
  const file = join(dir, 'bench.nmea');
  await writeFile(file, lines.join('\r\n') + '\r\n');
  const runtime = await startRuntime({
    port: 0,
    host: '127.0.0.1',
    dataDir: join(dir, 'data'),
    sources: [],
    plugins: { dirs: [], watch: false },
  });
  const client = await subscribe(runtime.api.url);
  const source = await createSource(
    { id: 'bench', type: 'replay', file, rate: 'fast', linesPerSecond: 1, loop: false },
    runtime.bus,
    createDevices(),
  );
  let peakRss = process.memoryUsage().rss;
  const t0 = performance.now();
  source.start();
  try {
    for (;;) {
      await new Promise((r) => setTimeout(r, 5));
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      const status = source.status();
      if (status.state === 'ended' && client.received() >= status.deltas) break;
      if (performance.now() - t0 > 300_000)
        throw new Error(`subscriber got ${client.received()} of ${status.deltas} updates in 5 min`);
    }
    return { ms: performance.now() - t0, deltas: source.status().deltas, received: client.received(), peakRss };
  } finally {
    client.close();
    await source.stop();
    await runtime.stop();
  }
}

export async function benchPipeline(): Promise<string[]> {
  const lines = input();
  const dir = await mkdtemp(join(tmpdir(), 'skedge-bench-'));
  try {
    const { parseMs, decodeMs } = timeCodec(lines);
    const rssCodec = process.memoryUsage().rss;
    const p = await timePipeline(lines, dir);
    const parseRate = (lines.length / parseMs) * 1000;
    const pipeRate = (lines.length / p.ms) * 1000;
    return [
      `NMEA 0183 pipeline (${lines.length.toLocaleString('en-US')} sentences, demo passage repeated)`,
      `  codec alone, library Parser.parse:        ${rate(lines.length, parseMs)}`,
      `  codec alone, checks + parse + validation: ${rate(lines.length, decodeMs)}`,
      `  replay fast → codec → bus → model → 1 WebSocket subscriber: ${rate(lines.length, p.ms)} ` +
        `(${p.received.toLocaleString('en-US')} of ${p.deltas.toLocaleString('en-US')} updates received, ${(p.ms / 1000).toFixed(1)} s)`,
      `  ratio pipeline / Parser.parse: ${(pipeRate / parseRate).toFixed(2)}`,
      `  RSS: ${mb(rssCodec)} after the codec runs, ${mb(p.peakRss)} peak during the pipeline run`,
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
