// HTTP for AssemblyScript plugins (as-fetch with Asyncify): the fetch-probe fixture, built from
// source with as-fetch's transform, fetches in plugin_start; the host pauses it, fetches from a
// local HTTP server on 127.0.0.1 (or an injected transport) and resumes it. Only granted hosts,
// bounded in time and size.

import test from 'ava';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FETCH_MAX_BYTES } from '../../runtime/abi/as-fetch.js';
import {
  HttpFetchError,
  nodeHttpTransport,
  type HttpRequest,
  type HttpTransport,
} from '../../runtime/abi/http-transport.js';
import { loadPluginBytes } from '../../runtime/engine/index.js';
import {
  FIXTURES,
  configurePlugin,
  pluginFolder,
  pluginStatus,
  selfValue,
  type PluginView,
} from '../helpers/plugins.js';
import type { Runtime } from '../../runtime/app.js';
import { ensurePluginsBuilt, fixtureWasm } from '../helpers/plugin-wasm.js';
import { RecordingHost } from '../helpers/recording-host.js';
import { startTestRuntime } from '../helpers/runtime.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';

const ID = '_signalk-edge-fixture_fetch-probe';

interface Seen {
  method: string;
  url: string;
  probe: string | undefined;
  body: string;
}

/**
 * A local HTTP server: GET answers a text, POST …/echo echoes method, header and body; /big is
 * 2 MB, /slow never answers, /held answers when `release()` is called.
 */
async function localServer(t: {
  teardown(fn: () => void): void;
}): Promise<{ server: Server; port: number; seen: Seen[]; release(): void }> {
  const seen: Seen[] = [];
  const held: (() => void)[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        probe: req.headers['x-probe'] as string | undefined,
        body,
      });
      if (req.url === '/slow') return; // never answers
      if (req.url === '/held') return held.push(() => res.end('released'));
      if (req.url === '/big') return res.end(Buffer.alloc(2 * 1024 * 1024, 0x61));
      if (req.url?.endsWith('/echo')) return res.end(`${req.method} ${body} x-probe=${String(req.headers['x-probe'])}`);
      res.end('hello from the boat');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    seen,
    release: () => held.splice(0).forEach((answer) => answer()),
  };
}

/** A runtime running fetch-probe configured to fetch from the local server, with these grants of its own. */
async function probeRuntime(
  t: { teardown(fn: () => void): void },
  port: number,
  grants: (port: number) => string[],
  path = '/data',
) {
  const dataDir = tempDir(t, 'ske-data-');
  configurePlugin(dataDir, ID, { url: `http://127.0.0.1:${port}${path}` });
  const { runtime, stop } = await startTestRuntime({
    pluginDirs: [await pluginFolder([{ from: FIXTURES, name: 'fetch-probe' }])],
    dataDir,
    grants: { '*': ['dataRead', 'dataWrite'], [ID]: grants(port) },
  });
  t.teardown(stop);
  return { runtime, running: () => runningStatus(runtime) };
}

/** The status once the plugin runs (plugin_start returned, after its fetches). */
function runningStatus(runtime: Runtime): Promise<PluginView> {
  return waitFor(async () => {
    const s = await pluginStatus(runtime, ID);
    return s.state === 'running' ? s : undefined;
  }, 'the plugin running after its fetches');
}

test('fetchSync in plugin_start: paused, fetched from a granted local server, resumed where it paused', async (t) => {
  const { port, seen } = await localServer(t);
  const { runtime, running } = await probeRuntime(t, port, (p) => ['network', `net:127.0.0.1:${p}`]);
  const status = await running();
  t.is(selfValue(runtime, 'test.fetch.get'), 'hello from the boat');
  t.is(selfValue(runtime, 'test.fetch.post'), 'POST ping from wasm x-probe=fetch-probe');
  // Code before the first fetch ran once: the host resumed inside fetchSync, it did not restart plugin_start.
  t.is(status.statusMessage, 'fetched 19 + 39 chars, start entered 1 time(s)');
  t.deepEqual(
    seen.map((s) => [s.method, s.url, s.probe, s.body]),
    [
      ['GET', '/data', undefined, ''],
      ['POST', '/data/echo', 'fetch-probe', 'ping from wasm'],
    ],
  );
});

test('while plugin_start waits for its fetch the plugin is starting; it runs once the answer came', async (t) => {
  const { port, release } = await localServer(t);
  const { runtime, running } = await probeRuntime(t, port, (p) => ['network', `net:127.0.0.1:${p}`], '/held');
  const waiting = await waitFor(async () => {
    const s = await pluginStatus(runtime, ID);
    return (s.events ?? []).some((e) => e.event === 'starting: plugin_start waits for a fetch') ? s : undefined;
  }, 'the paused start');
  t.is(waiting.state, 'starting');
  t.is(selfValue(runtime, 'test.fetch.get'), undefined);
  release();
  const status = await running();
  t.is(selfValue(runtime, 'test.fetch.get'), 'released');
  t.is(status.statusMessage, 'fetched 8 + 39 chars, start entered 1 time(s)');
});

test('a fetch to a host the operator did not grant is refused: no request, an empty body, the denial in the status', async (t) => {
  const { port, seen } = await localServer(t);
  const status = await (await probeRuntime(t, port, () => ['network', 'net:127.0.0.1:1'])).running();
  t.is(status.statusMessage, 'fetched 0 + 0 chars, start entered 1 time(s)');
  t.deepEqual(seen, [], 'the server saw nothing');
  const denied = (status.capabilities as { denied: { capability: string; message: string }[] }).denied;
  t.true(
    denied.some((d) => d.capability === `net:127.0.0.1:${port}` && /HTTP fetch/.test(d.message)),
    JSON.stringify(denied),
  );
});

