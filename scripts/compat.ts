// `npm run compat`: signalk-server 2.32.0's example WASM plugins, fetched with `npm pack` into
// .cache/compat (scripts/upstream-package.ts), built from their sources with this project's
// asc and the npm packages they import (the SDK, as-fetch, assemblyscript-json), each run in a
// live runtime and checked through the API; plus this project's own Rust example. The weather
// examples' fetches are answered by a local stand-in for OpenWeatherMap through the runtime's
// injectable HTTP transport: nothing leaves the machine. Prints a table (example, feature,
// result) and exits 1 when a row fails. Upstream's code is only read from the cache, never copied
// into the repository.

import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PROJECT_ROOT, DEFAULT_PLUGIN_RESTART } from '../runtime/config/settings.js';
import { startRuntime, type Runtime } from '../runtime/app.js';
import type { HttpTransport } from '../runtime/abi/http-transport.js';
import type { GrantLists } from '../runtime/capabilities/store.js';
import type { JsonValue } from '../core/json.js';
import { derivePluginId } from '../runtime/plugins/discovery.js';
import { writePluginConfig } from '../runtime/plugins/plugin-config.js';
import { configFile } from '../runtime/storage/plugin-storage.js';
import { buildPlugin, OUTPUT_NAME } from './build-examples.js';
import { extractUpstream, UPSTREAM, UPSTREAM_CACHE } from './upstream-package.js';

const CACHE = UPSTREAM_CACHE;
const SOURCES = join(CACHE, 'examples');
const BUILT = join(CACHE, 'plugins');
const AS_EXAMPLES = [
  'example-hello-assemblyscript',
  'example-routes-waypoints',
  'example-weather-plugin',
  'example-weather-provider',
];
const WEATHER_HOST = 'api.openweathermap.org';

interface Row {
  example: string;
  feature: string;
  ok: boolean;
  detail: string;
}
const rows: Row[] = [];

async function check(example: string, feature: string, body: () => Promise<string>): Promise<void> {
  try {
    rows.push({ example, feature, ok: true, detail: await body() });
  } catch (err) {
    rows.push({ example, feature, ok: false, detail: (err as Error).message.split('\n')[0] });
  }
}

function expect(cond: boolean, what: string): void {
  if (!cond) throw new Error(what);
}

/** Builds an example from its sources (cached by source hash); its .wasm goes where its manifest says. */
async function buildExample(name: string, compiler: string): Promise<string> {
  const dir = join(BUILT, name);
  mkdirSync(dir, { recursive: true });
  for (const part of ['package.json', 'asconfig.json', 'assembly']) {
    const from = join(SOURCES, name, part);
    if (existsSync(from)) cpSync(from, join(dir, part), { recursive: true });
  }
  await buildPlugin(dir, compiler);
  const manifest = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { wasmManifest: string })
    .wasmManifest;
  const target = join(dir, manifest);
  if (target !== join(dir, OUTPUT_NAME)) {
    mkdirSync(dirname(target), { recursive: true });
    cpSync(join(dir, OUTPUT_NAME), target);
  }
  return dir;
}

function idOf(dir: string): string {
  return derivePluginId((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string }).name);
}

/** A plugin folder holding copies of the given packages. */
function pluginFolder(dirs: string[]): string {
  const folder = mkdtempSync(join(tmpdir(), 'ske-compat-'));
  for (const d of dirs)
    cpSync(d, join(folder, d.split('/').pop()!), { recursive: true, filter: (src) => !src.includes('/assembly') });
  return folder;
}

