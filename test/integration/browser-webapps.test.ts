// Webapps in a real browser (integration: headless Chromium, npm pack, the CLI as child processes).
// The runtime replays the demo passage in real time with the demo plugins; KIP and Instrumentpanel,
// from npm (dev dependencies), are packed with npm pack and installed with `signalk-edge
// install-webapp` from the tarball, offline, as an installer would on a boat without internet.
//   KIP: a dashboard with SOG and depth widgets (test/fixtures/webapps/kip-config.json, put where
//        KIP keeps it without a login: localStorage) shows live, changing values; screenshots in
//        test-output/browser/.
//   Instrumentpanel: its WebSocket opens and receives deltas.
//   The landing page lists the demo plugins and the demo source with its counters.
// A second runtime has security on as installed (allowReadOnly false): the landing page's login
// form, and KIP logged in as a user, with its configuration in applicationData (where KIP keeps it
// when logged in) and its stream opened with the login's token.

import test, { type ImplementationFn } from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { DEMO_LOG, PROJECT_ROOT } from '../../runtime/config/settings.js';
import { CHROMIUM, launchBrowser, outputFile } from '../helpers/browser.js';
import { systemTool } from '../helpers/system-tool.js';
import { EXAMPLES, pluginFolder } from '../helpers/plugins.js';
import { startTestRuntime, type TestRuntime } from '../helpers/runtime.js';
import { addUser, call, login, securityOn } from '../helpers/security.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);
const CLI = join(PROJECT_ROOT, 'dist', 'runtime', 'cli', 'main.js');
const KIP_CONFIG = JSON.parse(
  readFileSync(join(PROJECT_ROOT, 'test', 'fixtures', 'webapps', 'kip-config.json'), 'utf8'),
) as Record<string, unknown>;
const WEBAPPS = ['@mxtommy/kip', '@signalk/instrumentpanel'];

const chromium = systemTool(CHROMIUM, 'chromium', ['--version'], import.meta.url);
// One after another: they share the browser and two runtimes on two cores.
const browserTest = (title: string, impl: ImplementationFn<[]>): void =>
  chromium.missing ? chromium.test(title, impl) : test.serial(title, impl);

let rt: TestRuntime;
let secured: TestRuntime;
let browser: Browser;
let work: string | undefined;

test.before(async () => {
  if (chromium.missing) return;
  work = mkdtempSync(join(tmpdir(), 'ske-browser-'));
  const packs = mkdtempSync(join(work, 'packs-'));
  const apps = mkdtempSync(join(work, 'apps-'));
  for (const name of WEBAPPS) {
    const { stdout } = await run(
      'npm',
      ['pack', join(PROJECT_ROOT, 'node_modules', name), '--pack-destination', packs, '--silent'],
      { maxBuffer: 1024 * 1024 },
    );
    await run(process.execPath, [CLI, 'install-webapp', join(packs, stdout.trim()), '--plugins', apps]);
  }
  const demoPlugins = await pluginFolder(
    ['true-wind', 'trip-log', 'anchor-light'].map((name) => ({ from: EXAMPLES, name })),
  );
  const demo = {
    id: 'demo',
    type: 'replay',
    file: DEMO_LOG,
    rate: 'realtime',
    linesPerSecond: 10,
    loop: true,
  } as const;
  rt = await startTestRuntime({ sources: [demo], pluginDirs: [demoPlugins, apps] });
  const securedData = mkdtempSync(join(work, 'secured-'));
  await addUser(securedData, 'crew', 'readwrite');
  secured = await startTestRuntime({
    sources: [demo],
    pluginDirs: [demoPlugins, apps],
    security: securityOn(),
    dataDir: securedData,
  });
  browser = await launchBrowser();
});

test.after.always(async () => {
  await browser?.close();
  await rt?.stop();
  await secured?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** KIP's widgets draw on canvas: a value that changes changes the pixels. True once both the SOG and depth widgets redrew. */
async function widgetsChange(page: Page): Promise<boolean> {
  const sog = page.locator('[gs-id="edge-sog"] canvas');
  const depth = page.locator('[gs-id="edge-depth"] canvas');
  await sog.waitFor({ timeout: 30_000 });
  const first = { sog: await sog.screenshot(), depth: await depth.screenshot() };
  const changed = { sog: false, depth: false };
  return waitFor(
    async () => {
      if (!changed.sog) changed.sog = !(await sog.screenshot()).equals(first.sog);
      if (!changed.depth) changed.depth = !(await depth.screenshot()).equals(first.depth);
      return changed.sog && changed.depth;
    },
    'the SOG and depth widgets redraw with new values',
    40_000,
    500,
  );
}

async function newPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1000, height: 600 } });
  page.on('pageerror', (err) => console.log(`page error: ${err.message}`));
  return page;
}

browserTest('KIP served by signalk-edge shows live, changing speed and depth from the demo replay', async (t) => {
  const page = await newPage();
  t.teardown(() => page.close());
  let deltas = 0;
  page.on('websocket', (ws) =>
    ws.on('framereceived', (f) => void (String(f.payload).includes('"updates"') && deltas++)),
  );
  // KIP keeps its configuration in localStorage when not logged in; a first visit gets the test dashboard.
  await page.addInitScript(
    `if (localStorage.getItem('dashboardsConfig') === null) for (const [k, v] of Object.entries(${JSON.stringify(KIP_CONFIG)})) localStorage.setItem(k, JSON.stringify(v));`,
  );
  await page.goto(`${rt.url}/@mxtommy/kip/`);
  await waitFor(() => deltas > 5, 'KIP receives deltas over its WebSocket', 30_000);
  t.true(await widgetsChange(page));
  await page.screenshot({ path: outputFile('kip.png') });
  t.log(`screenshot: ${outputFile('kip.png')}; ${deltas} delta frames`);
});

