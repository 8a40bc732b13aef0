// The audit's reproductions (issue #13, findings 1 and 6) as tests: a neighbour on the marina Wi-Fi
// without credentials, and a web page in the operator's browser used as the attacker.

import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRuntime } from '../../runtime/app.js';
import { demoSettings, PROJECT_ROOT } from '../../runtime/config/settings.js';
import { UnsafeStartError, type SecuritySettings } from '../../runtime/security/settings.js';
import { EXAMPLES, IDS, pluginFolder } from '../helpers/plugins.js';
import { startTestRuntime } from '../helpers/runtime.js';
import { addUser, call, login, securityOn, upgrade } from '../helpers/security.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';

const ANCHOR = '/signalk/v1/api/vessels/self/electrical/switches/anchorLight/state';
const PLUGIN = `/plugins/${IDS.anchorLight}`;

async function anchorLightRuntime(t: ExecutionContext, security?: SecuritySettings) {
  const dataDir = tempDir(t, 'ske-sec-');
  const rt = await startTestRuntime({
    dataDir,
    security,
    pluginDirs: [await pluginFolder([{ from: EXAMPLES, name: 'anchor-light' }])],
  });
  t.teardown(rt.stop);
  await waitFor(
    () => rt.runtime.model.valueAt('vessels.self', 'electrical.switches.anchorLight.state'),
    'anchor light ready',
  );
  return rt;
}

test('finding 1: an open API on a network address is refused at start, with a message that says what to do', async (t) => {
  const settings = {
    ...demoSettings(tempDir(t, 'ske-sec-')),
    host: '0.0.0.0',
    port: 0,
    sources: [],
    plugins: { dirs: [] },
  };
  const err = await t.throwsAsync(() => startRuntime(settings), { instanceOf: UnsafeStartError });
  t.regex(err!.message, /refusing to serve on 0\.0\.0\.0 with security off/);
  t.regex(err!.message, /signalk-edge user add/);

  // The installer's settings as an older install has them (0.0.0.0, no security): `run` says why and exits 2.
  const dir = tempDir(t, 'ske-sec-');
  const file = join(dir, 'settings.json');
  writeFileSync(file, JSON.stringify({ host: '0.0.0.0', port: 0, dataDir: dir }));
  const run = await new Promise<{ code: number | null; err: string }>((resolve) => {
    execFile(
      process.execPath,
      [join(PROJECT_ROOT, 'dist', 'runtime', 'cli', 'main.js'), 'run', '--settings', file],
      { timeout: 30_000 },
      (e, _out, err) => resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, err }),
    );
  });
  t.is(run.code, 2, run.err);
  t.regex(run.err, /signalk-edge: refusing to serve on 0\.0\.0\.0 with security off/);
});

test('finding 1: without credentials, PUT, plugin config, enable/disable/restart are refused and change nothing', async (t) => {
  const rt = await anchorLightRuntime(t, securityOn());
  const configFile = join(rt.dataDir, 'plugin-config-data', IDS.anchorLight, `${IDS.anchorLight}.json`);
  const before = existsSync(configFile) ? readFileSync(configFile, 'utf8') : undefined;

  const put = await call(rt.url, 'PUT', ANCHOR, { body: { value: 1 } });
  t.is(put.status, 401, JSON.stringify(put.body));
  t.regex(String((put.body as { error: string }).error), /authentication required/);
  t.is(rt.runtime.model.valueAt('vessels.self', 'electrical.switches.anchorLight.state')?.value, 0);

  t.is((await call(rt.url, 'PUT', `${PLUGIN}/config`, { body: { configuration: { x: 1 } } })).status, 401);
  t.is((await call(rt.url, 'POST', `${PLUGIN}/config`, { body: { enabled: false } })).status, 401);
  for (const action of ['disable', 'enable', 'restart'])
    t.is((await call(rt.url, 'POST', `${PLUGIN}/${action}`)).status, 401, action);
  t.is((await call(rt.url, 'POST', `/skServer/plugins/${IDS.anchorLight}/disable`)).status, 401);
  t.is(
    existsSync(configFile) ? readFileSync(configFile, 'utf8') : undefined,
    before,
    'the plugin configuration file is untouched',
  );
  t.like(
    rt.runtime.plugins.list().find((p) => p.id === IDS.anchorLight),
    { state: 'running', enabled: true },
  );

  // A garbage or forged token is no better than none.
  t.is((await call(rt.url, 'PUT', ANCHOR, { body: { value: 1 }, token: 'eyJhbGciOiJIUzI1NiJ9.e30.bad' })).status, 401);
  // The same with an admin's token works.
  await addUser(rt.dataDir, 'skipper', 'admin');
  const token = await login(rt.url, 'skipper');
  t.true((await call(rt.url, 'PUT', ANCHOR, { body: { value: 1 }, token })).status < 300);
  t.is((await call(rt.url, 'POST', `${PLUGIN}/restart`, { token })).status, 200);
});

