// Command plugins: WASI programs run in a @wasmer/sdk sandbox, fed on stdin with what they were
// granted and subscribed to, publishing the deltas they write on stdout. The example
// (examples/nmea-command) reads a pty granted to it; the command-probe fixture (built from
// source) writes garbage, exits, traps, loops forever or keeps a file in its VFS, as its
// configuration's `mode` says. One test at a time: each starts a ~90 MB @wasmer/sdk sandbox that
// takes seconds to start, and eleven at once timed out their waits on a loaded 2-core machine.

import test, { type ExecutionContext } from 'ava';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addGrant, type GrantLists } from '../../runtime/capabilities/store.js';
import { discoverPlugins } from '../../runtime/plugins/discovery.js';
import { vfsRoot } from '../../runtime/storage/plugin-storage.js';
import {
  configurePlugin,
  EXAMPLES,
  FIXTURES,
  pluginFolder,
  pluginStatus,
  publish,
  selfValue,
  type PluginView,
} from '../helpers/plugins.js';
import { startPtyPair } from '../helpers/pty.js';
import { startTestRuntime } from '../helpers/runtime.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';

const EXAMPLE = '_signalk-edge_nmea-command';
const PROBE = '_signalk-edge-fixture_command-probe';
const DATA_GRANTS = ['dataRead', 'dataWrite'];

function sentence(body: string): string {
  let sum = 0;
  for (const c of body) sum ^= c.charCodeAt(0);
  return `$${body}*${sum.toString(16).toUpperCase().padStart(2, '0')}\r\n`;
}

/** Heading 090° true at 5.0 kn through the water, 6.0 kn over the ground on course 090°: 1 kn of current setting east. */
const PASSAGE =
  sentence('IIVHW,90.0,T,88.0,M,5.0,N,9.3,K') +
  '$GPGGA,garbage*00\r\n' +
  sentence('GPRMC,123519,A,4807.038,N,01131.000,E,6.0,90.0,230394,003.1,W');
const EXPECTED_CURRENT = { setTrue: 1.5708, drift: 0.5144 };

interface Capabilities {
  effective: string[];
  denied: { capability: string; message: string }[];
}

async function probeRuntime(
  t: { teardown(fn: () => Promise<void>): void },
  mode: string,
  extra: { callTimeoutMs?: number; dataDir?: string; watch?: boolean; plugins?: string } = {},
) {
  const plugins = extra.plugins ?? (await pluginFolder([{ from: FIXTURES, name: 'command-probe' }]));
  const dataDir = extra.dataDir ?? tempDir(t as never, 'ske-command-');
  configurePlugin(dataDir, PROBE, { mode });
  const rt = await startTestRuntime({
    dataDir,
    pluginDirs: [plugins],
    restart: { baseMs: 50, maxMs: 200, maxCrashes: 3 },
    watch: extra.watch ?? false,
    ...(extra.callTimeoutMs === undefined ? {} : { callTimeoutMs: extra.callTimeoutMs }),
  });
  t.teardown(() => rt.stop());
  return rt;
}

/** The nmea-command example reading the plugin end of a new pty pair, in a runtime with the grants `grants(device)` gives. */
async function exampleOnPty(t: ExecutionContext, grants: (device: string) => GrantLists) {
  const dir = tempDir(t, 'ske-command-pty-');
  const pty = await startPtyPair(join(dir, 'instrument'), join(dir, 'plugin'));
  t.teardown(() => pty.stop());
  const plugins = await pluginFolder([{ from: EXAMPLES, name: 'nmea-command' }]);
  const dataDir = tempDir(t, 'ske-command-');
  configurePlugin(dataDir, EXAMPLE, { serialDevice: pty.b });
  const rt = await startTestRuntime({ dataDir, pluginDirs: [plugins], grants: grants(pty.b) });
  t.teardown(() => rt.stop());
  return { pty, dataDir, rt };
}

