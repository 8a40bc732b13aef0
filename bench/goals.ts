// The data-pipeline goals (issue #14), each printed with its figure, its anchor and pass/fail.
// Figures are CPU seconds per input as Linux accounts for the process (user + system, all
// threads), measured in one run; with `--vs-signalk-server`, signalk-server 2.32 runs the same
// inputs side by side in the same run (see anchor.ts), so both sides share whatever load the
// machine carries. Child-process runs subtract a baseline run of the same configuration with an
// empty input, so start-up (module loading, plugin compilation) is not counted as throughput.

import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_LOG, PROJECT_ROOT } from '../runtime/config/settings.js';
import { buildAll } from '../scripts/build-examples.js';
import { busyCandump, runSoak } from '../test/soak/soak.js';
import { findAnchor, startAnchor, type Anchor, type AnchorInput, type AnchorPlugin } from './anchor.js';
import { installedStart, type InstalledStart } from './as-installed.js';
import { movingBusCandump } from './moving-bus.js';
import { cpuSeconds, rssMB, startChild, untilQuiet, untilServing, type Child } from './proc.js';

const TAKE_ALL: AnchorPlugin = {
  dir: join(PROJECT_ROOT, 'test', 'fixtures', 'plugins', 'take-all'),
  packageName: '@signalk-edge-fixture/take-all',
};
/** plaka.log repeated 8 times: 928k lines, the issue's input. */
const NMEA_REPEAT = 8;
const N2K_FRAMES = 400_000;
const BUS_FRAMES_PER_SECOND = 2000;

interface Goal {
  name: string;
  figure: string;
  anchor: string;
  /** undefined: not measured in this run (says why in `figure`). */
  pass: boolean | undefined;
  /** A figure printed beside the goals for comparison, not a goal (not counted in the closing line). */
  printed?: boolean;
}

export interface GoalOptions {
  vsSignalkServer: boolean;
  /** Length of the soak-load runs (the full soak is `npm run soak`, 10 minutes). */
  soakSeconds: number;
  /** Goal groups to run (pipeline, plugin, idle, n2k, bus, load); all when empty. */
  only: string[];
  log(line: string): void;
}

export const GOAL_GROUPS = ['pipeline', 'plugin', 'idle', 'n2k', 'bus', 'load'];

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

const k = (n: number): string => `${(n / 1000).toFixed(1)}k`;
const pct = (share: number, digits = 2): string => `${(share * 100).toFixed(digits)} % of a core`;

/** The NMEA 0183 input: signalk-server's plaka.log ×8 when the anchor is at hand, else the demo passage repeated to as many lines. */
function nmeaInput(dir: string, anchor: Anchor | undefined): { file: string; lines: number; what: string } {
  const plaka = anchor && join(anchor.serverDir, 'samples', 'plaka.log');
  const source = plaka && existsSync(plaka) ? plaka : DEMO_LOG;
  const text = readFileSync(source, 'latin1').replace(/\r?\n?$/, '\n');
  const once = text.split('\n').length - 1;
  const times = source === plaka ? NMEA_REPEAT : Math.ceil((116_000 * NMEA_REPEAT) / once);
  const file = join(dir, 'input.nmea');
  writeFileSync(file, text.repeat(times));
  return {
    file,
    lines: once * times,
    what: `${source === plaka ? 'signalk-server samples/plaka.log' : 'examples/data/demo-passage.nmea'} ×${times}`,
  };
}

/** How the installed service starts node (bench/as-installed.ts), read once. */
let installed: InstalledStart | undefined;
const asInstalled = (): InstalledStart => (installed ??= installedStart());

/**
 * Library Parser.parse alone over the file's lines, in a child process: lines per CPU second. With the
 * runtime's Node flags and environment, so the ratio compares the code, not two heap configurations.
 */
async function parserRate(file: string): Promise<number> {
  const child = startChild(
    process.execPath,
    [...asInstalled().nodeFlags, join(PROJECT_ROOT, 'dist', 'bench', 'parser-child.js'), file],
    { env: { ...process.env, ...asInstalled().env } },
  );
  const code = await new Promise<number | null>((r) => child.proc.once('exit', r));
  const out = child.output();
  const parsed = /\{"rate":[^}]*\}/.exec(out);
  if (code !== 0 || !parsed) throw new Error(`parser child failed (${code}): ${out.slice(-1000)}`);
  return (JSON.parse(parsed[0]) as { rate: number }).rate;
}

