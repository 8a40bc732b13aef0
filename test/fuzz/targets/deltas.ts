// Target 3: what a plugin hands the host, as bytes in its linear memory → the real `env` host
// functions (sk_handle_message, sk_publish_notification, sk_register_put_handler) → host services
// (JSON parse, parseDelta, tagged with the plugin) → the emitted-delta publisher → bus → model, then
// the readers: model.get/valueAt, sk_get_path into plugin memory, the stream's JSON encoding, the
// REST API of a real server and the snapshot of current values. Inputs: valid plugin deltas
// mutated structurally (wrong types, prototype keys, nesting thousands deep, NaN-ish strings,
// long paths and contexts, huge arrays) and as text (cut, flipped).
// Properties: nothing throws; an accepted delta reaches the model, every subscriber can encode
// it, the plugin's own tag replaces any source it claimed, and readers answer; the REST API
// answers 200/404 with JSON; nothing logs an error.

import { createLogger } from '../../../core/log.js';
import { createEnvImports } from '../../../runtime/abi/env.js';
import { GuestMemory } from '../../../runtime/abi/memory.js';
import type { BusDelta } from '../../../runtime/bus/bus.js';
import type { Delta } from '../../../core/delta.js';
import type { SignalKModel } from '../../../runtime/model/model.js';
import { FLAG_NAMES } from '../../../runtime/capabilities/grant.js';
import type { Flags } from '../../../runtime/capabilities/policy.js';
import { currentValues, valuesToDeltas } from '../../../runtime/api/snapshot.js';
import { createHostServices, type HostTarget } from '../../../runtime/plugins/host-services.js';
import { PluginQuota } from '../../../runtime/plugins/quotas.js';
import { DEFAULT_LIMITS } from '../../../runtime/security/limits.js';
import { EmittedDeltaPublisher, newLineage } from '../../../runtime/plugins/publisher.js';
import { startBareApi, type BareApi } from '../../helpers/runtime.js';
import { tempDir } from '../../helpers/temp.js';
import { Finding, expect, normalize, type FuzzTarget, type TargetModule } from '../harness.js';
import { capText, concat, damageText, mutateJson, mutateString, randomString, toJsonText, utf8 } from '../mutate.js';
import type { Rng } from '../rng.js';

export const PLUGIN_ID = 'fuzz-plugin';

/** What plugins emit, as the upstream SDKs write it. */
const BASE_DELTAS: unknown[] = [
  { updates: [{ values: [{ path: 'environment.wind.speedTrue', value: 5.2 }] }] },
  {
    context: 'vessels.self',
    updates: [
      {
        timestamp: '2024-06-15T10:15:00.000Z',
        values: [{ path: 'navigation.position', value: { latitude: 50.77, longitude: -1.3 } }],
      },
    ],
  },
  { updates: [{ values: [{ path: '', value: { name: 'Fuzz', mmsi: '230000001' } }] }] },
  {
    updates: [
      {
        meta: [
          {
            path: 'environment.wind.speedTrue',
            value: { units: 'm/s', displayName: 'TWS', zones: [{ lower: 20, state: 'warn' }] },
          },
        ],
      },
    ],
  },
  {
    context: 'vessels.urn:mrn:imo:mmsi:244000002',
    updates: [
      {
        source: { label: 'other', type: 'NMEA2000', src: '3', pgn: 129026 },
        $source: 'other.3',
        values: [
          { path: 'navigation.speedOverGround', value: 3.1 },
          { path: 'navigation.courseOverGroundTrue', value: 1.2 },
        ],
      },
    ],
  },
  {
    updates: [
      {
        values: [
          {
            path: 'notifications.anchor',
            value: { state: 'alarm', method: ['visual', 'sound'], message: 'Anchor dragging' },
          },
        ],
      },
    ],
  },
  {
    updates: [
      {
        values: [
          { path: 'electrical.batteries.1.voltage', value: 12.6 },
          { path: 'electrical.batteries.1.current', value: -3.2 },
        ],
      },
      { values: [{ path: 'tanks.fuel.0.currentLevel', value: 0.5 }] },
    ],
  },
  {
    context: 'atons.urn:mrn:imo:mmsi:992359598',
    updates: [
      {
        values: [
          { path: 'atonType', value: { id: 1, name: 'Beacon' } },
          { path: 'navigation.position', value: { latitude: 60, longitude: 24 } },
        ],
      },
    ],
  },
  {
    updates: [
      {
        values: [
          { path: 'steering.autopilot.state', value: 'auto' },
          { path: 'design.draft', value: { maximum: 2.1 } },
          { path: 'sensors.flag', value: true },
          { path: 'x.nothing', value: null },
        ],
      },
    ],
  },
];

const WORDS = [
  'context',
  'updates',
  'values',
  'meta',
  'path',
  'value',
  'source',
  '$source',
  'timestamp',
  'label',
  'type',
  'src',
  'pgn',
  'talker',
  'sentence',
  'units',
  'zones',
  'state',
  'message',
  'latitude',
  'longitude',
  'navigation',
  'environment',
  'vessels',
  'self',
  'notifications',
  'position',
  'speedOverGround',
  'vessels.self',
  'sources',
  'version',
];

