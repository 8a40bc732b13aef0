// The parts of the bounds (issue #13) on their own: the limits layers and their errors, the token
// bucket, a plugin's quota (all or nothing per delta), its CPU share, the outbound budget's order.

import test from 'ava';
import { parseSettings } from '../../runtime/config/settings.js';
import { SettingsError } from '../../core/settings-reader.js';
import { loadProfile } from '../../runtime/board/profile.js';
import { DEFAULT_LIMITS, resolveLimits } from '../../runtime/security/limits.js';
import { TokenBucket } from '../../runtime/security/token-bucket.js';
import { CpuShare, PluginQuota } from '../../runtime/plugins/quotas.js';
import { OutboundBudget, type BudgetedClient } from '../../runtime/api/client-budget.js';
import { checkConfigBounds, ConfigBoundsError } from '../../runtime/plugins/plugin-config.js';
import { createLogger } from '../../core/log.js';

test('limits: defaults, then the board, then the settings; bad values name their key', (t) => {
  const cerbo = loadProfile('cerbo-gx');
  const settings = parseSettings(
    { limits: { stream: { maxClients: 10 }, plugins: { cpuShare: 0.5 } } },
    '/x/settings.json',
  );
  const limits = resolveLimits(cerbo.limits, settings.limits);
  t.is(limits.stream.maxClients, 10, 'settings win');
  t.is(limits.stream.totalBufferBytes, 8 * 1024 * 1024, 'the board lowers the default');
  t.is(limits.stream.clientBufferBytes, DEFAULT_LIMITS.stream.clientBufferBytes, 'the default where nobody says');
  t.is(limits.plugins.cpuShare, 0.5);
  t.is(resolveLimits(loadProfile('generic').limits).stream.maxClients, 64);
  const bad = (limits: unknown) =>
    t.throws(() => parseSettings({ limits }, '/x/settings.json'), { instanceOf: SettingsError });
  t.regex(
    bad({ stream: { maxClients: 0 } })!.message,
    /limits\.stream\.maxClients: must be an integer from 1 to 10000, got 0/,
  );
  t.regex(
    bad({ plugins: { cpuShare: 2 } })!.message,
    /limits\.plugins\.cpuShare: must be a number from 0\.01 to 1, got 2/,
  );
  t.regex(bad({ plugins: { storage: 1 } })!.message, /limits\.plugins\.storage: unknown key/);
  t.regex(bad({ streams: {} })!.message, /limits\.streams: unknown key/);
});

test('token bucket: a burst, then the rate; charges may overdraw', (t) => {
  let now = 0;
  const b = new TokenBucket(10, 5, () => now);
  t.true(b.take(5));
  t.false(b.take(1));
  now += 100;
  t.true(b.take(1));
  b.charge(10);
  t.is(b.available(), -10);
  t.is(b.msUntil(1), 1100);
  now += 10_000;
  t.is(b.available(), 5, 'never more than the burst');
});

test('plugin quota: a delta is admitted or refused whole; paths and kept bytes count the latest value per path', (t) => {
  const q = new PluginQuota(
    {
      ...DEFAULT_LIMITS.plugins,
      maxValueBytes: 1000,
      maxPaths: 3,
      storedValueBytes: 2000,
      publishBytesPerSecond: 100_000,
    },
    DEFAULT_LIMITS.config,
  );
  const delta = (values: [string, unknown][]) =>
    ({ updates: [{ values: values.map(([path, value]) => ({ path, value })) }] }) as Parameters<
      PluginQuota['admitDelta']
    >[0];
  const text = (d: object) => JSON.stringify(d).length;
  const two = delta([
    ['a', 1],
    ['b', 2],
  ]);
  t.is(q.admitDelta(two, text(two)), undefined);
  const big = delta([['c', 'x'.repeat(1500)]]);
  t.regex(String(q.admitDelta(big, text(big))), /maxValueBytes \(1000\)/);
  const tooMany = delta([
    ['c', 1],
    ['d', 1],
  ]);
  t.regex(String(q.admitDelta(tooMany, text(tooMany))), /maxPaths \(3 distinct paths per plugin\)/);
  t.is(q.status().paths, 2, 'the refused delta added nothing');
  // Rewriting a path replaces its bytes: a path at 900 bytes again and again stays within 2000.
  for (let i = 0; i < 5; i++) {
    const d = delta([['a', 'y'.repeat(880)]]);
    t.is(q.admitDelta(d, 900), undefined);
  }
  const more = delta([
    ['b', 'z'.repeat(880)],
    ['c', 'z'.repeat(880)],
  ]);
  t.regex(String(q.admitDelta(more, 1800)), /storedValueBytes \(2000 bytes\)/);
  t.deepEqual(q.status().refused, {
    publishRate: 0,
    valueSize: 1,
    paths: 1,
    storedBytes: 1,
    logLines: 0,
    configWrites: 0,
  });
});

test('CPU share: work is allowed while the share lasts; held at it for overMs the plugin is over', async (t) => {
  const cpu = new CpuShare(0.1, 1000);
  t.true(cpu.allowed());
  cpu.charge(150);
  t.false(cpu.allowed(), 'a 100 ms bucket overdrawn');
  t.false(cpu.over());
  t.true(cpu.waitMs() > 400);
  const until = performance.now() + 1300;
  while (performance.now() < until) {
    if (cpu.allowed()) cpu.charge(50);
    await new Promise((r) => setTimeout(r, 20));
  }
  t.true(cpu.over());
  cpu.reset();
  t.false(cpu.over());
});

test('outbound budget: over it, the clients holding the most go first, until the rest fits', (t) => {
  const evicted: string[] = [];
  const clients: BudgetedClient[] = [
    { id: 'a', buffered: () => 400, evict: () => evicted.push('a') },
    { id: 'b', buffered: () => 900, evict: () => evicted.push('b') },
    { id: 'c', buffered: () => 700, evict: () => evicted.push('c') },
  ];
  const budget = new OutboundBudget(1000, () => clients.filter((c) => !evicted.includes(c.id)), createLogger('test'));
  budget.charge(900);
  t.deepEqual(evicted, []);
  budget.charge(200);
  t.deepEqual(evicted, ['b', 'c']);
  t.is(budget.evicted, 2);
});

test('config bounds: depth walked without recursion, size of the compact JSON', (t) => {
  let deep: unknown = 0;
  for (let i = 0; i < 100_000; i++) deep = [deep];
  t.throws(() => checkConfigBounds(deep as never), {
    instanceOf: ConfigBoundsError,
    message: /nests 100000 levels deep/,
  });
  t.is(checkConfigBounds({ a: [1, { b: 2 }] }), '{"a":[1,{"b":2}]}');
  t.throws(() => checkConfigBounds({ s: 'x'.repeat(70_000) }), { message: /70008 bytes of JSON; at most 65536/ });
});
