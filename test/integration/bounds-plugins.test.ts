// Issue #13, findings 3, 4, 5 and 7: no plugin can take the runtime down or abuse what it shares
// with others. Each reproduction runs the resource-hog fixture (test/fixtures/plugins/resource-hog),
// built from source, in a real runtime: in a child process where the finding was about the
// process's memory, log volume or API latency.

import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonValue } from '../../core/json.js';
import { DEMO_LOG } from '../../runtime/config/settings.js';
import { configFile, ensurePluginStorage } from '../../runtime/storage/plugin-storage.js';
import {
  configurePlugin,
  FIXTURES,
  http,
  pluginFolder,
  pluginStatus,
  selfValue,
  type PluginView,
} from '../helpers/plugins.js';
import { startTestRuntime, type RuntimeOptions } from '../helpers/runtime.js';
import { latencyMs, rssMB, startChildRuntime } from '../helpers/child-runtime.js';
import { waitFor } from '../helpers/wait.js';
import type { QuotaStatus } from '../../runtime/plugins/quotas.js';

const HOG = '_signalk-edge-fixture_resource-hog';

type HogStatus = PluginView & { quota: QuotaStatus; putRefused: { context: string; path: string; owner: string }[] };

/** A plugin folder with the resource hog, or with copies of it under other package names. */
async function hogFolder(names: string[] = ['resource-hog']): Promise<string> {
  const dir = await pluginFolder(names.map((as) => ({ from: FIXTURES, name: 'resource-hog', as })));
  for (const as of names) {
    const file = join(dir, as, 'package.json');
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name: string };
    pkg.name = `@signalk-edge-fixture/${as}`;
    writeFileSync(file, JSON.stringify(pkg));
  }
  return dir;
}