test.serial(
  'the example command plugin, granted a pty, turns sentences written into it into deltas in the model',
  async (t) => {
    const { pty, rt } = await exampleOnPty(t, (device) => ({ '*': DATA_GRANTS, [EXAMPLE]: [`serial:${device}`] }));

    await waitFor(
      () => rt.runtime.devices.serial.list().some((d) => d.device === pty.b && d.state === 'open'),
      'the runtime opens the pty for the plugin',
    );
    writeFileSync(pty.a, PASSAGE);
    const current = await waitFor(
      () => selfValue(rt.runtime, 'environment.current'),
      'environment.current in the model',
    );
    t.deepEqual(current, EXPECTED_CURRENT);
    const node = rt.runtime.model.get([...rt.runtime.model.selfContext.split('.'), 'environment', 'current']) as {
      $source?: string;
    };
    t.is(node.$source, EXAMPLE, 'tagged with the plugin as its source');

    const status = await pluginStatus(rt.runtime, EXAMPLE);
    t.is(status.state, 'running');
    t.is(status.statusMessage, `reading NMEA from ${pty.b} on stdin`);
    t.like((status.hal as { kind: string; target: string; received: number }[])[0], {
      kind: 'serial',
      target: pty.b,
      received: 3,
    });
    t.deepEqual((status.capabilities as Capabilities).denied, []);
    t.like(status.deltas, { emitted: 1, rejected: 0 });
  },
);