interface EdgeRun {
  sources?: unknown[];
  plugin?: AnchorPlugin;
}

/** A `signalk-edge run` child started as the installed service starts it (see as-installed.ts). */
async function startEdge(dir: string, run: EdgeRun): Promise<{ child: Child; base: string }> {
  const port = await freePort();
  mkdirSync(dir, { recursive: true });
  const plugins = join(dir, 'plugins');
  if (run.plugin)
    cpSync(run.plugin.dir, join(plugins, 'plugin'), { recursive: true, filter: (src) => !src.endsWith('assembly') });
  const settings = {
    port,
    host: '127.0.0.1',
    dataDir: join(dir, 'data'),
    selfUrn: 'urn:mrn:imo:mmsi:230000099',
    sources: run.sources ?? [],
    plugins: { dirs: run.plugin ? [plugins] : [], watch: false },
  };
  writeFileSync(join(dir, 'settings.json'), JSON.stringify(settings, null, 2));
  const child = startChild(
    process.execPath,
    [
      ...asInstalled().nodeFlags,
      join(PROJECT_ROOT, 'dist', 'runtime', 'cli', 'main.js'),
      'run',
      '--settings',
      join(dir, 'settings.json'),
    ],
    {
      env: { ...process.env, ...asInstalled().env, SIGNALK_EDGE_LOG: 'warn' },
    },
  );
  const base = `http://127.0.0.1:${port}`;
  await untilServing(child, `${base}/signalk`);
  return { child, base };
}

/** CPU seconds a child spent until its input was processed, and its RSS then. */
async function quietCost(child: Child): Promise<{ cpu: number; rss: number }> {
  const cpu = await untilQuiet(child.pid, { minMs: 2000 });
  return { cpu, rss: rssMB(child.pid) };
}

type Runner = (
  input: { file: string; kind: AnchorInput['kind'] } | undefined,
  plugin?: AnchorPlugin,
) => Promise<{ cpu: number; rss: number; check: string }>;

function edgeRunner(root: string): Runner {
  let n = 0;
  return async (input, plugin) => {
    const dir = join(root, `edge-${n++}`);
    const sources =
      input === undefined
        ? []
        : input.kind === 'nmea0183'
          ? [{ id: 'replay', type: 'replay', file: input.file, rate: 'fast', linesPerSecond: 1, loop: false }]
          : [
              {
                id: 'n2k',
                type: 'can',
                interface: 'can0',
                driver: 'candump',
                file: input.file,
                rate: 'fast',
                loop: false,
              },
            ];
    const { child, base } = await startEdge(dir, { sources, plugin });
    try {
      const cost = await quietCost(child);
      const status = (await (await fetch(`${base}/edge/v1/status`)).json()) as {
        sources: { lines: number; deltas: number }[];
      };
      const plugins = plugin
        ? ((await (await fetch(`${base}/plugins`)).json()) as { deltas?: { received: number } }[])
        : [];
      const s = status.sources[0];
      const check = s
        ? `${s.lines} in, ${s.deltas} deltas${plugin ? `, plugin took ${plugins[0]?.deltas?.received ?? '?'}` : ''}`
        : 'no input';
      return { ...cost, check };
    } finally {
      await child.stop();
    }
  };
}

function anchorRunner(anchor: Anchor, root: string): Runner {
  let n = 0;
  return async (input, plugin) => {
    const dir = join(root, `sk-${n++}`);
    const port = await freePort();
    const child = await startAnchor(
      anchor,
      dir,
      port,
      input && (input.kind === 'nmea0183' ? { kind: 'nmea0183', file: input.file } : { kind: 'n2k', file: input.file }),
      plugin,
    );
    try {
      const cost = await quietCost(child);
      // What reached the model, so a stalled or misconfigured replay is visible in the output.
      const self = await (await fetch(`http://127.0.0.1:${port}/signalk/v1/api/vessels/self`)).json().catch(() => ({}));
      const plugins = plugin
        ? ((await (await fetch(`http://127.0.0.1:${port}/skServer/plugins`)).json().catch(() => [])) as {
            id: string;
            state?: string;
          }[])
        : [];
      const pluginStatus = plugins.find((p) => p.id === plugin?.packageName.replace(/[@/]/g, '_'));
      // signalk-server 2.32 counts nothing per plugin and never calls `poll`: its state shows the plugin ran.
      const check = `${Object.keys(self as object).length} self keys${plugin ? `, plugin ${pluginStatus?.state ?? 'not loaded'}` : ''}`;
      return { ...cost, check };
    } finally {
      await child.stop();
    }
  };
}