async function hogRuntime(
  t: { teardown(fn: () => unknown): void },
  configuration: JsonValue,
  opts: RuntimeOptions = {},
) {
  const dataDir = mkdtempSync(join(tmpdir(), 'ske-bounds-'));
  configurePlugin(dataDir, HOG, configuration);
  const rt = await startTestRuntime({ pluginDirs: [await hogFolder()], ...opts, dataDir });
  t.teardown(async () => {
    await rt.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return rt;
}

async function childStatus(url: string, id = HOG): Promise<HogStatus> {
  return (await (await fetch(`${url}/plugins/${id}`)).json()) as HogStatus;
}

test('reproduction (finding 3): 16 values of 1 MiB a second under new paths are refused; RSS stays flat', async (t) => {
  t.timeout(90_000);
  const dir = await hogFolder();
  const child = await startChildRuntime({
    settings: { board: 'cerbo-gx', plugins: { dirs: [dir], watch: false } },
    nodeFlags: ['--max-old-space-size=128'],
    prepare: (data) => configurePlugin(data, HOG, { mode: 'publish', valueBytes: 1024 * 1024, perPoll: 16 }),
  });
  t.teardown(() => child.stop());
  await waitFor(async () => (await childStatus(child.url)).state === 'running', 'the hog to run');
  const start = rssMB(child.pid);
  const samples: number[] = [];
  // Until five polls' worth were refused (at least 20 s): a loaded machine polls less often, so the
  // count, not the clock, ends the run; each value is refused either way.
  const refused = (st: HogStatus) => st.quota.refused.publishRate + st.quota.refused.valueSize;
  const began = Date.now();
  let s = await childStatus(child.url);
  while (Date.now() - began < 20_000 || (refused(s) < 16 * 5 && Date.now() - began < 75_000)) {
    await new Promise((r) => setTimeout(r, 1000));
    t.is(child.exited(), undefined, child.logTail().slice(-2000));
    samples.push(rssMB(child.pid));
    s = await childStatus(child.url);
  }
  const peak = Math.max(...samples);
  t.log(
    `RSS ${start.toFixed(0)} → peak ${peak.toFixed(0)} MiB over ${((Date.now() - began) / 1000).toFixed(0)} s; quota ${JSON.stringify(s.quota.refused)}, ${s.quota.paths} paths kept`,
  );
  t.true(refused(s) >= 16 * 5, 'the big values were refused');
  t.is(s.quota.paths, 0);
  t.regex(String((s.deltas as { lastRejection?: string }).lastRejection), /limits\.plugins\./);
  t.true(peak < start + 40, `RSS ${start.toFixed(0)} → ${peak.toFixed(0)} MiB`);
  const model = (await (await fetch(`${child.url}/signalk/v1/api/vessels/self/test`)).json()) as unknown;
  t.deepEqual(model, { error: (model as { error?: unknown }).error, statusCode: 404 });
});

test('values under the size bound: distinct paths and the bytes the model keeps per plugin are bounded', async (t) => {
  const rt = await hogRuntime(
    t,
    { mode: 'publish', valueBytes: 2000, perPoll: 50 },
    {
      limits: { plugins: { maxPaths: 120, storedValueBytes: 1024 * 1024, publishBytesPerSecond: 1024 * 1024 } },
    },
  );
  await waitFor(
    async () => ((await pluginStatus(rt.runtime, HOG)) as HogStatus).quota.refused.paths > 0,
    'the paths bound',
    30_000,
  );
  const s = (await pluginStatus(rt.runtime, HOG)) as HogStatus;
  t.is(s.quota.paths, 120, 'one value per delta: paths fill up to the bound');
  t.true(s.quota.storedValueBytes <= 1024 * 1024);
  t.truthy(selfValue(rt.runtime, 'test.hog.p00000119'));
  t.falsy(selfValue(rt.runtime, 'test.hog.p00000120'));
});

test("reproduction (finding 4): a second plugin cannot take over another plugin's PUT path; disabling it leaves the owner answering", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ske-put-'));
  const first = '_signalk-edge-fixture_a-owner';
  const second = '_signalk-edge-fixture_b-hijacker';
  configurePlugin(dataDir, first, { mode: 'put', tag: 'owner' });
  configurePlugin(dataDir, second, { mode: 'put', tag: 'hijacker' });
  const rt = await startTestRuntime({ pluginDirs: [await hogFolder(['a-owner', 'b-hijacker'])], dataDir });
  t.teardown(async () => {
    await rt.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const put = async () => http(rt.runtime, 'PUT', '/signalk/v1/api/vessels/self/test/owned', { value: 1 });
  // Plugins start in parallel: whichever registered first owns the path; the other is refused.
  const a = (await pluginStatus(rt.runtime, first)) as HogStatus;
  const b = (await pluginStatus(rt.runtime, second)) as HogStatus;
  const [owner, refused, ownerTag] = a.putRefused.length === 0 ? [a, b, 'owner'] : [b, a, 'hijacker'];
  t.deepEqual(owner.putHandlers, [{ context: 'vessels.self', path: 'test.owned' }]);
  t.deepEqual(refused.putHandlers, []);
  t.deepEqual(refused.putRefused, [{ context: 'vessels.self', path: 'test.owned', owner: owner.id }]);
  t.true(
    refused.events?.some(
      (e) => e.event === `PUT handler for vessels.self test.owned refused: plugin ${owner.id} owns that path`,
    ),
  );
  t.is(refused.statusMessage, 'put handler registered: 0', 'sk_register_put_handler returned the error code');
  const before = await put();
  t.is(before.status, 200);
  t.is((before.body as { message?: string }).message, ownerTag);
  // Disabling the refused plugin changes nothing for the owner.
  t.is((await http(rt.runtime, 'POST', `/plugins/${refused.id}/disable`)).status, 200);
  const after = await put();
  t.is(after.status, 200);
  t.is((after.body as { message?: string }).message, ownerTag);
  t.is(((await pluginStatus(rt.runtime, owner.id)) as HogStatus).state, 'running');
});

test('reproduction (finding 5): deep or big configurations are refused with 400 and a reason; stored compact; a failed write is never "Saved"', async (t) => {
  const rt = await hogRuntime(t, { mode: 'idle' });
  const file = configFile(rt.dataDir, HOG);
  // Depth 4,500 in a 9 KB body: the audit's 33.6 MB file and false 200.
  const before = readFileSync(file, 'utf8');
  const r1 = await http(
    rt.runtime,
    'POST',
    `/plugins/${HOG}/config`,
    `{"configuration":{"deep":${'['.repeat(4500)}${']'.repeat(4500)}}}`,
  );
  t.is(r1.status, 400);
  t.regex(
    String((r1.body as { error: string }).error),
    /nests 4501 levels deep; at most 32 \(limits\.config\.maxDepth\)/,
  );
  t.is(readFileSync(file, 'utf8'), before, 'nothing written');
  // Depth 30 is fine, and the file is compact JSON: about the size of the request.
  let ok: JsonValue = 'leaf';
  for (let i = 0; i < 30; i++) ok = { k: ok, pad: 'y'.repeat(200) };
  const body = JSON.stringify({ configuration: { ok } });
  const r2 = await http(rt.runtime, 'POST', `/plugins/${HOG}/config`, body);
  t.is(r2.status, 200);
  t.true(
    statSync(file).size < body.length + 100,
    `stored ${statSync(file).size} bytes for a ${body.length}-byte request`,
  );
  // Too big (within the HTTP body bound): 400.
  const r3 = await http(rt.runtime, 'POST', `/plugins/${HOG}/config`, {
    configuration: { blob: 'z'.repeat(100 * 1024) },
  });
  t.is(r3.status, 400);
  t.regex(String((r3.body as { error: string }).error), /limits\.config\.maxBytes/);
  // A write that fails (the file's place is taken by a folder) is an error, never "Saved".
  rmSync(file);
  mkdirSync(join(file, 'blocker'), { recursive: true });
  const r4 = await http(rt.runtime, 'POST', `/plugins/${HOG}/config`, { configuration: { mode: 'idle', x: 1 } });
  t.is(r4.status, 500);
  t.notRegex(JSON.stringify(r4.body), /Saved/);
});

test('reproduction (finding 7, log): 3.5 MB/s of debug and status lines leave a bounded log', async (t) => {
  t.timeout(60_000);
  const dir = await hogFolder();
  const child = await startChildRuntime({
    settings: { plugins: { dirs: [dir], watch: false } },
    prepare: (data) => configurePlugin(data, HOG, { mode: 'log', perPoll: 2500, lineBytes: 700 }),
    // The worst case: an operator debugging prints every plugin line.
    logLevel: 'debug',
  });
  t.teardown(() => child.stop());
  await waitFor(async () => (await childStatus(child.url)).state === 'running', 'the hog to run');
  const b0 = child.logBytes();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, 8000));
  const rate = (child.logBytes() - b0) / ((performance.now() - t0) / 1000);
  const s = await childStatus(child.url);
  t.log(
    `log ${(rate / 1024).toFixed(1)} KiB/s while the plugin tried 3.4 MiB/s; ${s.quota.refused.logLines} lines dropped`,
  );
  t.true(s.quota.refused.logLines > 5000);
  t.true(rate < 64 * 1024, `${rate.toFixed(0)} bytes/s of log`);
});

test('reproduction (finding 7, config): configuration saves are limited per second and in size', async (t) => {
  const rt = await hogRuntime(t, { mode: 'config', perPoll: 20, valueBytes: 20_000 });
  await waitFor(() => Number(selfValue(rt.runtime, 'test.hog.saved')) > 0, 'the first saves', 20_000);
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, 4000));
  const saved = Number(selfValue(rt.runtime, 'test.hog.saved'));
  const seconds = (Date.now() - t0) / 1000 + 2;
  const s = (await pluginStatus(rt.runtime, HOG)) as HogStatus;
  t.log(`${saved} saves of 20 KB accepted in about ${seconds.toFixed(0)} s, ${s.quota.refused.configWrites} refused`);
  t.true(saved <= 5 + Math.ceil(seconds) + 1, `${saved} saves`);
  t.true(s.quota.refused.configWrites > 50);
});

