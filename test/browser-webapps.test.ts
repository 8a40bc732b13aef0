// Webapps in a real browser (integration: headless Chromium, npm pack, the CLI as child processes).
// The runtime replays the demo passage in real time with the demo plugins; KIP and Instrumentpanel,
// from npm (dev dependencies), are packed with npm pack and installed with `signalk-edge
// install-webapp` from the tarball, offline, as an installer would on a boat without internet.
//   KIP: a dashboard with SOG and depth widgets (test/fixtures/webapps/kip-config.json, put where
//        KIP keeps it without a login: localStorage) shows live, changing values; screenshots in
//        test-output/browser/.
//   Instrumentpanel: its WebSocket opens and receives deltas.
//   The landing page lists the demo plugins and the demo source with its counters.

import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { DEMO_LOG, PROJECT_ROOT } from '../runtime/config/settings.js';
import { launchBrowser, NO_BROWSER, outputFile } from './helpers/browser.js';
import { EXAMPLES, pluginFolder } from './helpers/plugins.js';
import { startTestRuntime, type TestRuntime } from './helpers/runtime.js';
import { waitFor } from './helpers/wait.js';

const run = promisify(execFile);
const CLI = join(PROJECT_ROOT, 'dist', 'runtime', 'cli', 'main.js');
const KIP_CONFIG = JSON.parse(readFileSync(join(PROJECT_ROOT, 'test', 'fixtures', 'webapps', 'kip-config.json'), 'utf8')) as Record<string, unknown>;
const WEBAPPS = ['@mxtommy/kip', '@signalk/instrumentpanel'];

const browserTest = NO_BROWSER ? test.skip : test.serial;
if (NO_BROWSER) console.log(`browser-webapps: skipped: ${NO_BROWSER}`);

let rt: TestRuntime;
let browser: Browser;
const work = mkdtempSync(join(tmpdir(), 'ske-browser-'));

test.before(async () => {
  if (NO_BROWSER) return;
  const packs = mkdtempSync(join(work, 'packs-'));
  const apps = mkdtempSync(join(work, 'apps-'));
  for (const name of WEBAPPS) {
    const { stdout } = await run('npm', ['pack', join(PROJECT_ROOT, 'node_modules', name), '--pack-destination', packs, '--silent'], { maxBuffer: 1024 * 1024 });
    await run(process.execPath, [CLI, 'install-webapp', join(packs, stdout.trim()), '--plugins', apps]);
  }
  const demoPlugins = await pluginFolder(['true-wind', 'trip-log', 'anchor-light'].map((name) => ({ from: EXAMPLES, name })));
  rt = await startTestRuntime({
    sources: [{ id: 'demo', type: 'replay', file: DEMO_LOG, rate: 'realtime', linesPerSecond: 10, loop: true }],
    pluginDirs: [demoPlugins, apps],
  });
  browser = await launchBrowser();
});

test.after.always(async () => {
  await browser?.close();
  await rt?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function newPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1000, height: 600 } });
  page.on('pageerror', (err) => console.log(`page error: ${err.message}`));
  return page;
}

browserTest('KIP served by signalk-edge shows live, changing speed and depth from the demo replay', async (t) => {
  const page = await newPage();
  t.teardown(() => page.close());
  let deltas = 0;
  page.on('websocket', (ws) => ws.on('framereceived', (f) => void (String(f.payload).includes('"updates"') && deltas++)));
  // KIP keeps its configuration in localStorage when not logged in; a first visit gets the test dashboard.
  await page.addInitScript(
    `if (localStorage.getItem('dashboardsConfig') === null) for (const [k, v] of Object.entries(${JSON.stringify(KIP_CONFIG)})) localStorage.setItem(k, JSON.stringify(v));`,
  );
  await page.goto(`${rt.url}/@mxtommy/kip/`);
  const sog = page.locator('[gs-id="edge-sog"] canvas');
  const depth = page.locator('[gs-id="edge-depth"] canvas');
  await sog.waitFor({ timeout: 30_000 });
  await waitFor(() => deltas > 5, 'KIP receives deltas over its WebSocket', 30_000);
  // The widgets draw on canvas: a value that changes changes the pixels. Sample until both changed.
  const first = { sog: await sog.screenshot(), depth: await depth.screenshot() };
  const changed = { sog: false, depth: false };
  await waitFor(async () => {
    if (!changed.sog) changed.sog = !(await sog.screenshot()).equals(first.sog);
    if (!changed.depth) changed.depth = !(await depth.screenshot()).equals(first.depth);
    return changed.sog && changed.depth;
  }, 'the SOG and depth widgets redraw with new values', 40_000, 500);
  await page.screenshot({ path: outputFile('kip.png') });
  t.log(`screenshot: ${outputFile('kip.png')}; ${deltas} delta frames`);
  t.true(changed.sog && changed.depth);
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
  t.true(streams.some((u) => u.includes('/signalk/v1/stream')), streams.join(', '));
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
  for (const name of ['true-wind', 'trip-log', 'anchor-light']) t.regex(plugins, new RegExp(name.replace('-', '.'), 'i'), plugins);
  t.regex(plugins, /running/);
  const sources = await waitFor(async () => {
    const text = await page.locator('#sources tbody').innerText();
    return /demo\s+replay/.test(text) ? text : undefined;
  }, 'the demo source row');
  const deltas = Number(sources.split(/\s+/)[4]);
  t.true(deltas > 0, sources);
  await page.screenshot({ path: outputFile('landing.png'), fullPage: true });
});
