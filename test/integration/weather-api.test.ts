// The v2 weather API served by a plugin weather provider (fixture weather-probe, AssemblyScript):
// its observations handler fetches (as-fetch) from a stand-in service through the runtime's
// injectable transport and is resumed when the answer is there, the plugin busy meanwhile; a
// handler that never returns, one that answers garbage, a fetch that never gets an answer, a
// fetch to an ungranted host, and the weatherProvider grant.

import test from 'ava';
import type { HttpRequest, HttpTransport } from '../../runtime/abi/http-transport.js';
import { FIXTURES, configurePlugin, http, pluginFolder, pluginStatus } from '../helpers/plugins.js';
import { startTestRuntime } from '../helpers/runtime.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';

const ID = '_signalk-edge-fixture_weather-probe';
const API = '/signalk/v2/api/weather';
const URL_ = 'http://weather.test/now';
const granted = { [ID]: ['dataRead', 'network', 'weatherProvider', 'net:weather.test:80'] };
const folder = () => pluginFolder([{ from: FIXTURES, name: 'weather-probe' }]);

/** A stand-in weather service whose answers the test releases. */
function standIn(): { transport: HttpTransport; requests: HttpRequest[]; release: () => void } {
  const requests: HttpRequest[] = [];
  let open: (() => void) | undefined;
  let gate = new Promise<void>((resolve) => (open = resolve));
  const transport: HttpTransport = async (req) => {
    requests.push(req);
    await gate;
    return { status: 200, body: new TextEncoder().encode('{"temperature":288.15,"wind":5.5}') };
  };
  return {
    transport,
    requests,
    release: () => {
      open?.();
      gate = Promise.resolve();
    },
  };
}

async function start(
  t: Parameters<typeof tempDir>[0],
  opts: { grants?: Record<string, string[]>; transport: HttpTransport; callTimeoutMs?: number },
) {
  const dataDir = tempDir(t, 'ske-data-');
  configurePlugin(dataDir, ID, { url: URL_ });
  const rt = await startTestRuntime({
    dataDir,
    pluginDirs: [await folder()],
    grants: opts.grants ?? granted,
    httpTransport: opts.transport,
    restart: { baseMs: 50 },
    ...(opts.callTimeoutMs ? { callTimeoutMs: opts.callTimeoutMs } : {}),
  });
  t.teardown(rt.stop);
  await waitFor(async () => (await pluginStatus(rt.runtime, ID)).state === 'running', 'the provider running');
  return rt;
}

test('observations come from the fetch the handler makes, resumed when the stand-in answers; the plugin is busy meanwhile', async (t) => {
  const service = standIn();
  const { runtime } = await start(t, { transport: service.transport });
  t.like(await pluginStatus(runtime, ID), { weatherProvider: true, statusMessage: `serving weather from ${URL_}` });
  t.deepEqual((await http(runtime, 'GET', `${API}/_providers`)).body, {
    [ID]: { name: 'Weather probe', isDefault: true },
  });
  t.deepEqual(Object.keys((await http(runtime, 'GET', API)).body as object), ['forecasts', 'observations', 'warnings']);
  t.deepEqual((await http(runtime, 'GET', `${API}/_providers/_default`)).body, { id: ID });
  t.deepEqual(await http(runtime, 'POST', `${API}/_providers/_default/nobody`), {
    status: 400,
    body: { state: 'FAILED', statusCode: 400, message: 'Provider nobody not found!' },
  });
  t.like((await http(runtime, 'POST', `${API}/_providers/_default/${ID}`)).body, {
    statusCode: 200,
    message: `Default provider set to ${ID}.`,
  });

  const pending = http(runtime, 'GET', `${API}/observations?lat=60.15&lon=24.95&count=2&date=2026-12-05&units=si`);
  await waitFor(() => service.requests.length === 1, 'the handler fetching');
  t.is(service.requests[0].url.href, URL_);
  const busy = await http(runtime, 'GET', `${API}/warnings?lat=60&lon=25`);
  t.is(busy.status, 503);
  t.regex((busy.body as { message: string }).message, /busy: weather_get_observations waits for a fetch/);
  service.release();
  const obs = await pending;
  t.is(obs.status, 200, JSON.stringify(obs.body));
  t.like((obs.body as unknown[])[0], {
    type: 'observation',
    fetches: 1,
    fetched: { temperature: 288.15, wind: 5.5 },
    request: {
      position: { latitude: 60.15, longitude: 24.95 },
      options: { maxCount: 2, startDate: '2026-12-05', custom: { units: 'si' } },
    },
  });
  // Served again, without a pause in between left over.
  const again = await http(runtime, 'GET', `${API}/observations?lat=60&lon=25`);
  t.like((again.body as unknown[])[0], { fetches: 2 });
  t.is((await pluginStatus(runtime, ID)).state, 'running');
});