test('reproduction (finding 7, storage): the VFS is held to limits.plugins.storageMB and the plugin gets EDQUOT', async (t) => {
  const rt = await hogRuntime(t, { mode: 'storage', perPoll: 20 }, { limits: { plugins: { storageMB: 5 } } });
  await waitFor(() => Number(selfValue(rt.runtime, 'test.hog.errno')) === 19, 'EDQUOT', 20_000);
  const written = Number(selfValue(rt.runtime, 'test.hog.written'));
  const file = join(ensurePluginStorage(rt.dataDir, HOG), 'data', 'hog.bin');
  t.log(
    `${(written / 1024 / 1024).toFixed(1)} MiB accepted, file ${(statSync(file).size / 1024 / 1024).toFixed(1)} MiB`,
  );
  t.true(written <= 5 * 1024 * 1024);
  t.true(statSync(file).size <= 5 * 1024 * 1024);
});

test('reproduction (finding 7, CPU): a plugin spinning on every delta is throttled to its share, then stopped with a clear status; the API keeps answering', async (t) => {
  t.timeout(90_000);
  const dir = await hogFolder();
  const share = 0.25;
  const child = await startChildRuntime({
    settings: {
      plugins: { dirs: [dir], watch: false },
      sources: [{ id: 'demo', type: 'replay', file: DEMO_LOG, rate: 'realtime', linesPerSecond: 200, loop: true }],
      limits: { plugins: { cpuShare: share, cpuOverMs: 8000 } },
    },
    // 200 deltas a second × 5 ms: it wants the whole thread.
    prepare: (data) => configurePlugin(data, HOG, { mode: 'spin', spinMs: 5 }),
  });
  t.teardown(() => child.stop());
  await waitFor(async () => (await childStatus(child.url)).state === 'running', 'the hog to run');
  const first = await childStatus(child.url);
  const t0 = performance.now();
  const latencies: number[] = [];
  let last = first;
  while (performance.now() - t0 < 6000) {
    latencies.push(await latencyMs(`${child.url}/signalk/v1/api/vessels/self/navigation`));
    await new Promise((r) => setTimeout(r, 100));
  }
  last = await childStatus(child.url);
  const used = (last.quota.cpu.usedMs - first.quota.cpu.usedMs) / (performance.now() - t0);
  const sorted = [...latencies].sort((a, b) => a - b);
  const median = sorted[sorted.length >> 1]!;
  const p95 = sorted[Math.floor(sorted.length * 0.95)]!;
  t.log(
    `plugin used ${(used * 100).toFixed(0)} % of the main thread (share ${share * 100} %), throttled ${last.quota.cpu.throttled} times; API latency median ${median.toFixed(0)} ms, p95 ${p95.toFixed(0)} ms, max ${sorted[sorted.length - 1]!.toFixed(0)} ms`,
  );
  t.true(used < share + 0.1, `used ${(used * 100).toFixed(0)} %`);
  t.true(last.quota.cpu.throttled > 0);
  t.true(median < 100, `median latency ${median.toFixed(0)} ms`);
  const stopped = await waitFor(
    async () => {
      const s = await childStatus(child.url);
      return s.state === 'failed' ? s : undefined;
    },
    'the plugin to be stopped',
    30_000,
  );
  t.regex(
    String(stopped.errorMessage),
    /used its whole share of the main thread \(limits\.plugins\.cpuShare 0\.25\) for 8000 ms/,
  );
  t.regex(String(stopped.statusMessage), /over its CPU share/);
  t.true((await latencyMs(`${child.url}/signalk/v1/api/vessels/self`)) < 1000);
});
