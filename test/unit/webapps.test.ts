// Webapps (in-process API, no browser): served from a plugin folder at /<package name>/ with
// content types, caching headers and no traversal; listed at /skServer/webapps; public with security
// on (so a login page can load) while boat data is not; the landing page.

import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fakeWebapp } from '../helpers/fake-webapp.js';
import { startBareApi } from '../helpers/runtime.js';
import { call, securityOn } from '../helpers/security.js';
import { tempDir } from '../helpers/temp.js';

test('webapps: served from public/ with types and caching headers, listed, no traversal', async (t) => {
  const plugins = tempDir(t, 'ske-webapps-');
  fakeWebapp(join(plugins, 'node_modules', '@scope', 'chart'), '@scope/chart');
  fakeWebapp(join(plugins, 'gauges'), 'gauges', { publicDir: false, keyword: 'signalk-embeddable-webapp' });
  mkdirSync(join(plugins, 'not-an-app'));
  writeFileSync(
    join(plugins, 'not-an-app', 'package.json'),
    JSON.stringify({ name: 'not-an-app', keywords: ['other'] }),
  );
  writeFileSync(join(plugins, 'secret.txt'), 'outside every app');
  const { api, url } = await startBareApi({ webappDirs: [plugins] });
  t.teardown(() => api.close());

  const list = await call(url, 'GET', '/skServer/webapps');
  t.is(list.status, 200);
  const names = (list.body as { name: string }[]).map((a) => a.name).sort();
  t.deepEqual(names, ['@scope/chart', 'gauges']);
  t.like(
    (list.body as Record<string, unknown>[]).find((a) => a.name === '@scope/chart'),
    { version: '1.2.3', signalk: { displayName: 'App @scope/chart' }, keywords: ['signalk-webapp'] },
  );
  t.false(JSON.stringify(list.body).includes(plugins), 'no file system paths in the listing');

  const index = await call(url, 'GET', '/@scope/chart/');
  t.is(index.status, 200);
  t.regex(String(index.headers['content-type']), /^text\/html/);
  t.is(index.headers['cache-control'], 'no-cache');
  t.truthy(index.headers.etag);
  const js = await call(url, 'GET', '/@scope/chart/js/app.js');
  t.is(js.status, 200);
  t.regex(String(js.headers['content-type']), /javascript/);
  t.is(js.headers['cache-control'], 'public, max-age=3600');
  t.regex(String((await call(url, 'GET', '/gauges/style.css')).headers['content-type']), /^text\/css/);
  // Revalidation: the ETag gives 304.
  t.is(
    (await call(url, 'GET', '/@scope/chart/js/app.js', { headers: { 'if-none-match': String(js.headers.etag) } }))
      .status,
    304,
  );
  // Without the trailing slash: a redirect, so relative URLs resolve inside the app.
  const bare = await call(url, 'GET', '/@scope/chart');
  t.is(bare.status, 301);
  t.is(bare.headers.location, '/@scope/chart/');

  for (const path of [
    '/gauges/../secret.txt',
    '/gauges/%252e%252e/secret.txt',
    '/gauges/%2e%2e%2fsecret.txt',
    '/gauges/..%2fsecret.txt',
    '/gauges/%2e%2e/secret.txt',
    '/@scope/chart/..%2f..%2f..%2fsecret.txt',
    '/gauges/.env',
    '/@scope/chart/.env',
  ]) {
    const r = await call(url, 'GET', path);
    t.true(r.status === 403 || r.status === 404, `${path}: ${r.status}`);
    t.false(String(r.body).includes('outside every app') || String(r.body).includes('SECRET'), path);
  }
  t.is((await call(url, 'GET', '/@scope/chart/missing.js')).status, 404);
  t.is((await call(url, 'GET', '/no-such-app/')).status, 404);
  // An app cannot shadow the API: its routes come first.
  t.is((await call(url, 'GET', '/signalk')).status, 200);
  // Webapps ask who is logged in first; with security off, upstream's answer (Freeboard-SK needs it).
  t.deepEqual((await call(url, 'GET', '/skServer/loginStatus')).body, {
    status: 'notLoggedIn',
    readOnlyAccess: false,
    authenticationRequired: false,
  });
});

test('webapps with security on and allowReadOnly false: app files and the landing page load, boat data needs a login', async (t) => {
  const plugins = tempDir(t, 'ske-webapps-');
  const dataDir = tempDir(t, 'ske-webapps-data-');
  fakeWebapp(join(plugins, 'kiosk'), 'kiosk');
  const { api, url } = await startBareApi({ webappDirs: [plugins], security: securityOn(), dataDir });
  t.teardown(() => api.close());
  t.is((await call(url, 'GET', '/kiosk/')).status, 200);
  t.is((await call(url, 'GET', '/kiosk/js/app.js')).status, 200);
  t.is((await call(url, 'GET', '/skServer/webapps')).status, 200);
  const landing = await call(url, 'GET', '/');
  t.is(landing.status, 200);
  t.regex(String(landing.headers['content-type']), /^text\/html/);
  t.regex(String(landing.body), /signalk-edge/);
  t.is((await call(url, 'GET', '/signalk/v1/api/vessels/self')).status, 401);
  t.is((await call(url, 'GET', '/edge/v1/status')).status, 401);
  // The Host check applies to app files too (DNS rebinding).
  t.is((await call(url, 'GET', '/kiosk/', { headers: { host: 'evil.example.com' } })).status, 403);
});