test('bad requests and bad handlers: no position, a handler that never returns, garbage', async (t) => {
  const service = standIn();
  service.release();
  const { runtime } = await start(t, { transport: service.transport, callTimeoutMs: 300 });
  t.deepEqual(await http(runtime, 'GET', `${API}/observations`), {
    status: 400,
    body: { state: 'FAILED', statusCode: 400, message: 'Location not supplied!' },
  });
  t.deepEqual(await http(runtime, 'GET', `${API}/observations?lat=north&lon=1`), {
    status: 400,
    body: { state: 'FAILED', statusCode: 400, message: 'Invalid position data!' },
  });
  t.like((await http(runtime, 'GET', `${API}/observations?lat=1&lon=1&provider=nobody`)).body, {
    statusCode: 400,
    message: 'Requested provider not found! (nobody)',
  });
  t.deepEqual(Object.keys((await http(runtime, 'GET', `${API}/forecasts`)).body as object), ['daily', 'point']);

  const warnings = await http(runtime, 'GET', `${API}/warnings?lat=1&lon=1`);
  t.is(warnings.status, 502);
  t.regex((warnings.body as { message: string }).message, /answered text that is not JSON: "no warnings today"/);

  const forecast = await http(runtime, 'GET', `${API}/forecasts/point?lat=1&lon=1`);
  t.is(forecast.status, 500);
  t.regex((forecast.body as { message: string }).message, /weather_get_forecasts did not return within 300 ms/);
  t.like(await pluginStatus(runtime, ID), { crashes: 1 });
  // Restarted, it registers again and serves.
  await waitFor(
    async () => (await http(runtime, 'GET', `${API}/observations?lat=1&lon=1`)).status === 200,
    'served after the restart',
  );
});

test('a fetch that never gets an answer resumes the handler with an empty body at the fetch deadline', async (t) => {
  const silent: HttpTransport = () => new Promise(() => undefined);
  const { runtime } = await start(t, { transport: silent });
  const started = Date.now();
  const obs = await http(runtime, 'GET', `${API}/observations?lat=1&lon=1`);
  t.is(obs.status, 200);
  t.like((obs.body as unknown[])[0], { fetched: null });
  t.true(Date.now() - started >= 9_000, 'answered at the 10 s fetch deadline');
  t.is((await pluginStatus(runtime, ID)).state, 'running');
});

test('a fetch to a host that is not granted is refused: the handler gets an empty body, the denial is listed', async (t) => {
  const service = standIn();
  service.release();
  const { runtime } = await start(t, {
    transport: service.transport,
    grants: { [ID]: ['dataRead', 'network', 'weatherProvider'] },
  });
  const obs = await http(runtime, 'GET', `${API}/observations?lat=1&lon=1`);
  t.is(obs.status, 200);
  t.like((obs.body as unknown[])[0], { fetched: null });
  t.is(service.requests.length, 0);
  const denied = ((await pluginStatus(runtime, ID)).capabilities as { denied: { capability: string }[] }).denied.map(
    (d) => d.capability,
  );
  t.deepEqual(denied, ['net:weather.test:80']);
});

test('without the weatherProvider grant the registration is refused and listed as denied', async (t) => {
  const service = standIn();
  const { runtime } = await start(t, {
    transport: service.transport,
    grants: { [ID]: ['dataRead', 'network', 'net:weather.test:80'] },
  });
  const status = await pluginStatus(runtime, ID);
  t.is(status.errorMessage, 'weather provider registration refused');
  t.is(status.weatherProvider, false);
  t.deepEqual(
    (status.capabilities as { denied: { capability: string }[] }).denied.map((d) => d.capability),
    ['weatherProvider'],
  );
  t.deepEqual((await http(runtime, 'GET', `${API}/observations?lat=1&lon=1`)).body, {
    state: 'FAILED',
    statusCode: 400,
    message: 'No providers registered!',
  });
});