/** Lines (frames) per CPU second of a run against the baseline (same configuration, no input). */
async function throughput(
  run: Runner,
  input: { file: string; kind: AnchorInput['kind'] },
  count: number,
  plugin?: AnchorPlugin,
  beside?: () => Promise<void>,
): Promise<{ rate: number; rss: number; check: string }> {
  const base = await run(undefined, plugin);
  const [full] = await Promise.all([run(input, plugin), beside?.()]);
  return { rate: count / Math.max(full.cpu - base.cpu, 1e-3), rss: full.rss, check: full.check };
}

/**
 * Our run and the anchor's at the same time (two cores: one each, roughly), so both carry the same
 * load from whatever else runs on the machine; measured one after the other, the anchor's figure
 * moved between 53k and 88k lines/CPU-s from run to run here.
 */
async function sideBySide<T>(
  ours: () => Promise<T>,
  anchor: (() => Promise<T>) | undefined,
): Promise<[T, T | undefined]> {
  return Promise.all([ours(), anchor?.()]);
}

/** NMEA 2000 frames/CPU-s over all of a candump, signalk-edge and (when run) signalk-server side by side. */
async function n2kSideBySide(
  edge: Runner,
  sk: Runner | undefined,
  file: string,
  frames: number,
): Promise<{ figure: string; anchor: string; ratio: number | undefined }> {
  const [ours, theirs] = await sideBySide(
    () => throughput(edge, { file, kind: 'n2k' }, frames),
    sk && (() => throughput(sk, { file, kind: 'n2k' }, frames)),
  );
  const ratio = theirs && ours.rate / theirs.rate;
  return {
    figure: `${k(ours.rate)} frames/CPU-s over all ${frames.toLocaleString('en-US')} frames (${ours.check})${ratio === undefined ? '' : ` = ${ratio.toFixed(1)}×`}`,
    anchor: theirs
      ? `signalk-server ${k(theirs.rate)} frames/CPU-s (filestream → canboatjs → n2k-signalk; ${theirs.check})`
      : 'no anchor run',
    ratio,
  };
}

/** The share of a core a runtime replaying `file` in real time takes over `seconds`, from 5 s after start. */
async function realTimeShare(dir: string, file: string, seconds: number): Promise<number> {
  const { child } = await startEdge(dir, {
    sources: [{ id: 'n2k', type: 'can', interface: 'can0', driver: 'candump', file, rate: 'realtime', loop: false }],
  });
  try {
    await new Promise((r) => setTimeout(r, 5000));
    const c0 = cpuSeconds(child.pid);
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    return (cpuSeconds(child.pid) - c0) / ((Date.now() - t0) / 1000);
  } finally {
    await child.stop();
  }
}

const label = (g: Goal): string => (g.printed ? 'info' : g.pass === undefined ? 'n/a ' : g.pass ? 'PASS' : 'FAIL');