/** fetch-probe loaded directly, with an injected transport that records what it is asked. */
async function probeWithTransport(transport: HttpTransport, capabilities = ['network', 'rawSockets']) {
  await ensurePluginsBuilt();
  const host = new RecordingHost({ pluginId: 'probe', capabilities });
  const plugin = await loadPluginBytes({
    id: 'probe',
    vfsRoot: mkdtempSync(join(tmpdir(), 'ske-vfs-')),
    host,
    bytes: readFileSync(fixtureWasm('fetch-probe')),
    httpTransport: transport,
  });
  return { host, plugin };
}

test('an injected transport answers the fetches; a failed request gives an empty body; fetches outside plugin_start are refused', async (t) => {
  const asked: HttpRequest[] = [];
  const { host, plugin } = await probeWithTransport(async (req) => {
    asked.push(req);
    if (req.method === 'POST') throw new HttpFetchError('connection reset');
    return { status: 200, body: new TextEncoder().encode('injected ⚓') };
  });
  t.teardown(() => plugin.close());
  const pending = plugin.start('{"url":"https://charts.example:8443/tiles"}');
  t.true(pending instanceof Promise, 'plugin_start paused at the fetch');
  t.is(await pending, 0);
  t.like(asked[0], { method: 'GET', timeoutMs: 10_000, maxBytes: FETCH_MAX_BYTES });
  t.is(asked[0]!.url.href, 'https://charts.example:8443/tiles');
  t.is(asked[1]!.url.href, 'https://charts.example:8443/tiles/echo');
  t.deepEqual(asked[1]!.headers, [['x-probe', 'fetch-probe']]);
  t.is(Buffer.from(asked[1]!.body ?? []).toString(), 'ping from wasm');
  const values = host.emittedValues();
  t.is(values.get('test.fetch.get'), 'injected ⚓');
  t.is(values.get('test.fetch.post'), '', 'the failed POST gave an empty body');
  t.is(host.statuses.at(-1), 'fetched 10 + 0 chars, start entered 1 time(s)');

  // A PUT handler is not resumable: its fetch answers at once with an empty body, no request.
  const put = plugin.handlePut('vessels.self', 'test.fetch.put', '1');
  t.is(put.message, 'fetched 0 chars');
  t.is(asked.length, 2);
});

test('a header the host sets (Host) refuses that fetch only', async (t) => {
  const asked: HttpRequest[] = [];
  const { host, plugin } = await probeWithTransport(async (req) => {
    asked.push(req);
    return { status: 200, body: new TextEncoder().encode('ok') };
  });
  t.teardown(() => plugin.close());
  t.is(await plugin.start('{"url":"http://127.0.0.1:9/x","header":"Host"}'), 0);
  t.deepEqual(
    asked.map((r) => r.method),
    ['GET'],
    'the POST with a Host header was not sent',
  );
  t.is(host.statuses.at(-1), 'fetched 2 + 0 chars, start entered 1 time(s)');
});

test('bad URLs and plugins without the network capability fetch nothing', async (t) => {
  const asked: HttpRequest[] = [];
  const transport: HttpTransport = async (req) => {
    asked.push(req);
    return { status: 200, body: new Uint8Array([0x78]) };
  };
  for (const url of ['not a url', 'ftp://127.0.0.1/x', 'file:///etc/passwd']) {
    const { host, plugin } = await probeWithTransport(transport);
    t.is(await plugin.start(JSON.stringify({ url })), 0, url);
    t.is(host.statuses.at(-1), 'fetched 0 + 0 chars, start entered 1 time(s)', url);
    plugin.close();
  }
  const { host, plugin } = await probeWithTransport(transport, ['rawSockets']);
  t.is(await plugin.start('{"url":"http://127.0.0.1:9/x"}'), 0);
  t.is(host.statuses.at(-1), 'fetched 0 + 0 chars, start entered 1 time(s)');
  plugin.close();
  t.deepEqual(asked, []);
});

test('closing a plugin while its fetch is pending ends the paused start', async (t) => {
  let answer: (() => void) | undefined;
  const { plugin } = await probeWithTransport(
    () =>
      new Promise((resolve) => {
        answer = () => resolve({ status: 200, body: new Uint8Array(0) });
      }),
  );
  const pending = plugin.start('{"url":"http://127.0.0.1:9/x"}');
  t.true(pending instanceof Promise);
  plugin.close();
  await t.throwsAsync(pending as Promise<number>, { message: /closed while a fetch was pending/ });
  answer?.(); // the late answer finds the plugin closed and is dropped
});

test('the node transport bounds the answer size and the time, and sends method, headers and body', async (t) => {
  const { port, seen } = await localServer(t);
  const base = { headers: [['x-probe', 'direct']] as [string, string][], timeoutMs: 2000, maxBytes: FETCH_MAX_BYTES };
  const ok = await nodeHttpTransport({
    ...base,
    url: new URL(`http://127.0.0.1:${port}/a/echo`),
    method: 'POST',
    body: new TextEncoder().encode('body'),
  });
  t.is(ok.status, 200);
  t.is(Buffer.from(ok.body).toString(), 'POST body x-probe=direct');
  await t.throwsAsync(nodeHttpTransport({ ...base, url: new URL(`http://127.0.0.1:${port}/big`), method: 'GET' }), {
    instanceOf: HttpFetchError,
    message: /over the 1048576-byte bound/,
  });
  await t.throwsAsync(
    nodeHttpTransport({ ...base, timeoutMs: 300, url: new URL(`http://127.0.0.1:${port}/slow`), method: 'GET' }),
    { instanceOf: HttpFetchError, message: /within 300 ms/ },
  );
  t.is(seen.length, 3);
});