test.serial(
  'without the grant a command plugin gets no stream and its status says why; a grant given later opens it',
  async (t) => {
    const { pty, dataDir, rt } = await exampleOnPty(t, () => ({ '*': DATA_GRANTS }));

    const status = await pluginStatus(rt.runtime, EXAMPLE);
    t.is(status.state, 'running');
    t.regex(
      status.errorMessage ?? '',
      /^no serial stream on stdin: stdin stream denied: serial:.* is not granted to _signalk-edge_nmea-command \(grant it with: signalk-edge grant /,
    );
    t.like((status.capabilities as Capabilities).denied[0], { capability: `serial:${pty.b}` });
    t.deepEqual(status.hal, []);
    t.deepEqual(rt.runtime.devices.serial.list(), [], 'the device is not opened');

    addGrant(dataDir, EXAMPLE, `serial:${pty.b}`);
    await waitFor(
      () => rt.runtime.devices.serial.list().some((d) => d.device === pty.b && d.state === 'open'),
      'the grant opens the stream while the plugin runs',
    );
    writeFileSync(pty.a, PASSAGE);
    t.deepEqual(
      await waitFor(() => selfValue(rt.runtime, 'environment.current'), 'environment.current in the model'),
      EXPECTED_CURRENT,
    );
    const after = await pluginStatus(rt.runtime, EXAMPLE);
    t.is(after.errorMessage, '');
    t.deepEqual((after.capabilities as Capabilities).denied, []);
  },
);

test.serial(
  'garbage on stdout is counted and logged, never fatal; stdin carries only the subscribed deltas',
  async (t) => {
    const rt = await probeRuntime(t, 'garbage');
    await waitFor(async () => (await pluginStatus(rt.runtime, PROBE)).state === 'running', 'probe running');
    const n = 20;
    for (let i = 1; i <= n; i++) {
      publish(rt.runtime, [{ path: 'test.other', value: i }]); // not subscribed: never written to stdin
      publish(rt.runtime, [{ path: `test.input.v${i}`, value: i }]);
    }
    await waitFor(
      () => selfValue(rt.runtime, 'test.command.lines') === n,
      `the probe answers all ${n} subscribed deltas`,
    );
    const status = await waitFor(async () => {
      const s = await pluginStatus(rt.runtime, PROBE);
      return s.deltas && s.deltas.rejected === 2 * n ? s : undefined;
    }, 'two refused lines per input counted');
    t.is(status.state, 'running');
    t.is(status.crashes, 0);
    t.like(status.deltas, { received: n, emitted: n, rejected: 2 * n });
    t.regex(String((status.deltas as { lastRejection?: string }).lastRejection), /updates/);
  },
);

test.serial('a command plugin that exits is a crash: restarted with backoff, failed after the limit', async (t) => {
  const rt = await probeRuntime(t, 'exit');
  const status = await waitFor(
    async () => {
      const s = await pluginStatus(rt.runtime, PROBE);
      return s.state === 'failed' ? s : undefined;
      // Three program starts with backoff between them: ~20 s on a loaded 2-core machine.
    },
    'the plugin is given up',
    45_000,
  );
  t.is(status.crashes, 3);
  t.is(status.restarts, 2);
  t.is(status.errorMessage, 'failed: crashed 3 times, last error: the program exited with code 3');
  t.true(
    (status.events ?? []).filter((e) => /^crashed: the program exited with code 3; restart in \d+ ms$/.test(e.event))
      .length === 2,
    'two crashes with a restart scheduled',
  );
  t.is(selfValue(rt.runtime, 'test.command.exited'), 1, 'what it wrote before exiting was published');
});

test.serial('a command plugin that traps is a crash', async (t) => {
  const rt = await probeRuntime(t, 'trap');
  const status = await waitFor(async () => {
    const s = await pluginStatus(rt.runtime, PROBE);
    return s.crashes && s.crashes > 0 ? s : undefined;
  }, 'a crash');
  t.regex(
    status.errorMessage ?? '',
    /^crashed: the program trapped: .*unreachable|^failed: crashed \d times, last error: the program trapped: .*unreachable/,
  );
});

test.serial(
  'a command plugin that loops forever is stopped once its stdin is full; the bus keeps flowing',
  async (t) => {
    const rt = await probeRuntime(t, 'spin', { callTimeoutMs: 300 });
    let seen = 0;
    const unsubscribe = rt.runtime.bus.subscribe(() => void seen++);
    t.teardown(unsubscribe);
    let published = 0;
    // Deltas for its stdin (about 120 bytes each) until it has been stopped twice: 64 KB fill the pipe.
    const status = await waitFor(
      async () => {
        for (let i = 0; i < 200; i++, published++) publish(rt.runtime, [{ path: 'test.input.tick', value: published }]);
        const s = await pluginStatus(rt.runtime, PROBE);
        return s.restarts !== undefined && s.restarts >= 1 && s.crashes !== undefined && s.crashes >= 2 ? s : undefined;
      },
      'two runaway stops',
      60_000,
      50,
    );
    t.regex(
      status.errorMessage ?? '',
      /the program took no input for 300 ms while its stdin was full \(plugins\.callTimeoutMs\) and was stopped/,
    );
    t.is(seen, published, 'every delta published meanwhile went through the bus');
    t.is(selfValue(rt.runtime, 'test.input.tick'), published - 1, 'and reached the model');
    // What it wrote before spinning was written back to its VFS before its worker was terminated.
    const spun = join(vfsRoot(rt.dataDir, PROBE), 'data', 'spin.txt');
    t.is(await waitFor(() => existsSync(spun) && readFileSync(spun, 'utf8'), 'the VFS write-back'), 'about to spin');
  },
);

test.serial('the memory cap applies to a command plugin: allocating past it traps and is a crash', async (t) => {
  const rt = await probeRuntime(t, 'alloc');
  const status = await waitFor(async () => {
    const s = await pluginStatus(rt.runtime, PROBE);
    return s.crashes && s.crashes > 0 ? s : undefined;
  }, 'the allocation to hit the cap');
  t.regex(status.errorMessage ?? '', /the program trapped: .*unreachable/);
  const reached = selfValue(rt.runtime, 'test.command.allocatedMB');
  t.log(`allocated ${String(reached)} MB before the trap`);
  // The default cap is 64 MB; the module's own data and stack take the rest.
  t.true(
    typeof reached === 'number' && reached >= 32 && reached < 64,
    `allocated ${String(reached)} MB before the trap`,
  );
});

test.serial('the sandbox file system counts against a cap too: filling /tmp ends the program as a crash', async (t) => {
  const rt = await probeRuntime(t, 'fill');
  const status = await waitFor(async () => {
    const s = await pluginStatus(rt.runtime, PROBE);
    return s.crashes && s.crashes > 0 ? s : undefined;
  }, 'the file system to fill up');
  t.regex(status.errorMessage ?? '', /the program (trapped|exited with code 4)/);
  const filled = selfValue(rt.runtime, 'test.command.filledMB');
  t.log(`wrote ${String(filled)} MB to /tmp before the cap stopped it`);
  // The SDK's memory gets the 64 MB cap plus 16 MB of its own; its file buffers grow by doubling.
  t.true(typeof filled === 'number' && filled >= 16 && filled < 80, `wrote ${String(filled)} MB before the cap`);
});

test.serial(
  'the VFS is the program working directory, written back when it ends and there again at the next start',
  async (t) => {
    const dataDir = tempDir(t, 'ske-command-');
    mkdirSync(join(vfsRoot(dataDir, PROBE), 'data'), { recursive: true });
    writeFileSync(join(vfsRoot(dataDir, PROBE), 'data', 'runs.txt'), '41');
    const first = await probeRuntime(t, 'vfs', { dataDir });
    await waitFor(
      () => selfValue(first.runtime, 'test.command.runs') === 42,
      'the program read the file placed in its VFS',
    );
    await first.stop();
    t.is(
      readFileSync(join(vfsRoot(dataDir, PROBE), 'data', 'runs.txt'), 'utf8'),
      '42',
      'written back to the host on stop',
    );
    const second = await probeRuntime(t, 'vfs', { dataDir });
    await waitFor(() => selfValue(second.runtime, 'test.command.runs') === 43, 'the next start sees it');
    const status: PluginView = await pluginStatus(second.runtime, PROBE);
    t.is(status.state, 'running');
  },
);

test.serial(
  'a replaced .wasm reloads a command plugin; the new program starts after the old one wrote its VFS back',
  async (t) => {
    const plugins = await pluginFolder([{ from: FIXTURES, name: 'command-probe' }]);
    const rt = await probeRuntime(t, 'vfs', { watch: true, plugins });
    await waitFor(() => selfValue(rt.runtime, 'test.command.runs') === 1, 'first run');
    const wasm = join(plugins, 'command-probe', 'plugin.wasm');
    copyFileSync(wasm, `${wasm}.new`);
    renameSync(`${wasm}.new`, wasm);
    await waitFor(
      () => selfValue(rt.runtime, 'test.command.runs') === 2,
      'the reloaded program to count the previous run',
    );
    const status = await pluginStatus(rt.runtime, PROBE);
    t.is(status.state, 'running');
    t.is(status.crashes, 0);
    t.true((status.events ?? []).some((e) => e.event === 'reloaded'));
  },
);

test.serial('a command manifest is checked: kind, stdin, and stdin only for commands', (t) => {
  const dir = tempDir(t, 'ske-command-manifest-');
  const write = (name: string, edge: unknown): void => {
    mkdirSync(join(dir, name));
    writeFileSync(
      join(dir, name, 'package.json'),
      JSON.stringify({ name, wasmManifest: 'plugin.wasm', signalkEdge: edge }),
    );
  };
  write('a-ok', { kind: 'command', stdin: { serial: 'nmea1', deltas: true } });
  write('b-kind', { kind: 'daemon' });
  write('c-serial', { kind: 'command', stdin: { serial: 5 } });
  write('d-library', { stdin: { deltas: true } });
  const found = discoverPlugins([dir]);
  t.like(found[0], { ok: true, manifest: { id: 'a-ok', command: { serial: 'nmea1', deltas: true } } });
  t.like(found[1], { ok: false, broken: { error: 'signalkEdge.kind must be "library" or "command", got "daemon"' } });
  t.like(found[2], {
    ok: false,
    broken: { error: 'signalkEdge.stdin.serial must name a serial device or board alias' },
  });
  t.like(found[3], { ok: false, broken: { error: 'signalkEdge.stdin needs "kind": "command"' } });
});