/** A stand-in for OpenWeatherMap: current weather and a forecast, in its JSON shape. Counts the requests it answered. */
function weatherStandIn(): { transport: HttpTransport; requests: string[] } {
  const requests: string[] = [];
  const current = {
    coord: { lon: 24.95, lat: 60.15 },
    main: { temp: 288.15, humidity: 71, pressure: 1013 },
    wind: { speed: 5.5, deg: 220 },
    dt: 1764921600,
    name: 'Stand-in',
  };
  const item = (i: number) => ({
    dt: 1764921600 + i * 10800,
    main: { temp: 287.15 + i, humidity: 70, pressure: 1012 },
    wind: { speed: 6 + i, deg: 200 },
    weather: [{ description: 'stand-in' }],
  });
  const transport: HttpTransport = async (req) => {
    requests.push(`${req.method} ${req.url.host}${req.url.pathname}`);
    if (req.url.host !== WEATHER_HOST) return { status: 404, body: new TextEncoder().encode('{}') };
    const body = req.url.pathname.endsWith('/forecast')
      ? { list: [0, 1, 2].map(item), city: { name: 'Stand-in' } }
      : current;
    return { status: 200, body: new TextEncoder().encode(JSON.stringify(body)) };
  };
  return { transport, requests };
}

async function withRuntime<T>(
  opts: { plugins: string[]; grants?: GrantLists; configs?: Record<string, JsonValue>; transport?: HttpTransport },
  body: (rt: Runtime) => Promise<T>,
): Promise<T> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ske-compat-data-'));
  const folder = pluginFolder(opts.plugins);
  for (const [id, configuration] of Object.entries(opts.configs ?? {}))
    writePluginConfig(configFile(dataDir, id), { enabled: true, configuration });
  const runtime = await startRuntime(
    {
      port: 0,
      host: '127.0.0.1',
      dataDir,
      selfUrn: 'urn:mrn:imo:mmsi:230000001',
      sources: [],
      plugins: { dirs: [folder], watch: false, restart: DEFAULT_PLUGIN_RESTART },
      ...(opts.grants ? { grants: opts.grants } : {}),
    },
    { httpTransport: opts.transport },
  );
  try {
    return await body(runtime);
  } finally {
    await runtime.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(folder, { recursive: true, force: true });
  }
}