export async function benchGoals(opts: GoalOptions): Promise<string[]> {
  await buildAll(() => undefined);
  const root = mkdtempSync(join(tmpdir(), 'ske-goals-'));
  const goals: Goal[] = [];
  const notes: string[] = [];
  const add = (g: Goal) => {
    goals.push(g);
    opts.log(`  ${label(g)}  ${g.name}: ${g.figure}${g.anchor ? `  [${g.anchor}]` : ''}`);
  };
  const want = (group: string) => opts.only.length === 0 || opts.only.includes(group);
  if (opts.only.length > 0) notes.push(`goal groups run: ${opts.only.join(', ')} (of ${GOAL_GROUPS.join(', ')})`);
  try {
    let anchor: Anchor | undefined;
    if (opts.vsSignalkServer) {
      anchor = findAnchor(opts.log);
      notes.push(`anchor: signalk-server ${anchor.version} at ${anchor.serverDir}`);
    } else notes.push('anchor: not run (pass --vs-signalk-server to run signalk-server 2.32 side by side)');
    notes.push(asInstalled().what);
    const edge = edgeRunner(root);
    const sk = anchor ? anchorRunner(anchor, root) : undefined;
    const nmea = nmeaInput(root, anchor);
    notes.push(`NMEA 0183 input: ${nmea.what} = ${nmea.lines.toLocaleString('en-US')} lines`);

    // 1. Pipeline without plugins against the parser alone.
    // The parser runs beside the pipeline's measured run, so both carry the same load.
    if (want('pipeline')) {
      let parser = NaN;
      const bare = await throughput(edge, { file: nmea.file, kind: 'nmea0183' }, nmea.lines, undefined, async () => {
        parser = await parserRate(nmea.file);
      });
      add({
        name: 'pipeline without plugins ≥ 0.6 of the parser alone',
        figure: `${k(bare.rate)} lines/CPU-s (${bare.check}) = ${(bare.rate / parser).toFixed(2)} of Parser.parse`,
        anchor: `Parser.parse alone ${k(parser)} lines/CPU-s, a child process run beside it`,
        pass: bare.rate / parser >= 0.6,
      });
    }

    // 2. One plugin taking every delta, against signalk-server.
    if (want('plugin')) {
      const [withPlugin, skPlugin] = await sideBySide(
        () => throughput(edge, { file: nmea.file, kind: 'nmea0183' }, nmea.lines, TAKE_ALL),
        sk && (() => throughput(sk, { file: nmea.file, kind: 'nmea0183' }, nmea.lines, TAKE_ALL)),
      );
      add({
        name: 'one AssemblyScript plugin taking every delta: ≥ 5× signalk-server lines/CPU-s',
        figure: `${k(withPlugin.rate)} lines/CPU-s (${withPlugin.check})${skPlugin ? ` = ${(withPlugin.rate / skPlugin.rate).toFixed(1)}×` : ''}`,
        anchor: skPlugin ? `signalk-server ${k(skPlugin.rate)} lines/CPU-s (${skPlugin.check})` : 'no anchor run',
        pass: skPlugin ? withPlugin.rate / skPlugin.rate >= 5 : undefined,
      });

      // 3. Memory.
      add({
        name: "RSS after that run ≤ 1/3 of signalk-server's",
        figure: `${withPlugin.rss.toFixed(0)} MB${skPlugin ? ` = ${(withPlugin.rss / skPlugin.rss).toFixed(2)} of it` : ''}, started as installed`,
        anchor: skPlugin ? `signalk-server ${skPlugin.rss.toFixed(0)} MB` : 'no anchor run',
        pass: skPlugin ? withPlugin.rss <= skPlugin.rss / 3 : undefined,
      });
    }
    if (want('idle')) {
      const { child } = await startEdge(join(root, 'idle'), {});
      try {
        await new Promise((r) => setTimeout(r, 5000));
        const early = rssMB(child.pid);
        // 4. Idle CPU, nothing configured, once start-up has settled: V8 collects start-up's garbage
        // in a few bursts up to about 20 s after start (measured with strace: madvise/munmap only).
        await new Promise((r) => setTimeout(r, 35_000));
        const c0 = cpuSeconds(child.pid);
        const t0 = Date.now();
        await new Promise((r) => setTimeout(r, 60_000));
        const share = (cpuSeconds(child.pid) - c0) / ((Date.now() - t0) / 1000);
        const rss = rssMB(child.pid);
        add({
          name: 'bare runtime (nothing configured) ≤ 60 MB RSS',
          figure: `${rss.toFixed(1)} MB after 100 s idle (${early.toFixed(1)} MB 5 s after start), started as installed`,
          anchor: '',
          pass: rss <= 60,
        });
        add({
          name: 'idle CPU, nothing configured < 0.1 % of a core',
          figure: `${pct(share, 3)} over 60 s from 40 s after start (/proc ticks are 10 ms: 0.017 % resolution)`,
          anchor: '',
          pass: share < 0.001,
        });
      } finally {
        await child.stop();
      }
    }

    // 5. NMEA 2000: the soak's busy-bus candump, fast, from the first frame.
    if (want('n2k')) {
      const candump = join(root, 'busy.candump');
      const frames = busyCandump(candump, N2K_FRAMES / BUS_FRAMES_PER_SECOND);
      const recorded = await n2kSideBySide(edge, sk, candump, frames);
      add({
        name: 'NMEA 2000 ≥ 3× signalk-server frames/CPU-s, from the first frame',
        figure: recorded.figure,
        anchor: recorded.anchor,
        pass: recorded.ratio === undefined ? undefined : recorded.ratio >= 3,
      });
      // The recording repeats its messages byte for byte, which the decode memo answers; the same bus
      // with its readings moving on every message (bench/moving-bus.ts), as a boat under way sends them.
      const moving = join(root, 'moving.candump');
      const movingFrames = movingBusCandump(moving, N2K_FRAMES / BUS_FRAMES_PER_SECOND);
      const movingBus = await n2kSideBySide(edge, sk, moving, movingFrames);
      add({
        name: 'the same bus with its readings moving on every message',
        figure: movingBus.figure,
        anchor: movingBus.anchor,
        pass: undefined,
        printed: true,
      });
    }
    if (want('bus')) {
      const seconds = 30;
      const file = join(root, 'realtime.candump');
      busyCandump(file, seconds + 10);
      const movingFile = join(root, 'realtime-moving.candump');
      movingBusCandump(movingFile, seconds + 10);
      // Both at once: at 2,000 frames/s neither takes much of a core.
      const [share, movingShare] = await Promise.all([
        realTimeShare(join(root, 'bus'), file, seconds),
        realTimeShare(join(root, 'bus-moving'), movingFile, seconds),
      ]);
      add({
        name: `full NMEA 2000 bus (${BUS_FRAMES_PER_SECOND} frames/s, real time) ≤ 3 % of a core`,
        figure: `${pct(share)} over ${seconds} s`,
        anchor: '',
        pass: share <= 0.03,
      });
      add({
        name: 'the same bus with its readings moving on every message, real time',
        figure: `${pct(movingShare)} over ${seconds} s`,
        anchor: '',
        pass: undefined,
        printed: true,
      });
    }

    // 6. The soak's load: full bus + 4 serial ports at 38,400 baud + 10 plugins + 5 clients + MQTT.
    for (const takeAll of want('load') ? [false, true] : []) {
      const report = await runSoak({ seconds: opts.soakSeconds, pluginsTakeAll: takeAll, log: () => undefined });
      const what = takeAll
        ? "the soak's load with the plugins taking every delta and the clients subscribed to everything"
        : 'bus + 4 serial ports + 10 plugins and 5 clients subscribing to what they use < 10 % of a core';
      add({
        name: what,
        figure: `${pct(report.cpuShare, 1)} over ${opts.soakSeconds} s; RSS ${report.figures['rss.afterWarmUpMB']} → ${report.figures['rss.endMB']} MB (${(report.rssGrowth * 100).toFixed(1)} %)${report.ok ? '' : `; soak failures: ${report.failures.join('; ')}`}`,
        anchor: '',
        pass: takeAll ? undefined : report.cpuShare < 0.1,
        printed: takeAll,
      });
    }
    add({
      name: "the 10-minute soak's RSS growth < 3 %",
      figure: `not run here: \`npm run soak\` (10 minutes) prints it; the ${opts.soakSeconds} s runs above print theirs`,
      anchor: '',
      pass: undefined,
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const counted = goals.filter((g) => !g.printed);
  const passed = counted.filter((g) => g.pass === true).length;
  const failed = counted.filter((g) => g.pass === false);
  const open = counted.filter((g) => g.pass === undefined);
  return [
    ...notes,
    'CPU figures are CPU seconds of each process (user + system) in this one run; on a shared machine both sides carry the same load.',
    "'info' lines are figures printed beside the goals for comparison, not goals.",
    ...goals.map((g) => `${label(g)}  ${g.name}: ${g.figure}${g.anchor ? `  [anchor: ${g.anchor}]` : ''}`),
    `Closing note: ${passed} of ${counted.length} goals pass; failed: ${failed.map((g) => g.name).join('; ') || 'none'}; not measured in this run: ${open.map((g) => g.name).join('; ') || 'none'}.`,
  ];
}