test('finding 6: cross-site POSTs (text/plain, forms, foreign Origin) are refused, on the demo too', async (t) => {
  const rt = await anchorLightRuntime(t);
  const configFile = join(rt.dataDir, 'plugin-config-data', IDS.anchorLight, `${IDS.anchorLight}.json`);
  const before = existsSync(configFile) ? readFileSync(configFile, 'utf8') : undefined;
  const evil = { origin: 'http://evil.example' };

  // What a page can send without a CORS preflight: text/plain or a form, from its own origin.
  const plain = await call(rt.url, 'POST', `${PLUGIN}/config`, {
    body: '{"enabled":false}',
    contentType: 'text/plain',
    headers: evil,
  });
  t.is(plain.status, 403, JSON.stringify(plain.body));
  t.regex(String((plain.body as { error: string }).error), /origin "http:\/\/evil\.example" is not allowed/);
  const form = await call(rt.url, 'POST', `${PLUGIN}/disable`, {
    body: 'x=1',
    contentType: 'application/x-www-form-urlencoded',
    headers: evil,
  });
  t.is(form.status, 403);
  t.is(
    (await call(rt.url, 'POST', `${PLUGIN}/disable`, { headers: evil })).status,
    403,
    'a bodyless POST from a foreign origin',
  );
  t.is((await call(rt.url, 'PUT', ANCHOR, { body: { value: 1 }, headers: evil })).status, 403);
  // Without an Origin (not a browser), a text body is still no JSON: 415, nothing changes.
  const noOrigin = await call(rt.url, 'POST', `${PLUGIN}/config`, {
    body: '{"enabled":false}',
    contentType: 'text/plain',
  });
  t.is(noOrigin.status, 415, JSON.stringify(noOrigin.body));
  t.is(existsSync(configFile) ? readFileSync(configFile, 'utf8') : undefined, before);
  t.like(
    rt.runtime.plugins.list().find((p) => p.id === IDS.anchorLight),
    { state: 'running', enabled: true },
  );
  t.is(rt.runtime.model.valueAt('vessels.self', 'electrical.switches.anchorLight.state')?.value, 0);

  // A cross-origin GET gets no CORS header, so the page cannot read the answer.
  const read = await call(rt.url, 'GET', '/signalk/v1/api/vessels/self', { headers: evil });
  t.is(read.headers['access-control-allow-origin'], undefined);
  // The server's own pages (same origin) may change things.
  const host = rt.url.slice('http://'.length);
  t.true(
    (await call(rt.url, 'PUT', ANCHOR, { body: { value: 1 }, headers: { origin: `http://${host}` } })).status < 300,
  );
});

test('finding 6: allowed origins get CORS and may make changes; others may not', async (t) => {
  const rt = await anchorLightRuntime(t, securityOn({ allowedOrigins: ['http://plotter.local:8080'] }));
  await addUser(rt.dataDir, 'crew', 'readwrite');
  const token = await login(rt.url, 'crew');
  const allowed = { origin: 'http://plotter.local:8080' };
  const pre = await call(rt.url, 'OPTIONS', ANCHOR, {
    headers: {
      ...allowed,
      'access-control-request-method': 'PUT',
      'access-control-request-headers': 'authorization,content-type',
    },
  });
  t.true(pre.status < 300, String(pre.status));
  t.is(pre.headers['access-control-allow-origin'], 'http://plotter.local:8080');
  const put = await call(rt.url, 'PUT', ANCHOR, { body: { value: 1 }, token, headers: allowed });
  t.true(put.status < 300, JSON.stringify(put.body));
  t.is(put.headers['access-control-allow-origin'], 'http://plotter.local:8080');
  const other = await call(rt.url, 'PUT', ANCHOR, {
    body: { value: 0 },
    token,
    headers: { origin: 'http://plotter.local:9999' },
  });
  t.is(other.status, 403);
  const otherPre = await call(rt.url, 'OPTIONS', ANCHOR, {
    headers: { origin: 'http://evil.example', 'access-control-request-method': 'PUT' },
  });
  t.is(otherPre.headers['access-control-allow-origin'], undefined);
});

test('finding 6: DNS rebinding — a Host that is not ours is refused; IP literals, localhost and configured names are served', async (t) => {
  const rt = await anchorLightRuntime(t, securityOn({ allowReadOnly: true, hostnames: ['myboat.lan'] }));
  const port = new URL(rt.url).port;
  const get = (host: string) => call(rt.url, 'GET', '/signalk/v1/api/vessels/self', { headers: { host } });
  const rebound = await get(`evil.example:${port}`);
  t.is(rebound.status, 403);
  t.regex(String((rebound.body as { error: string }).error), /host "evil\.example:\d+" is not served here/);
  t.is((await get('attacker.localhost.evil.example')).status, 403);
  for (const host of [
    `127.0.0.1:${port}`,
    `localhost:${port}`,
    `[::1]:${port}`,
    `192.168.1.20:${port}`,
    `myboat.lan:${port}`,
    'MyBoat.lan',
  ]) {
    t.is((await get(host)).status, 200, host);
  }
  // The WebSocket too.
  t.is((await upgrade(rt.wsUrl, 'subscribe=none', { host: `evil.example:${port}` })).status, 403);
  // And the demo (security off) as well: that is where a browser on the same machine reaches it.
  const demo = await anchorLightRuntime(t);
  t.is((await call(demo.url, 'GET', '/signalk/v1/api/', { headers: { host: 'evil.example' } })).status, 403);
  t.is((await upgrade(demo.wsUrl, 'subscribe=none', { host: 'evil.example' })).status, 403);
});

test('finding 6: a WebSocket upgrade from a foreign Origin is refused; same-origin and allowed origins connect', async (t) => {
  const rt = await anchorLightRuntime(
    t,
    securityOn({ allowReadOnly: true, allowedOrigins: ['http://plotter.local:8080'] }),
  );
  const evil = await upgrade(rt.wsUrl, 'subscribe=self', { origin: 'http://evil.example' });
  t.is(evil.status, 403);
  const host = rt.url.slice('http://'.length);
  for (const origin of [`http://${host}`, 'http://plotter.local:8080']) {
    const ok = await upgrade(rt.wsUrl, 'subscribe=self', { origin });
    t.is(ok.status, 101, origin);
    ok.ws?.close();
  }
  // On the demo too: a page the operator opens must not read the boat's data through the socket.
  const demo = await anchorLightRuntime(t);
  t.is((await upgrade(demo.wsUrl, 'subscribe=self', { origin: 'http://evil.example' })).status, 403);
});