async function get(rt: Runtime, path: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${rt.api.url}${path}`, init);
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as unknown };
  } catch {
    return { status: res.status, body: text };
  }
}

interface Status {
  state: string;
  statusMessage?: string;
  errorMessage?: string;
  capabilities?: { denied?: { capability: string }[] };
}

async function waitForState(rt: Runtime, id: string, done: (s: Status) => boolean, ms = 15_000): Promise<Status> {
  const until = Date.now() + ms;
  for (;;) {
    const s = (await get(rt, `/plugins/${id}`)).body as Status;
    if (done(s) || Date.now() > until) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
}
const running = (s: Status): boolean => s.state === 'running';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

async function main(): Promise<void> {
  const t0 = performance.now();
  await extractUpstream('examples/wasm-plugins', SOURCES, 3, join(SOURCES, 'example-hello-assemblyscript'));
  const compiler = `assemblyscript ${(JSON.parse(readFileSync(join(PROJECT_ROOT, 'node_modules', 'assemblyscript', 'package.json'), 'utf8')) as { version: string }).version}`;
  const built: Record<string, string> = {};
  for (const name of AS_EXAMPLES) {
    await check(name, 'builds from source with the project asc', async () => {
      built[name] = await buildExample(name, compiler);
      return `${OUTPUT_NAME} ${readFileSync(join(built[name], OUTPUT_NAME)).length} bytes`;
    });
  }
  const present = (name: string): boolean => built[name] !== undefined;

  if (present('example-hello-assemblyscript')) {
    const dir = built['example-hello-assemblyscript'];
    const id = idOf(dir);
    await withRuntime({ plugins: [dir] }, async (rt) => {
      const s = await waitForState(rt, id, running);
      for (const endpoint of ['/api/info', '/api/status']) {
        await check('example-hello-assemblyscript', `GET /plugins/<id>${endpoint} answers`, async () => {
          expect(s.state === 'running', `plugin ${s.state}: ${s.errorMessage ?? ''}`);
          const r = await get(rt, `/plugins/${id}${endpoint}`);
          expect(r.status === 200 && isObject(r.body), `${r.status} ${JSON.stringify(r.body).slice(0, 120)}`);
          return `200 ${JSON.stringify(r.body).slice(0, 60)}`;
        });
      }
    });
  }

  if (present('example-routes-waypoints')) {
    const dir = built['example-routes-waypoints'];
    const id = idOf(dir);
    await withRuntime(
      { plugins: [dir], grants: { [id]: ['dataRead', 'dataWrite', 'resourceProvider'] } },
      async (rt) => {
        await waitForState(rt, id, running);
        for (const type of ['routes', 'waypoints']) {
          await check('example-routes-waypoints', `GET /signalk/v2/api/resources/${type} lists them`, async () => {
            const r = await get(rt, `/signalk/v2/api/resources/${type}`);
            expect(
              r.status === 200 && isObject(r.body) && Object.keys(r.body).length > 0,
              `${r.status} ${JSON.stringify(r.body).slice(0, 120)}`,
            );
            const ids = Object.keys(r.body as object);
            const one = await get(rt, `/signalk/v2/api/resources/${type}/${ids[0]}`);
            expect(one.status === 200 && isObject(one.body), `GET one: ${one.status}`);
            return `${ids.length} ${type}, each readable by id`;
          });
        }
      },
    );
  }

  if (present('example-weather-plugin')) {
    const dir = built['example-weather-plugin'];
    const id = idOf(dir);
    const configuration = { apiKey: 'stand-in-key', latitude: 60.15, longitude: 24.95, updateInterval: 600000 };
    const standIn = weatherStandIn();
    await withRuntime(
      {
        plugins: [dir],
        grants: { [id]: ['dataRead', 'dataWrite', 'resourceProvider', 'network', `net:${WEATHER_HOST}:443`] },
        configs: { [id]: configuration },
        transport: standIn.transport,
      },
      async (rt) => {
        const s = await waitForState(rt, id, running);
        await check('example-weather-plugin', 'loads; granted, its fetch is answered by the stand-in', async () => {
          expect(s.state === 'running', `plugin ${s.state}: ${s.errorMessage ?? ''}`);
          expect(standIn.requests.length > 0, 'no request reached the stand-in');
          return `${standIn.requests.length} request(s): ${standIn.requests[0]}`;
        });
        await check('example-weather-plugin', 'resources API answers the stand-in data', async () => {
          const r = await get(rt, '/signalk/v2/api/resources/weather/current');
          const body = r.body as { temperature?: number; humidity?: number };
          expect(
            r.status === 200 &&
              typeof body.temperature === 'number' &&
              Math.abs(body.temperature - 15) < 0.01 &&
              body.humidity === 71,
            `${r.status} ${JSON.stringify(r.body).slice(0, 160)}`,
          );
          return `temperature ${body.temperature} °C, humidity ${body.humidity} %`;
        });
      },
    );
    // Without the network grant: the plugin is told (sk_has_capability) and reports it; nothing goes out.
    const none = weatherStandIn();
    await withRuntime(
      {
        plugins: [dir],
        grants: { [id]: ['dataRead', 'dataWrite', 'resourceProvider'] },
        configs: { [id]: configuration },
        transport: none.transport,
      },
      async (rt) => {
        const s = await waitForState(rt, id, (x) => Boolean(x.errorMessage));
        await check(
          'example-weather-plugin',
          'without the network grant it reports the refusal; no request',
          async () => {
            expect(none.requests.length === 0, `${none.requests.length} request(s) went out`);
            expect(
              /not granted/.test(s.errorMessage ?? ''),
              `error: ${JSON.stringify(s.errorMessage)} (state ${s.state})`,
            );
            return `"${s.errorMessage}"`;
          },
        );
      },
    );
    // With network but not the weather host: the fetch is refused and listed as denied.
    const hostless = weatherStandIn();
    await withRuntime(
      {
        plugins: [dir],
        grants: { [id]: ['dataRead', 'dataWrite', 'resourceProvider', 'network'] },
        configs: { [id]: configuration },
        transport: hostless.transport,
      },
      async (rt) => {
        const s = await waitForState(rt, id, (x) => (x.capabilities?.denied ?? []).length > 0);
        await check(
          'example-weather-plugin',
          'without the host grant its fetch is refused, listed as denied',
          async () => {
            expect(hostless.requests.length === 0, `${hostless.requests.length} request(s) went out`);
            const denied = (s.capabilities?.denied ?? []).map((d) => d.capability);
            expect(denied.includes(`net:${WEATHER_HOST}:443`), `denied: ${JSON.stringify(denied)}`);
            return `denied ${denied.join(', ')}`;
          },
        );
      },
    );
  }

  if (present('example-weather-provider')) {
    const dir = built['example-weather-provider'];
    const id = idOf(dir);
    const standIn = weatherStandIn();
    await withRuntime(
      {
        plugins: [dir],
        grants: { [id]: ['dataRead', 'dataWrite', 'weatherProvider', 'network', `net:${WEATHER_HOST}:443`] },
        configs: { [id]: { apiKey: 'stand-in-key' } },
        transport: standIn.transport,
      },
      async (rt) => {
        const s = await waitForState(rt, id, running);
        await check('example-weather-provider', 'loads and starts', async () => {
          expect(s.state === 'running', `plugin ${s.state}: ${s.errorMessage ?? ''}`);
          return s.statusMessage ?? 'running';
        });
        await check('example-weather-provider', 'weather API answers the stand-in data', async () => {
          const r = await get(rt, '/signalk/v2/api/weather/observations?lat=60.15&lon=24.95');
          expect(r.status === 200, `${r.status} ${JSON.stringify(r.body).slice(0, 160)}`);
          expect(standIn.requests.length > 0, 'no request reached the stand-in');
          return JSON.stringify(r.body).slice(0, 80);
        });
      },
    );
  }

  const rustDir = join(PROJECT_ROOT, 'examples', 'depth-watch-rust');
  await check('depth-watch-rust (this project)', 'PUT and HTTP routes answer', async () => {
    expect(
      existsSync(join(rustDir, OUTPUT_NAME)),
      'not built (npm run build needs Debian rustc, cargo, libstd-rust-dev-wasm32)',
    );
    const id = idOf(rustDir);
    return withRuntime({ plugins: [rustDir] }, async (rt) => {
      const s = await waitForState(rt, id, running);
      expect(s.state === 'running', `plugin ${s.state}: ${s.errorMessage ?? ''}`);
      const put = await get(rt, '/signalk/v1/api/vessels/self/environment/depth/alarmDepth', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ value: 5 }),
      });
      expect(put.status === 200, `PUT: ${put.status} ${JSON.stringify(put.body)}`);
      const state = await get(rt, `/plugins/${id}/api/state`);
      expect(
        state.status === 200 && isObject(state.body) && state.body.alarmDepth === 5,
        `GET /api/state: ${state.status} ${JSON.stringify(state.body)}`,
      );
      return `PUT 200, GET /api/state ${JSON.stringify(state.body)}`;
    });
  });

  const width = (k: keyof Row) => Math.max(...rows.map((r) => String(r[k]).length), k.length);
  const [we, wf] = [width('example'), width('feature')];
  process.stdout.write(
    `\n${'example'.padEnd(we)} | ${'feature'.padEnd(wf)} | result\n${'-'.repeat(we)}-|-${'-'.repeat(wf)}-|-------\n`,
  );
  for (const r of rows)
    process.stdout.write(
      `${r.example.padEnd(we)} | ${r.feature.padEnd(wf)} | ${r.ok ? 'pass' : 'FAIL'}: ${r.detail}\n`,
    );
  const failed = rows.filter((r) => !r.ok).length;
  process.stdout.write(
    `\n${rows.length - failed} of ${rows.length} passed in ${((performance.now() - t0) / 1000).toFixed(1)} s (upstream ${UPSTREAM}, cache ${CACHE})\n`,
  );
  process.exitCode = failed > 0 ? 1 : 0;
}

await main();