browserTest('Instrumentpanel loads, opens its WebSocket and receives deltas', async (t) => {
  const page = await newPage();
  t.teardown(() => page.close());
  const streams: string[] = [];
  let deltas = 0;
  page.on('websocket', (ws) => {
    streams.push(ws.url());
    ws.on('framereceived', (f) => void (String(f.payload).includes('"updates"') && deltas++));
  });
  const response = await page.goto(`${rt.url}/@signalk/instrumentpanel/`);
  t.is(response?.status(), 200);
  await waitFor(() => deltas >= 5, 'Instrumentpanel receives deltas', 30_000);
  t.true(
    streams.some((u) => u.includes('/signalk/v1/stream')),
    streams.join(', '),
  );
  await page.screenshot({ path: outputFile('instrumentpanel.png') });
});

browserTest('the landing page links the webapps and lists the demo plugins and source with counters', async (t) => {
  const page = await newPage();
  t.teardown(() => page.close());
  await page.goto(`${rt.url}/`);
  await page.locator('#plugins tbody tr').first().waitFor({ timeout: 20_000 });
  const links = await Promise.all((await page.locator('#apps a').all()).map((a) => a.getAttribute('href')));
  t.deepEqual(links.sort(), ['/@mxtommy/kip/', '/@signalk/instrumentpanel/']);
  const plugins = await page.locator('#plugins tbody').innerText();
  for (const name of ['true-wind', 'trip-log', 'anchor-light'])
    t.regex(plugins, new RegExp(name.replace('-', '.'), 'i'), plugins);
  t.regex(plugins, /running/);
  const sources = await waitFor(async () => {
    const text = await page.locator('#sources tbody').innerText();
    return /demo\s+replay/.test(text) ? text : undefined;
  }, 'the demo source row');
  const deltas = Number(sources.split(/\s+/)[4]);
  t.true(deltas > 0, sources);
  await page.screenshot({ path: outputFile('landing.png'), fullPage: true });
});

browserTest('security on: the landing page asks for a login; after it, the plugins and sources show', async (t) => {
  const page = await newPage();
  t.teardown(() => page.close());
  await page.goto(`${secured.url}/`);
  await page.locator('#login').waitFor({ state: 'visible', timeout: 20_000 });
  t.is(await page.locator('#plugins tbody tr').count(), 0);
  await page.fill('#user', 'crew');
  await page.fill('#pass', 'wrong-password');
  await page.click('#login button');
  await page.locator('#loginError').filter({ hasText: '401' }).waitFor({ timeout: 10_000 });
  await page.fill('#pass', 'crew-secret-pw');
  await page.click('#login button');
  await page.locator('#plugins tbody tr').first().waitFor({ timeout: 20_000 });
  t.regex(await page.locator('#sources tbody').innerText(), /demo/);
  // The login left an httpOnly cookie: not readable by the page's scripts.
  t.is(await page.evaluate('document.cookie'), '');
  t.true((await page.context().cookies()).some((c) => c.name === 'JAUTHENTICATION' && c.httpOnly));
});

browserTest(
  'security on: KIP logs in as a user, reads its configuration from applicationData, streams with its token and saves back',
  async (t) => {
    const token = await login(secured.url, 'crew');
    const config = KIP_CONFIG as { appConfig: unknown; dashboardsConfig: unknown; themeConfig: unknown };
    // KIP 4 keeps {<config name>: {app, dashboards, theme}} in the user's kip/11 document (as saved earlier from another display).
    const seeded = await call(secured.url, 'POST', '/signalk/v1/applicationData/user/kip/11/default', {
      token,
      body: { app: config.appConfig, dashboards: config.dashboardsConfig, theme: config.themeConfig },
    });
    t.is(seeded.status, 200);
    const page = await newPage();
    t.teardown(() => page.close());
    const connection = {
      configVersion: 12,
      kipUUID: 'edge-test-kip',
      signalKUrl: secured.url,
      proxyEnabled: false,
      signalKSubscribeAll: false,
      useDeviceToken: false,
      loginName: 'crew',
      loginPassword: 'crew-secret-pw',
      useSharedConfig: true,
      sharedConfigName: 'default',
    };
    await page.addInitScript(
      `if (localStorage.getItem('connectionConfig') === null) localStorage.setItem('connectionConfig', ${JSON.stringify(JSON.stringify(connection))});`,
    );
    const appData: number[] = [];
    page.on(
      'response',
      (r) =>
        void (r.url().includes('/applicationData/') && r.request().method() === 'POST' && appData.push(r.status())),
    );
    let deltas = 0;
    let streamUrl = '';
    page.on('websocket', (ws) => {
      streamUrl = ws.url();
      ws.on('framereceived', (f) => void (String(f.payload).includes('"updates"') && deltas++));
    });
    await page.goto(`${secured.url}/@mxtommy/kip/`);
    await waitFor(() => deltas > 5, 'KIP receives deltas with its login', 30_000);
    t.regex(streamUrl, /token=/);
    t.true(await widgetsChange(page));
    // KIP writes its dashboards back with a JSON Patch; upstream's answers are what it expects.
    await waitFor(() => appData.length > 0, 'KIP saves to applicationData', 20_000);
    t.true(
      appData.every((s) => s === 200),
      appData.join(','),
    );
    const stored = await call(secured.url, 'GET', '/signalk/v1/applicationData/user/kip/11/default/dashboards', {
      token,
    });
    t.is((stored.body as { id: string }[])[0].id, 'edge-test-dashboard');
    await page.screenshot({ path: outputFile('kip-logged-in.png') });
  },
);
