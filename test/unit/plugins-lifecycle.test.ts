// The runner's pure parts: the lifecycle state table, the restart policy (decisions from crash
// counts and run time, no timers), the status report and the start configuration.

import test from 'ava';
import { Lifecycle, mayFollow, serving, TRANSITIONS, type PluginState } from '../../runtime/plugins/lifecycle.js';
import { afterCrash } from '../../runtime/plugins/restart-policy.js';
import { PluginReport } from '../../runtime/plugins/status.js';
import { startConfig } from '../../runtime/plugins/instance-loader.js';
import { DEFAULT_PLUGIN_RESTART, type PluginRestartSettings } from '../../runtime/config/settings.js';

const STATES = Object.keys(TRANSITIONS) as PluginState[];

test('every state may be stopped, disabled or started afresh', (t) => {
  for (const from of STATES)
    for (const to of ['stopped', 'disabled', 'starting'] as const) t.true(mayFollow(from, to), `${from} → ${to}`);
});

test('only a start or a reload leads to running; only a running plugin reloads', (t) => {
  t.deepEqual(
    STATES.filter((s) => mayFollow(s, 'running')),
    ['starting', 'reloading'],
  );
  t.deepEqual(
    STATES.filter((s) => mayFollow(s, 'reloading')),
    ['running'],
  );
});

test('a plugin without an instance cannot crash, fail or error', (t) => {
  for (const from of ['stopped', 'disabled', 'crashed', 'failed', 'error'] as const) {
    for (const to of ['running', 'reloading', 'crashed', 'failed', 'error'] as const)
      t.false(mayFollow(from, to), `${from} → ${to}`);
  }
});

test('the table names only known states', (t) => {
  for (const from of STATES) for (const to of TRANSITIONS[from]) t.true(STATES.includes(to), `${from} → ${to}`);
});

test('Lifecycle moves along the table and refuses the rest', (t) => {
  const l = new Lifecycle('stopped');
  l.moveTo('starting');
  t.false(l.serving);
  l.moveTo('running');
  t.true(l.serving);
  l.moveTo('reloading');
  t.true(l.serving);
  l.moveTo('crashed');
  t.is(l.state, 'crashed');
  t.throws(() => l.moveTo('running'), { message: 'plugin lifecycle: crashed → running is not a transition' });
  t.is(l.state, 'crashed');
  t.deepEqual(STATES.filter(serving), ['running', 'reloading']);
});

const POLICY: PluginRestartSettings = { baseMs: 1000, maxMs: 5000, maxCrashes: 5, stableMs: 30_000 };

test('restarts back off exponentially up to maxMs, then give up at maxCrashes', (t) => {
  let crashes = 0;
  const delays: number[] = [];
  for (;;) {
    const d = afterCrash(POLICY, crashes, 100);
    crashes = d.crashes;
    if (d.action === 'give-up') break;
    delays.push(d.delayMs);
  }
  t.deepEqual(delays, [1000, 2000, 4000, 5000]);
  t.is(crashes, 5);
});

test('a run of stableMs forgives earlier crashes; a crash before running does not', (t) => {
  t.deepEqual(afterCrash(POLICY, 4, 30_000), { action: 'restart', crashes: 1, delayMs: 1000 });
  t.deepEqual(afterCrash(POLICY, 3, 29_999), { action: 'restart', crashes: 4, delayMs: 5000 });
  t.deepEqual(afterCrash(POLICY, 4, undefined), { action: 'give-up', crashes: 5 });
});

test("the default policy is upstream's: 1 s, 2 s, then give up at the third crash", (t) => {
  t.deepEqual(afterCrash(DEFAULT_PLUGIN_RESTART, 0, undefined), { action: 'restart', crashes: 1, delayMs: 1000 });
  t.deepEqual(afterCrash(DEFAULT_PLUGIN_RESTART, 1, 10), { action: 'restart', crashes: 2, delayMs: 2000 });
  t.deepEqual(afterCrash(DEFAULT_PLUGIN_RESTART, 2, 10), { action: 'give-up', crashes: 3 });
});

test('the report keeps the last 20 events and each refused PUT path once', (t) => {
  const r = new PluginReport();
  for (let i = 0; i < 25; i++) r.event(`e${i}`);
  r.refusedPut({ context: 'vessels.self', path: 'a', owner: 'x' });
  r.refusedPut({ context: 'vessels.self', path: 'a', owner: 'y' });
  r.deltas.received = 3;
  const s = r.snapshot();
  t.is(s.events.length, 20);
  t.is(s.events[0]?.event, 'e5');
  t.deepEqual(s.putRefused, [{ context: 'vessels.self', path: 'a', owner: 'x' }]);
  t.deepEqual(s.deltas, { received: 3, emitted: 0, rejected: 0, dropped: 0, feedbackDropped: 0 });
  r.deltas.received = 4;
  t.is(s.deltas.received, 3, 'a snapshot is a copy');
});

test('plugin_start gets the configuration with schema defaults and enableDebug at its root', (t) => {
  const schema = { type: 'object', properties: { rate: { type: 'number', default: 5 } } };
  t.deepEqual(JSON.parse(startConfig(schema, undefined, true)), { rate: 5, enableDebug: true });
  t.deepEqual(JSON.parse(startConfig(schema, { rate: 2 }, false)), { rate: 2, enableDebug: false });
  t.deepEqual(JSON.parse(startConfig(undefined, [1, 2], true)), [1, 2]);
});