/** Larger deltas only measure JSON.parse (the host takes up to 4 MiB, bounded by the call guard). */
const MAX_TEXT = 1024 * 1024;
const OP_DELTA_V1 = 0;
const OP_DELTA_V2 = 1;
const OP_NOTIFY = 2;
const OP_PUT = 3;
/** Where the plugin's bytes go in its memory, and where sk_get_path writes its answer. */
const IN_PTR = 1024;
const OUT_PTR = 64;
const OUT_MAX = 960;

function generate(rng: Rng): Uint8Array {
  const roll = rng.int(100);
  if (roll < 8) {
    // notification: path NUL value
    const value = mutateJson(
      rng,
      { state: rng.pick(['alarm', 'warn', 'normal', 'nope']), method: ['visual'], message: 'x' },
      WORDS,
      2,
    );
    return concat(
      Uint8Array.of(OP_NOTIFY),
      utf8(rng.chance(0.5) ? mutateString(rng, 'anchor.drag', WORDS) : randomString(rng, WORDS)),
      Uint8Array.of(0),
      utf8(toJsonText(value)),
    );
  }
  if (roll < 14) {
    const context = rng.chance(0.6) ? 'vessels.self' : randomString(rng, WORDS);
    return concat(
      Uint8Array.of(OP_PUT),
      utf8(context),
      Uint8Array.of(0),
      utf8(rng.chance(0.5) ? mutateString(rng, 'steering.autopilot.target', WORDS) : randomString(rng, WORDS)),
    );
  }
  let tree = rng.pick(BASE_DELTAS);
  const rounds = rng.int(3);
  for (let i = 0; i < rounds; i++) tree = mutateJson(rng, tree, WORDS);
  let text = capText(toJsonText(tree), MAX_TEXT);
  if (rng.chance(0.1)) text = damageText(rng, text);
  return concat(Uint8Array.of(rng.chance(0.8) ? OP_DELTA_V1 : OP_DELTA_V2), utf8(text));
}

/** Splits `a NUL b` (the two strings of a notification or PUT registration). */
function pair(payload: Uint8Array): [Uint8Array, Uint8Array] {
  const nul = payload.indexOf(0);
  return nul < 0 ? [payload, new Uint8Array(0)] : [payload.subarray(0, nul), payload.subarray(nul + 1)];
}

/** A plugin (granted dataRead, dataWrite, putHandlers) as the host services see it; what it queues, has refused and registers is kept. */
export function recordingTarget(
  model: () => SignalKModel,
  configFile: string,
): { target: HostTarget; queued: Delta[]; rejections: string[]; putHandlers: string[] } {
  const queued: Delta[] = [];
  const rejections: string[] = [];
  const putHandlers: string[] = [];
  const flags = Object.fromEntries(
    FLAG_NAMES.map((n) => [n, n === 'dataRead' || n === 'dataWrite' || n === 'putHandlers']),
  ) as Flags;
  const target: HostTarget = {
    id: PLUGIN_ID,
    log: createLogger(`plugin ${PLUGIN_ID}`),
    get model() {
      return model();
    },
    configFile,
    capabilities: () => flags,
    debugEnabled: () => false,
    allowsNet: () => false,
    noteStatus: () => undefined,
    noteError: () => undefined,
    queueDelta: (delta) => queued.push(delta),
    noteRejected: (reason) => rejections.push(reason),
    addPutHandler: (context, path) => putHandlers.push(`${context}/${path}`) > 0,
    addResourceProvider: () => false,
    addWeatherProvider: () => false,
    addRadarProvider: () => false,
    emitBinary: () => false,
    // No quota bites here: the fuzzer checks parsing and the model, not rates.
    quota: new PluginQuota(
      {
        ...DEFAULT_LIMITS.plugins,
        publishBytesPerSecond: 1e15,
        maxValueBytes: 1e15,
        maxPaths: 1e15,
        storedValueBytes: 1e15,
        logLinesPerSecond: 1e15,
        configWritesPerSecond: 1e15,
      },
      DEFAULT_LIMITS.config,
    ),
  };
  return { target, queued, rejections, putHandlers };
}

/** The REST URL path of a value; lone surrogates (not encodable in a URL) become U+FFFD. */
function restPath(context: string, path: string): string {
  return [...context.split('.'), ...path.split('.')]
    .map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '\ufffd')))
    .join('/');
}

