// Helpers for the plugin tests: plugin folders copied from the built examples and fixtures, and
// HTTP/WebSocket clients of a runtime (started with startTestRuntime from ./runtime.js).

import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { Runtime } from '../../runtime/app.js';
import { ensurePluginsBuilt } from './plugin-wasm.js';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';
import type { JsonValue } from '../../core/json.js';
import { writePluginConfig } from '../../runtime/plugins/plugin-config.js';
import { configFile } from '../../runtime/storage/plugin-storage.js';

export const EXAMPLES = join(PROJECT_ROOT, 'examples');
export const FIXTURES = join(PROJECT_ROOT, 'test', 'fixtures', 'plugins');

export const IDS = {
  trueWind: '_signalk-edge_true-wind',
  tripLog: '_signalk-edge_trip-log',
  anchorLight: '_signalk-edge_anchor-light',
  deriveAll: '_signalk-edge-fixture_derive-all',
  trapOnDelta: '_signalk-edge-fixture_trap-on-delta',
  missingImport: '_signalk-edge-fixture_missing-import',
} as const;

// Plugin folders live as long as the test file's worker: runtimes may still watch them during teardown.
const folders: string[] = [];
process.once('exit', () => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

/** A temp plugin folder holding copies of the named built packages (`examples/<name>` or `fixtures/<name>`). */
export async function pluginFolder(packages: { from: string; name: string; as?: string }[]): Promise<string> {
  await ensurePluginsBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'ske-plugins-'));
  folders.push(dir);
  for (const p of packages) {
    const target = join(dir, p.as ?? p.name);
    mkdirSync(target, { recursive: true });
    cpSync(join(p.from, p.name), target, {
      recursive: true,
      filter: (src) => !src.includes(`${join(p.from, p.name)}/assembly`),
    });
  }
  return dir;
}

export interface JsonResponse {
  status: number;
  body: unknown;
}

export async function http(runtime: Runtime, method: string, path: string, body?: unknown): Promise<JsonResponse> {
  const res = await fetch(`${runtime.api.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text for the assertion message
  }
  return { status: res.status, body: parsed };
}

export interface PluginView {
  id: string;
  state: string;
  enabled: boolean;
  statusMessage?: string;
  errorMessage?: string;
  restarts?: number;
  crashes?: number;
  deltas?: { received: number; emitted: number; rejected: number; dropped: number };
  events?: { at: string; event: string }[];
  [key: string]: unknown;
}

export async function pluginStatus(runtime: Runtime, id: string): Promise<PluginView> {
  const r = await http(runtime, 'GET', `/plugins/${encodeURIComponent(id)}`);
  if (r.status !== 200) throw new Error(`GET /plugins/${id}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as PluginView;
}

/** A WebSocket client on the runtime's stream that keeps every message. */
export async function openStream(
  runtime: Runtime,
  query = 'subscribe=all',
): Promise<{ messages: unknown[]; close(): void }> {
  const ws = new WebSocket(`${runtime.api.url.replace(/^http/, 'ws')}/signalk/v1/stream?${query}`);
  const messages: unknown[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data))));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { messages, close: () => ws.close() };
}

/** A WebSocket client of a binary stream (or radar spokes) that keeps every binary frame. */
export async function binaryClient(
  wsUrl: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ ws: WebSocket; frames: Buffer[] }> {
  const ws = new WebSocket(`${wsUrl}${path}`, { headers });
  const frames: Buffer[] = [];
  ws.on('message', (data, isBinary) => {
    if (isBinary) frames.push(data as Buffer);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, frames };
}

/** Publishes a self-vessel delta from a test source. */
export function publish(runtime: Runtime, values: { path: string; value: unknown }[], label = 'test'): void {
  const reason = runtime.bus.publish({ updates: [{ source: { label }, values }] }, label);
  if (reason) throw new Error(`test delta refused: ${reason}`);
}

/** Writes a plugin's config file (enabled, with this configuration) before the runtime starts. */
export function configurePlugin(dataDir: string, id: string, configuration: JsonValue): void {
  writePluginConfig(configFile(dataDir, id), { enabled: true, configuration });
}

/** The value at a dotted path of the self vessel in the runtime's model. */
export function selfValue(runtime: Runtime, path: string): unknown {
  const node = runtime.model.get([...runtime.model.selfContext.split('.'), ...path.split('.')]) as
    { value?: unknown } | undefined;
  return node?.value;
}