export const target: TargetModule = {
  name: 'deltas',
  covers:
    'plugin bytes → env sk_handle_message/sk_publish_notification/sk_register_put_handler → host services → bus → model → readers, REST, snapshot',
  async create(): Promise<FuzzTarget> {
    const cleanups: (() => void)[] = [];
    const dir = tempDir({ teardown: (fn) => cleanups.push(fn) }, 'ske-fuzz-deltas-');
    let api: BareApi = await startBareApi();
    const host = recordingTarget(() => api.model, `${dir}/config.json`);
    const queued = host.queued;
    const memory = new WebAssembly.Memory({ initial: 64 });
    const guest = new GuestMemory();
    guest.attach(memory);
    const env = createEnvImports(createHostServices(host.target), guest).functions;
    const call = (name: string, ...args: number[]): number => Number(env[name]!(...args) ?? 0);

    // What a stream client or a plugin subscriber does with each delta: encode it.
    let encodeFailure: string | undefined;
    const watch = (bus: BareApi['bus']): void => {
      bus.subscribe((msg: BusDelta) => {
        try {
          JSON.parse(msg.json);
        } catch (err) {
          encodeFailure = (err as Error).message;
        }
      });
    };
    watch(api.bus);
    let publisher = new EmittedDeltaPublisher(api.bus);
    let inputs = 0;

    /** Writes bytes into plugin memory; returns (ptr, len) as the plugin would pass them. */
    const place = (bytes: Uint8Array): [number, number] => {
      const room = memory.buffer.byteLength - IN_PTR;
      // Too large for the memory: the plugin's (ptr, len) then points past its end, as a buggy one would.
      if (bytes.length > room) return [IN_PTR, bytes.length];
      new Uint8Array(memory.buffer, IN_PTR, bytes.length).set(bytes);
      return [IN_PTR, bytes.length];
    };

    /** The REST API of the real server answers with JSON, 200 or 404. */
    const checkRest = async (paths: string[]): Promise<void> => {
      for (const p of ['', 'vessels/self', ...paths]) {
        const res = await fetch(`${api.url}/signalk/v1/api/${p}`);
        const body = await res.text();
        expect(
          res.status === 200 || res.status === 404,
          () => `GET /signalk/v1/api/${p.slice(0, 100)} answered ${res.status}: ${body.slice(0, 200)}`,
        );
        try {
          JSON.parse(body);
        } catch {
          throw new Finding(
            'property',
            `GET /signalk/v1/api/${p.slice(0, 100)} answered text that is not JSON: ${body.slice(0, 200)}`,
          );
        }
      }
      JSON.stringify(valuesToDeltas(currentValues(api.model, () => true)));
    };

    return {
      generate,
      async run(input) {
        queued.length = 0;
        host.rejections.length = 0;
        host.putHandlers.length = 0;
        encodeFailure = undefined;
        const op = input[0] ?? OP_DELTA_V1;
        const payload = input.subarray(1);
        const labels: string[] = [];
        if (op === OP_NOTIFY || op === OP_PUT) {
          const [a, b] = pair(payload);
          const [ptr] = place(concat(a, b));
          const fn = op === OP_NOTIFY ? 'sk_publish_notification' : 'sk_register_put_handler';
          const rc = call(fn, ptr, a.length, ptr + a.length, b.length);
          labels.push(`${fn}:${rc}`);
        } else {
          const [ptr, len] = place(payload);
          call('sk_handle_message', ptr, len, op === OP_DELTA_V2 ? 2 : 1);
          const refused = host.rejections[0];
          labels.push(
            refused === undefined
              ? queued.length > 0
                ? 'accepted'
                : 'ignored'
              : `refused:${normalize(refused).slice(0, 60)}`,
          );
        }
        for (const delta of queued) {
          for (const u of delta.updates) {
            expect(
              u.$source === PLUGIN_ID && u.source?.label === PLUGIN_ID,
              () =>
                `an emitted update kept a source other than the plugin: ${JSON.stringify(u.source)?.slice(0, 100)} / ${String(u.$source).slice(0, 100)}`,
            );
          }
        }
        const before = api.bus.stats.accepted;
        publisher.publish(
          queued.map((delta) => ({ delta, lineage: newLineage(1) })),
          `plugin:${PLUGIN_ID}`,
        );
        expect(
          api.bus.stats.accepted - before === queued.length,
          () => `the bus refused a delta the host services accepted: ${api.bus.stats.lastRejection}`,
        );
        if (encodeFailure !== undefined)
          throw new Finding('property', `an accepted delta cannot be encoded for subscribers: ${encodeFailure}`);
        // Readers: what a plugin or a client reads back.
        const paths: string[] = [];
        for (const delta of queued) {
          const context = api.model.resolveContext(delta.context);
          for (const u of delta.updates) {
            for (const pv of u.values ?? []) {
              api.model.valueAt(context, pv.path);
              api.model.get([...context.split('.'), ...pv.path.split('.')]);
              const [ptr, len] = place(utf8(`${context}.${pv.path}`));
              call('sk_get_path', ptr, len, OUT_PTR, OUT_MAX);
              if (paths.length < 3) paths.push(restPath(context, pv.path));
            }
          }
        }
        inputs++;
        if (inputs % 250 === 0) await checkRest(paths);
        if (inputs % 5000 === 0) {
          // A fresh model now and then keeps the run's speed (the model only grows).
          await checkRest([]);
          await api.api.close();
          api = await startBareApi();
          watch(api.bus);
          publisher = new EmittedDeltaPublisher(api.bus);
        }
        return labels;
      },
      async close() {
        await checkRest([]);
        await api.api.close();
        for (const c of cleanups) c();
      },
    };
  },
};
